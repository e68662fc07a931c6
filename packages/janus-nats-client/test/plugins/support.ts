/**
 * For the plugin helpers' tests: a real NATS, a real Janus and the real daemon in this
 * process, and the package's own JanusNats on a NATS connection, so `bed.attach(VideoRoom)`
 * is `janus.attach(VideoRoom)` as an application writes it.
 */
import { connect } from 'nats';
import { JanusNats, type PluginHelper } from '../../src/index.js';
import { eventually, startBridge, type TestBridge } from '../../../../test/support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../../../../test/support/processes.js';

/** The bridge's janus.cmdTimeout in these tests: a request Janus never answers fails with 610 after it. */
export const BRIDGE_CMD_TIMEOUT_MS = 3_000;

export interface PluginTestBed {
  readonly janusServer: JanusServer;
  readonly nats: NatsServer;
  readonly bridge: TestBridge;
  readonly janus: JanusNats;
  /** Attaches a new handle to the helper's plugin and wraps it: `janus.attach(helper)`. */
  attach<H>(helper: PluginHelper<H>): Promise<H>;
  stop(): Promise<void>;
}

const JANUS_ID = 'plugins';

/**
 * Starts NATS, Janus and the daemon for one test file; `stop` detaches the handles still followed and stops them all.
 */
export async function startPluginTestBed(): Promise<PluginTestBed> {
  const [nats, janusServer] = await Promise.all([startNats(), startJanus()]);
  const bridge = await startBridge({
    nats: { servers: [nats.url] },
    janus: { cmdTimeout: BRIDGE_CMD_TIMEOUT_MS },
    connections: [{ janus_id: JANUS_ID, janus_url: janusServer.url }],
  });
  await eventually(
    () => bridge.daemon.connectionStats(JANUS_ID)?.state === 'ready',
    10_000,
    'the bridge ready on Janus',
  );
  const nc = await connect({ servers: nats.url });
  const janus = new JanusNats(nc, JANUS_ID);
  return {
    janusServer,
    nats,
    bridge,
    janus,
    attach: (helper) => janus.attach(helper),
    async stop() {
      await Promise.allSettled(janus.handles().map((handle) => handle.detach()));
      await janus.close();
      await nc.close();
      await bridge.stop();
      await Promise.all([janusServer.stop(), nats.stop()]);
    },
  };
}

/**
 * Reads an event stream from now on, in the background, so a test can wait for the event
 * it expects without losing the ones before it.
 */
export class EventLog<E extends { readonly name: string }> {
  readonly seen: E[] = [];
  private readonly iterator: AsyncIterator<E>;
  private readonly waiters = new Set<() => void>();

  constructor(events: AsyncIterable<E>) {
    this.iterator = events[Symbol.asyncIterator]();
    // In the background; an iteration that ends in an error is an unhandled rejection, which fails the run.
    void this.read();
  }

  private async read(): Promise<void> {
    for (;;) {
      const step = await this.iterator.next();
      if (step.done) return;
      this.seen.push(step.value);
      for (const wake of this.waiters) wake();
    }
  }

  /** The first event (seen or to come) that is named `name` and passes `test`. */
  async next<N extends E['name']>(
    name: N,
    test: (event: Extract<E, { name: N }>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Extract<E, { name: N }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.seen.find(
        (event): event is Extract<E, { name: N }> => event.name === name && test(event as Extract<E, { name: N }>),
      );
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no "${name}" event within ${timeoutMs} ms; saw ${JSON.stringify(this.seen.map((event) => event.name))}`,
        );
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Stops reading (the helper's iterator ends its subscription). */
  async stop(): Promise<void> {
    await this.iterator.return?.();
  }
}

/** The rejection of `promise`, to assert on (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the request to fail, and it succeeded');
}
