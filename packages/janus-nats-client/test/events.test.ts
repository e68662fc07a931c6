/**
 * The event consumers against a real Janus, nats-server (with JetStream) and daemon with its
 * capture on: subscribeEvents (live, typed, filtered) and consumeEvents (a durable consumer
 * that resumes where it acknowledged).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { eventually, startBridge, type TestBridge } from '../../../test/support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../../../test/support/processes.js';
import { consumeEvents, JanusNats, JanusNatsError, subscribeEvents, type JanusEvent } from '../src/index.js';

let nats: NatsServer;
let janusServer: JanusServer;
let bridge: TestBridge;
let nc: NatsConnection;
const store = mkdtempSync(join(tmpdir(), 'jnc-js-'));

beforeAll(async () => {
  [nats, janusServer] = await Promise.all([startNats(undefined, ['-js', '-sd', store]), startJanus()]);
  bridge = await startBridge({
    nats: { servers: [nats.url] },
    events: { stream: { enabled: true, storage: 'memory' } },
    connections: [
      { janus_id: 'local', janus_url: janusServer.url },
      { janus_id: 'other', janus_url: janusServer.url },
    ],
  });
  nc = await connect({ servers: nats.url });
  await eventually(
    () => ['local', 'other'].every((id) => bridge.daemon.connectionStats(id)?.state === 'ready'),
    10_000,
    'bridge connected to Janus',
  );
  await eventually(
    async () =>
      await (await nc.jetstreamManager()).streams.info('JANUS_EVENTS').then(
        () => true,
        () => false,
      ),
    10_000,
    'capture stream JANUS_EVENTS exists',
  );
});

afterAll(async () => {
  await nc?.close();
  await bridge?.stop();
  await Promise.all([janusServer?.stop(), nats?.stop()]);
  rmSync(store, { recursive: true, force: true });
});

/**
 * Makes Janus send an event no request waits for:
 * a fire-and-forget echotest message, answered on the event subject.
 */
function fireAndForget(janusId: string, handleId: number, transaction: string): void {
  nc.publish(
    `janus.request.${janusId}`,
    JSON.stringify({ janus: 'message', handle_id: handleId, body: { audio: true }, transaction }),
  );
}

async function echoOn(janusId: string): Promise<number> {
  const handle = await new JanusNats(nc, janusId).attach('janus.plugin.echotest');
  return handle.id;
}

describe('subscribeEvents', () => {
  it("yields typed events of one Janus, with decoded headers; another Janus's events stay out", async () => {
    const stream = subscribeEvents(nc, { janusId: 'local' });
    expect(stream.subjects).toEqual(['janus.event.local', 'janus.event.local.>']);
    await nc.flush();
    const mine = await echoOn('local');
    const theirs = await echoOn('other');
    fireAndForget('other', theirs, 'sub-other');
    fireAndForget('local', mine, 'sub-1');
    const got: JanusEvent[] = [];
    for await (const event of stream) {
      got.push(event);
      if (event.headers.transaction === 'sub-1') break;
    }
    expect(got.every((e) => e.janusId === 'local')).toBe(true);
    const event = got.at(-1)!;
    expect(event).toMatchObject({
      janusId: 'local',
      subject: 'janus.event.local',
      body: {
        janus: 'event',
        sender: mine,
        transaction: 'sub-1',
        plugindata: { plugin: 'janus.plugin.echotest', data: { result: 'ok' } },
      },
      headers: { type: 'event', handle: mine, plugin: 'janus.plugin.echotest', transaction: 'sub-1' },
    });
    expect(event.janusUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/janus$/);
    expect(typeof event.headers.session).toBe('number');
    expect(event.headers.msgId).toMatch(/-local-/);
  });

  it('filters on the type header, across every Janus when no janus_id is given', async () => {
    const stream = subscribeEvents(nc, { type: 'detached' });
    expect(stream.subjects).toEqual(['janus.event.>']);
    await nc.flush();
    const local = await new JanusNats(nc, 'local').attach('janus.plugin.echotest');
    const other = await new JanusNats(nc, 'other').attach('janus.plugin.echotest');
    fireAndForget('local', local.id, 'not-a-detach');
    await local.detach();
    await other.detach();
    const got: JanusEvent[] = [];
    for await (const event of stream) {
      got.push(event);
      if (got.length === 2) break;
    }
    expect(got.map((e) => e.headers.type)).toEqual(['detached', 'detached']);
    expect(new Set(got.map((e) => e.janusId))).toEqual(new Set(['local', 'other']));
  });

  it('close() ends a loop from outside', async () => {
    const stream = subscribeEvents(nc, { janusId: 'local' });
    const loop = (async () => {
      for await (const _event of stream) {
        /* nothing comes */
      }
      return 'ended';
    })();
    await stream.close();
    expect(await loop).toBe('ended');
  });
});

describe('consumeEvents', () => {
  it('a durable consumer gets 3, acks, closes; the same durable after a reconnect gets exactly the rest', async () => {
    const id = await echoOn('local');
    const jsm = await nc.jetstreamManager();
    const before = (await jsm.streams.info('JANUS_EVENTS')).state.messages;
    // Ten events, captured while no consumer exists yet.
    for (let i = 1; i <= 10; i++) fireAndForget('local', id, `dur-${i}`);
    await eventually(
      async () => (await jsm.streams.info('JANUS_EVENTS')).state.messages >= before + 10,
      10_000,
      '10 events captured',
    );

    const first = await consumeEvents(nc, { durable: 'billing', janusId: 'local', type: 'event' });
    expect(first.stream).toBe('JANUS_EVENTS');
    const seen: string[] = [];
    const takeDur = async (
      consumer: AsyncIterable<{ headers: { transaction?: string }; ack(): void }>,
      count: number,
      into: string[],
    ): Promise<void> => {
      for await (const event of consumer) {
        event.ack();
        const transaction = event.headers.transaction ?? '';
        if (transaction.startsWith('dur-')) into.push(transaction);
        if (into.length === count) break;
      }
    };
    await takeDur(first, 3, seen);
    await first.close();
    await nc.close();

    // The service restarts: a new connection, the same durable name.
    nc = await connect({ servers: nats.url });
    const second = await consumeEvents(nc, { durable: 'billing', janusId: 'local', type: 'event' });
    const rest: string[] = [];
    const started = performance.now();
    await takeDur(second, 7, rest);
    expect(performance.now() - started).toBeLessThan(5000);
    await second.close();

    expect(seen).toHaveLength(3);
    expect(rest).toHaveLength(7);
    expect([...seen, ...rest].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `dur-${i + 1}`).sort());
    // Nothing is left for the durable: all acknowledged.
    const info = await (await nc.jetstreamManager()).consumers.info('JANUS_EVENTS', 'billing');
    expect(info.num_pending).toBe(0);
    expect(info.num_ack_pending).toBe(0);
  });

  it('redelivers what was not acknowledged, marked redelivered', async () => {
    const id = await echoOn('local');
    const consumer = await consumeEvents(nc, {
      durable: 'redelivery',
      janusId: 'local',
      type: 'event',
      deliver: 'new',
    });
    fireAndForget('local', id, 'nak-me');
    for await (const event of consumer) {
      if (event.headers.transaction !== 'nak-me') {
        event.ack();
        continue;
      }
      if (!event.redelivered) {
        event.nak();
        continue;
      }
      await event.ackAck();
      break;
    }
    await consumer.close();
  });

  it('a stream that does not exist is a JanusNatsError at once', async () => {
    await expect(consumeEvents(nc, { durable: 'x', stream: 'NO_SUCH_STREAM' })).rejects.toBeInstanceOf(JanusNatsError);
  });
});
