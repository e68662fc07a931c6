/**
 * An event larger than the NATS server's max_payload can never be stored nor delivered:
 * it is counted as too_large and dropped, and the events after it flow on in order, with
 * JetStream capture on and off. Own nats-server with JetStream and max_payload 64 KiB; the
 * bridge accepts messages from Janus up to 1 MiB, above it.
 *
 * A FAKE Janus sends the events: a real Janus cannot be made to send an arbitrary 100 KB
 * notification on demand.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscardPolicy, StorageType, type JsMsg } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, eventually, startBridge, type TestBridge } from '../support/bridge.js';
import { selected } from '../support/environment.js';
import { startFakeJanus, type FakeJanus } from '../support/fake-janus.js';
import { startNats, type NatsServer } from '../support/processes.js';

const MAX_PAYLOAD = 64 * 1024;
/** Marks the big event's body, which no log line may carry. */
const BODY_MARK = 'OVERSIZE-BODY-';
const BEFORE = 5;
const AFTER = 200;
const OVERSIZE_LOG = "larger than the NATS server's max_payload";

let nats: NatsServer;
let client: Client;
const running: Array<{ stop(): Promise<unknown> }> = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jnb-oversize-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `max_payload: ${MAX_PAYLOAD}\n`);
  // A container gets the file mounted read-only and keeps JetStream's store inside it (as ha-cluster.ts does).
  nats = await startNats(
    undefined,
    selected() === 'containers' ? ['-c', conf, '-js'] : ['-c', conf, '-js', '-sd', join(dir, 'js')],
  );
  client = await Client.connect(nats.url);
});

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

afterAll(async () => {
  await client?.close();
  await nats?.stop();
});

async function bridge(janusId: string, fake: FakeJanus, values: Record<string, unknown>): Promise<TestBridge> {
  const started = await startBridge({
    janus: { maxMessageBytes: 1024 * 1024 },
    connections: [{ janus_id: janusId, janus_url: fake.url }],
    ...values,
  });
  running.push(started);
  await eventually(() => started.daemon.connectionStats(janusId)?.state === 'ready', 10_000, `${janusId} ready`);
  return started;
}

async function fakeJanus(): Promise<FakeJanus> {
  const fake = await startFakeJanus();
  running.push(fake);
  return fake;
}

/** BEFORE small events (seq 0…), one whose body alone is over max_payload, then AFTER small ones. */
function sendEvents(fake: FakeJanus, padBytes = 100_000): void {
  const event = (seq: number | string, pad?: string): string =>
    JSON.stringify({
      janus: 'event',
      session_id: 1,
      sender: 2,
      plugindata: { plugin: 'janus.plugin.fake', data: { seq, ...(pad ? { pad } : {}) } },
    });
  for (let seq = 0; seq < BEFORE; seq++) fake.sendRaw(event(seq));
  fake.sendRaw(event('big', BODY_MARK.repeat(Math.ceil(padBytes / BODY_MARK.length))));
  for (let seq = BEFORE; seq < BEFORE + AFTER; seq++) fake.sendRaw(event(seq));
}

const SMALL_SEQS = Array.from({ length: BEFORE + AFTER }, (_, i) => i);
const seqOf = (json: unknown): unknown =>
  (json as { janus_body: { plugindata: { data: { seq: unknown } } } }).janus_body.plugindata.data.seq;

/** The drop reasons that counted something (every reason has a series from the start, at 0). */
async function droppedCounts(b: TestBridge, janusId: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${b.daemon.httpPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^janus_bridge_events_dropped_total\{(.*)\} (\d+)$/.exec(line);
    if (match && match[1]!.includes(`janus_id="${janusId}"`) && Number(match[2]) > 0)
      counts[/reason="([^"]+)"/.exec(match[1]!)![1]!] = Number(match[2]);
  }
  return counts;
}

/** Every message of the stream, in stream order, through an ordered (ephemeral) consumer. */
async function readStream(stream: string, expected: number): Promise<JsMsg[]> {
  const consumer = await client.nc.jetstream().consumers.get(stream);
  const messages: JsMsg[] = [];
  while (messages.length < expected) {
    const batch = await consumer.fetch({ max_messages: expected - messages.length, expires: 2000 });
    const before = messages.length;
    for await (const msg of batch) messages.push(msg);
    if (messages.length === before) break;
  }
  return messages;
}

describe('with JetStream capture', () => {
  it('drops an event over max_payload as too_large (logged once, no body), stores the others in order', async () => {
    const fake = await fakeJanus();
    const b = await bridge('o1', fake, {
      nats: { servers: [nats.url], subjectPrefix: 'big' },
      events: { stream: { enabled: true, name: 'OVERSIZE_TEST', storage: 'memory' } },
    });
    const jsm = await client.nc.jetstreamManager();
    await eventually(
      async () => (await jsm.streams.info('OVERSIZE_TEST').catch(() => undefined)) !== undefined,
      5000,
      'stream created',
    );

    sendEvents(fake);
    const sink = b.daemon.events;
    await eventually(
      () => sink.stats().published! + sink.stats().tooLarge >= BEFORE + 1 + AFTER,
      15_000,
      'every event accounted for',
    );

    expect(sink.stats()).toMatchObject({
      published: BEFORE + AFTER,
      tooLarge: 1,
      dropped: 0,
      refused: 0,
      retried: 0,
      waiting: 0,
    });
    const stored = await readStream('OVERSIZE_TEST', BEFORE + AFTER);
    expect(stored.map((m) => seqOf(m.json()))).toEqual(SMALL_SEQS);
    expect((await jsm.streams.info('OVERSIZE_TEST')).state.messages).toBe(BEFORE + AFTER);
    expect(await droppedCounts(b, 'o1')).toEqual({ too_large: 1 });

    await b.stop(); // the burst's log line is written at the latest on stop
    const lines = b.logs().filter((l) => String(l.msg).includes(OVERSIZE_LOG));
    expect(lines).toMatchObject([
      { level: 'error', too_large: 1, max_payload: MAX_PAYLOAD, last_subject: 'big.event.o1' },
    ]);
    expect(Number(lines[0]!.largest_bytes)).toBeGreaterThan(100_000);
    expect(JSON.stringify(b.logs())).not.toContain(BODY_MARK);
  });

  it("refuses an event over the stream's max_msg_size (< max_payload) once, stores the others in order", async () => {
    const jsm = await client.nc.jetstreamManager();
    await jsm.streams.add({
      name: 'MSGSIZE_TEST',
      subjects: ['ms.event.>'],
      max_msg_size: 16 * 1024,
      discard: DiscardPolicy.Old,
      storage: StorageType.Memory,
    });
    const fake = await fakeJanus();
    const b = await bridge('m1', fake, {
      nats: { servers: [nats.url], subjectPrefix: 'ms' },
      events: { stream: { enabled: true, name: 'MSGSIZE_TEST', storage: 'memory' } },
    });

    sendEvents(fake, 30_000);
    const sink = b.daemon.events;
    await eventually(
      () => sink.stats().published! + sink.stats().refused! >= BEFORE + 1 + AFTER,
      15_000,
      'every event accounted for',
    );

    expect(sink.stats()).toMatchObject({ published: BEFORE + AFTER, refused: 1, tooLarge: 0, retried: 0, waiting: 0 });
    expect((await readStream('MSGSIZE_TEST', BEFORE + AFTER)).map((m) => seqOf(m.json()))).toEqual(SMALL_SEQS);
    expect(await droppedCounts(b, 'm1')).toEqual({ refused: 1 });
  });
});

describe('without capture (core NATS)', () => {
  it('counts an event over max_payload as too_large, not nats_unavailable; the others arrive in order', async () => {
    const live = client.collect('core.event.c1');
    running.push({ stop: async () => live.stop() });
    await client.nc.flush();
    const fake = await fakeJanus();
    const b = await bridge('c1', fake, { nats: { servers: [nats.url], subjectPrefix: 'core' } });

    sendEvents(fake);
    await eventually(() => live.messages.length >= BEFORE + AFTER, 15_000, 'small events delivered');
    const sink = b.daemon.events;
    await eventually(() => sink.stats().tooLarge === 1, 5000, 'too_large counted');

    expect(live.messages.map((m) => seqOf(m.json))).toEqual(SMALL_SEQS);
    expect(await droppedCounts(b, 'c1')).toEqual({ too_large: 1 });
    await b.stop();
    expect(JSON.stringify(b.logs())).not.toContain(BODY_MARK);
  });
});
