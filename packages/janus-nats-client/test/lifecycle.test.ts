/**
 * Handles and faults, against a real Janus, nats-server and daemon: a frozen Janus answers
 * 610 at the call's own timeout (Janus-Timeout), a Janus restart replaces the session and
 * ends every handle, and the bridge's per-handle event subjects reach handles without telling
 * the client which mode the bridge runs in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { eventually, startBridge, type TestBridge } from '../../../test/support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../../../test/support/processes.js';
import {
  BridgeError,
  HandleEndedError,
  JanusNats,
  subscribeEvents,
  subscribeStatus,
  type HandleEvent,
  type JanusEvent,
} from '../src/index.js';

let nats: NatsServer;
let janusServer: JanusServer;
let bridge: TestBridge;
let nc: NatsConnection;
const running: Array<{ stop(): Promise<unknown> }> = [];

beforeAll(async () => {
  [nats, janusServer] = await Promise.all([startNats(), startJanus()]);
  bridge = await startBridge({
    nats: { servers: [nats.url] },
    janus: { cmdTimeout: 5000, reconnect: { minDelay: 50, maxDelay: 300 } },
    connections: [{ janus_id: 'local', janus_url: janusServer.url }],
  });
  nc = await connect({ servers: nats.url });
  await eventually(
    () => bridge.daemon.connectionStats('local')?.state === 'ready',
    10_000,
    'bridge connected to Janus',
  );
});

afterAll(async () => {
  await nc?.close();
  await bridge?.stop();
  for (const item of running.reverse()) await item.stop();
  await Promise.all([janusServer?.stop(), nats?.stop()]);
});

function collect<T>(iterable: AsyncIterable<T>): { items: T[]; done: Promise<void> } {
  const items: T[] = [];
  const done = (async () => {
    for await (const item of iterable) items.push(item);
  })();
  return { items, done };
}

describe('a frozen Janus', () => {
  // The bridge takes min(Janus-Timeout, janus.cmdTimeout = 5000 ms) as the request's deadline.
  it('answers a call with a 1 s timeout with BridgeError 610 after about 1 s, before the client gives up', async () => {
    const janus = new JanusNats(nc, 'local');
    await janus.ping();
    janusServer.pause();
    try {
      const started = performance.now();
      const error = await janus.ping({ timeout: 1000 }).catch((e: unknown) => e);
      const took = performance.now() - started;
      expect(error).toBeInstanceOf(BridgeError);
      expect(error).toMatchObject({ code: 610, name: 'timeout', retryable: true });
      expect(took).toBeGreaterThanOrEqual(950);
      expect(took).toBeLessThan(1500);
    } finally {
      janusServer.resume();
    }
    await eventually(
      async () =>
        await janus.ping().then(
          () => true,
          () => false,
        ),
      10_000,
      'Janus answers again',
    );
  });
});

describe('session-replaced', () => {
  it('Janus restarts: handles end (iterations, ended session-replaced, calls reject); new ones work', async () => {
    const janus = new JanusNats(nc, 'local');
    const status = collect(subscribeStatus(nc, { janusId: 'local' }));
    const a = await janus.attach('janus.plugin.echotest');
    const b = await janus.attach('janus.plugin.videoroom');
    const oldSession = a.sessionId;
    expect(typeof oldSession).toBe('number');
    const ofA = collect(a.events());
    const ofB = collect(b.events());

    await janusServer.kill();
    janusServer = await janusServer.restart();

    const [endA, endB] = await Promise.all([a.ended, b.ended]);
    expect(endA.reason).toBe('session-replaced');
    expect(endA.detail).toContain(String(oldSession));
    expect(endB.reason).toBe('session-replaced');
    await Promise.all([ofA.done, ofB.done]);
    const error = await a.message({ audio: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandleEndedError);
    expect((error as HandleEndedError).end.reason).toBe('session-replaced');
    expect(janus.handles()).toEqual([]);

    const replaced = status.items.find((s) => s.state === 'session-replaced');
    expect(replaced).toMatchObject({ janus_id: 'local', old_session_id: oldSession });

    await eventually(
      async () =>
        janus.ping().then(
          () => true,
          () => false,
        ),
      10_000,
      'serving again',
    );
    const fresh = await janus.attach('janus.plugin.echotest');
    expect(fresh.sessionId).not.toBe(oldSession);
    expect((await fresh.message({ audio: true })).data.result).toBe('ok');
    await fresh.detach();
  }, 30_000);
});

describe('the bridge routing events by handle (events.subjects = "handle")', () => {
  it('auto and handle mode handles get their events; flat-only ones get none; subscribeEvents sees them', async () => {
    const routed = await startBridge({
      nats: { servers: [nats.url], subjectPrefix: 'routed' },
      events: { subjects: 'handle' },
      connections: [{ janus_id: 'hm', janus_url: janusServer.url }],
    });
    running.push(routed);
    await eventually(() => routed.daemon.connectionStats('hm')?.state === 'ready', 10_000, 'routed bridge ready');
    const all = collect(subscribeEvents(nc, { prefix: 'routed', janusId: 'hm' }));
    const auto = new JanusNats(nc, 'hm', { prefix: 'routed' });
    const perHandle = new JanusNats(nc, 'hm', { prefix: 'routed', events: 'handle' });
    const flatOnly = new JanusNats(nc, 'hm', { prefix: 'routed', events: 'flat' });
    const handle = await auto.attach('janus.plugin.echotest');
    const viaAuto = collect<HandleEvent>(handle.events());
    const viaHandle = collect<HandleEvent>((await perHandle.handle(handle.id)).events());
    const viaFlat = collect<HandleEvent>((await flatOnly.handle(handle.id)).events());
    nc.publish(
      'routed.request.hm',
      JSON.stringify({ janus: 'message', handle_id: handle.id, body: { audio: true }, transaction: 'routed-1' }),
    );
    await eventually(() => viaAuto.items.length === 1 && viaHandle.items.length === 1, 5000, 'routed event');
    expect(viaAuto.items[0]).toMatchObject({ janus: 'event', transaction: 'routed-1' });
    expect(viaHandle.items[0]).toMatchObject({ janus: 'event', transaction: 'routed-1' });
    await eventually(
      () => all.items.some((e: JanusEvent) => e.headers.transaction === 'routed-1'),
      5000,
      'subscribeEvents sees it',
    );
    expect(all.items.find((e) => e.headers.transaction === 'routed-1')!.subject).toBe(
      `routed.event.hm.handle.${handle.id}`,
    );
    expect(viaFlat.items).toEqual([]);
    await handle.detach();
    await Promise.all([viaAuto.done, viaHandle.done]);
    await Promise.all([auto.close(), perHandle.close(), flatOnly.close()]);
  });
});
