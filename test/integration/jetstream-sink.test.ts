/**
 * The JetStream sink against a real nats-server with JetStream: what the server answers on the
 * sink's reply subjects (PubAck, duplicate, a full stream's error, no responders once the stream
 * is gone) read as it should be. Order and once-only storage, live subscribers getting each event
 * as it is sent, refusals, and the stream set up again after it was deleted. The daemon around
 * it: events.test.ts and oversize-events.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, DiscardPolicy, headers, StorageType, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { OutgoingEvent } from '../../src/bridge/event-sink.js';
import { JetStreamEventSink, type StreamSettings } from '../../src/bridge/jetstream-sink.js';
import type { EventResult } from '../../src/bridge/reporting.js';
import { createLogger } from '../../src/log.js';
import { eventually } from '../support/bridge.js';
import { startNats, type NatsServer } from '../support/processes.js';

let nats: NatsServer;
let nc: NatsConnection;
const sinks: JetStreamEventSink[] = [];

beforeAll(async () => {
  nats = await startNats(undefined, ['-js', '-sd', mkdtempSync(join(tmpdir(), 'jnb-sink-js-'))]);
  nc = await connect({ servers: nats.url });
});

afterEach(() => {
  for (const sink of sinks.splice(0)) sink.stop();
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const quiet = createLogger(
  'warn',
  new Writable({
    write: (_chunk, _enc, done) => done(),
  }),
);

function startSink(name: string, subject: string, more: Partial<StreamSettings> = {}): JetStreamEventSink {
  const sink = new JetStreamEventSink(
    nc,
    {
      name,
      subjects: [`${subject}.>`],
      maxAgeSeconds: 600,
      maxBytes: 1 << 24,
      storage: 'memory',
      replicas: 1,
      maxPending: 16,
      bufferSize: 10_000,
      ...more,
    },
    quiet,
  );
  sinks.push(sink);
  return sink;
}

function event(subject: string, i: number, results: EventResult[], msgId = `${subject}-${i}`): OutgoingEvent {
  const h = headers();
  h.set('Janus-Id', 'j1');
  h.set('Nats-Msg-Id', msgId);
  return { subject: `${subject}.j1`, data: Buffer.from(String(i)), headers: h, msgId, report: (r) => results.push(r) };
}

async function storedBodies(stream: string): Promise<string[]> {
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(stream);
  const bodies: string[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++)
    bodies.push(Buffer.from((await jsm.streams.getMessage(stream, { seq })).data).toString());
  return bodies;
}

it('stores each event once, in order; live subscribers get them; a repeated Nats-Msg-Id is a duplicate', async () => {
  const results: EventResult[] = [];
  const live: string[] = [];
  const sub = nc.subscribe('order.>', { callback: (_err, msg) => live.push(msg.string()) });
  const sink = startSink('ORDER_TEST', 'order');
  const count = 500;
  for (let i = 0; i < count; i++) sink.publish(event('order', i, results));
  // The last one again, with its Nats-Msg-Id: JetStream answers it is a duplicate, stored already.
  sink.publish(event('order', count - 1, results));
  await sink.flush(10_000);
  const expected = Array.from({ length: count }, (_, i) => String(i));
  expect(await storedBodies('ORDER_TEST')).toEqual(expected);
  expect(results).toEqual(Array(count + 1).fill('published'));
  expect(sink.stats()).toMatchObject({ published: count + 1, refused: 0, retried: 0, waiting: 0 });
  await nc.flush();
  expect(live).toEqual([...expected, String(count - 1)]);
  sub.unsubscribe();
});

it('counts what a full stream refuses, once each, and goes on', async () => {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({
    name: 'FULL_TEST',
    subjects: ['full.>'],
    max_msgs: 5,
    discard: DiscardPolicy.New,
    storage: StorageType.Memory,
  });
  const results: EventResult[] = [];
  const sink = startSink('FULL_TEST', 'full');
  for (let i = 0; i < 8; i++) sink.publish(event('full', i, results));
  await sink.flush(10_000);
  expect(results.filter((r) => r === 'published')).toHaveLength(5);
  expect(results.filter((r) => r === 'refused')).toHaveLength(3);
  expect(sink.stats()).toMatchObject({ published: 5, refused: 3, retried: 0, waiting: 0 });
  expect(await storedBodies('FULL_TEST')).toEqual(['0', '1', '2', '3', '4']);
});

it('sets the stream up again when it was deleted (no responders), and stores what waited', async () => {
  const results: EventResult[] = [];
  const sink = startSink('GONE_TEST', 'gone');
  sink.publish(event('gone', 0, results));
  await sink.flush(10_000);
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete('GONE_TEST');
  for (let i = 1; i <= 5; i++) sink.publish(event('gone', i, results));
  await eventually(() => sink.stats().waiting === 0, 15_000, 'the events after the deletion stored');
  expect(await storedBodies('GONE_TEST')).toEqual(['1', '2', '3', '4', '5']);
  expect(results).toEqual(Array(6).fill('published'));
  expect(sink.stats().retried).toBeGreaterThan(0);
}, 20_000);
