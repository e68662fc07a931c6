/**
 * The JetStream sink's own exchange with the stream, against a stand-in connection whose answers
 * the test gives one by one: a PubAck, a duplicate, a JetStream error, a no-responders status, or
 * none at all. Order, the in-flight window, the resend after a lost ack with the same Nats-Msg-Id,
 * refusals, the stream set up again after three 503s, and one timer for every deadline. The same
 * against a real nats-server: test/integration/jetstream-sink.test.ts.
 */
import { Writable } from 'node:stream';
import { headers, NatsError, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OutgoingEvent } from '../../src/bridge/event-sink.js';
import {
  ACK_TIMEOUT_MS,
  ackFailure,
  JetStreamEventSink,
  type StreamSettings,
} from '../../src/bridge/jetstream-sink.js';
import type { EventResult } from '../../src/bridge/reporting.js';
import { createLogger } from '../../src/log.js';

interface Sent {
  readonly subject: string;
  readonly body: string;
  readonly msgId: string;
  readonly reply: string;
}

/** A NatsConnection as far as the sink uses it, and a stream that stores each Nats-Msg-Id once. */
class FakeJetStream {
  readonly sent: Sent[] = [];
  readonly stored: string[] = [];
  readonly storedIds = new Set<string>();
  subscriptions: string[] = [];
  unsubscribed = 0;
  streamSetups = 0;
  private deliver: ((err: NatsError | null, msg: Msg) => void) | undefined;

  readonly nc = {
    info: { max_payload: 1_000_000 },
    jetstreamManager: () => {
      this.streamSetups++;
      return Promise.resolve({ streams: { info: () => Promise.resolve({ config: SETTINGS_CONFIG }) } });
    },
    subscribe: (subject: string, opts: { callback: (err: NatsError | null, msg: Msg) => void }) => {
      this.subscriptions.push(subject);
      this.deliver = opts.callback;
      return { isClosed: () => false, unsubscribe: () => this.unsubscribed++ };
    },
    publish: (subject: string, data: Uint8Array, { reply, headers: h }: { reply: string; headers: MsgHdrs }) => {
      this.sent.push({ subject, body: Buffer.from(data).toString(), msgId: h.get('Nats-Msg-Id'), reply });
    },
  } as unknown as NatsConnection;

  /** Stores `sent` (once per Nats-Msg-Id, as JetStream does) and answers with its PubAck. */
  store(sent: Sent): void {
    const duplicate = this.storedIds.has(sent.msgId);
    if (!duplicate) {
      this.storedIds.add(sent.msgId);
      this.stored.push(sent.body);
    }
    this.answer(sent, { stream: 'T', seq: this.stored.length, ...(duplicate ? { duplicate: true } : {}) });
  }

  answer(sent: Sent, body: object | undefined, code?: number): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    const h = code === undefined ? undefined : ({ code } as MsgHdrs);
    const msg = { subject: sent.reply, data: Buffer.from(text), headers: h, string: () => text };
    this.deliver!(null, msg as unknown as Msg);
  }

  noResponders(sent: Sent): void {
    this.answer(sent, undefined, 503);
  }
}

const SETTINGS: StreamSettings = {
  name: 'T',
  subjects: ['j.event.>'],
  maxAgeSeconds: 60,
  maxBytes: 1 << 20,
  storage: 'memory',
  replicas: 1,
  maxPending: 3,
  bufferSize: 8,
};
const SETTINGS_CONFIG = {
  name: 'T',
  subjects: SETTINGS.subjects,
  max_age: 60e9,
  max_bytes: SETTINGS.maxBytes,
  storage: 'memory',
  num_replicas: 1,
};

function testLog(): { log: ReturnType<typeof createLogger>; messages: () => string[] } {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return {
    log: createLogger('debug', out),
    messages: () => lines.map((l) => String((JSON.parse(l) as { msg: unknown }).msg)),
  };
}

/** Event `i`: body `e<i>`, Nats-Msg-Id `id-<i>` (in its headers, as the publishers put it). */
function event(i: number, results: Map<string, EventResult[]>): OutgoingEvent {
  const msgId = `id-${i}`;
  const h = headers();
  h.set('Janus-Id', 'j1');
  h.set('Nats-Msg-Id', msgId);
  return {
    subject: 'j.event.j1',
    data: Buffer.from(`e${i}`),
    headers: h,
    msgId,
    report: (result) => results.set(msgId, [...(results.get(msgId) ?? []), result]),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let fake: FakeJetStream;
let sink: JetStreamEventSink;
let results: Map<string, EventResult[]>;
let messages: () => string[];

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  fake = new FakeJetStream();
  results = new Map();
  const log = testLog();
  messages = log.messages;
  sink = new JetStreamEventSink(fake.nc, SETTINGS, log.log);
  await settle();
});

afterEach(() => {
  sink.stop();
  vi.useRealTimers();
});

const publish = (from: number, to: number): void => {
  for (let i = from; i < to; i++) sink.publish(event(i, results));
};

describe('JetStreamEventSink', () => {
  it('sends at most maxPending, in order, each with its Nats-Msg-Id and a reply under one subscription', () => {
    publish(0, 5);
    expect(fake.subscriptions).toHaveLength(1);
    const [inbox] = fake.subscriptions;
    expect(inbox).toMatch(/^_INBOX\.[A-Za-z0-9]+\.\*$/);
    expect(fake.sent.map((s) => s.body)).toEqual(['e0', 'e1', 'e2']);
    expect(fake.sent.map((s) => s.msgId)).toEqual(['id-0', 'id-1', 'id-2']);
    for (const s of fake.sent) expect(s.reply.startsWith(inbox!.slice(0, -1))).toBe(true);
    expect(new Set(fake.sent.map((s) => s.reply)).size).toBe(3);

    // Acks in another order than sent still free the window; the buffer keeps the order of sending.
    fake.store(fake.sent[1]!);
    fake.store(fake.sent[0]!);
    expect(fake.sent.map((s) => s.body)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    for (const s of fake.sent.slice(2)) fake.store(s);
    expect(fake.stored).toEqual(['e1', 'e0', 'e2', 'e3', 'e4']);
    expect([...results.values()]).toEqual(Array(5).fill(['published']));
    expect(sink.stats()).toMatchObject({ published: 5, retried: 0, waiting: 0 });
  });

  it('adds the Nats-Msg-Id to headers that lack it, once', () => {
    const e = event(0, results);
    e.headers.delete('Nats-Msg-Id');
    sink.publish(e);
    expect(fake.sent[0]!.msgId).toBe('id-0');
    expect(e.headers.values('Nats-Msg-Id')).toEqual(['id-0']);
  });

  it('drops what the buffer cannot hold as buffer_full', () => {
    publish(0, SETTINGS.bufferSize + 2);
    expect(results.get(`id-${SETTINGS.bufferSize}`)).toEqual(['buffer_full']);
    expect(sink.stats()).toMatchObject({ dropped: 2, waiting: SETTINGS.bufferSize });
  });

  it('after a lost ack, stops sending, then resends from the oldest unacknowledged with its Nats-Msg-Id', async () => {
    publish(0, 5);
    fake.store(fake.sent[0]!);
    // e1's ack is lost; e2 and e3 are stored.
    fake.store(fake.sent[2]!);
    fake.store(fake.sent[3]!);
    expect(fake.sent.map((s) => s.body)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    fake.store(fake.sent[4]!);
    await vi.advanceTimersByTimeAsync(1000);
    publish(5, 6);
    expect(fake.sent).toHaveLength(6);
    const lost = fake.sent[1]!;
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT_MS - 1000);
    expect(messages()).toContain('JetStream did not acknowledge an event; resending from the oldest unacknowledged');
    // e5 is still in flight: nothing is resent until it is answered.
    expect(fake.sent).toHaveLength(6);
    const e5 = fake.sent[5]!;
    fake.store(e5);
    await vi.advanceTimersByTimeAsync(300);
    // Resent from e1, the oldest unacknowledged: e2…e5 were acknowledged and are not sent again.
    expect(fake.sent.slice(6).map((s) => [s.body, s.msgId])).toEqual([['e1', 'id-1']]);
    expect(fake.sent[6]!.reply).not.toBe(lost.reply);
    // The first attempt's ack arriving now is ignored; the second one counts.
    fake.store(lost);
    expect(results.get('id-1')).toBeUndefined();
    fake.store(fake.sent[6]!);
    expect(results.get('id-1')).toEqual(['published']);
    expect(fake.stored).toEqual(['e0', 'e2', 'e3', 'e4', 'e5', 'e1']);
    expect(sink.stats()).toMatchObject({ published: 6, retried: 1, waiting: 0 });
  });

  it('resends the whole window when NATS is away, and JetStream stores each event once', async () => {
    publish(0, 3);
    // Stored, but every ack lost.
    for (const s of fake.sent) {
      fake.storedIds.add(s.msgId);
      fake.stored.push(s.body);
    }
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT_MS + 300);
    expect(fake.sent.map((s) => s.body)).toEqual(['e0', 'e1', 'e2', 'e0', 'e1', 'e2']);
    for (const s of fake.sent.slice(3)) fake.store(s);
    expect(fake.stored).toEqual(['e0', 'e1', 'e2']);
    expect([...results.values()]).toEqual(Array(3).fill(['published']));
  });

  it('uses one timer for every deadline, however many are in flight', () => {
    const before = vi.getTimerCount();
    publish(0, 3);
    expect(vi.getTimerCount()).toBe(before + 1);
  });

  it('reports a refusal once and goes on with the next events, never resending it', async () => {
    publish(0, 3);
    fake.answer(fake.sent[0]!, {
      error: { code: 503, err_code: 10077, description: 'maximum messages exceeded' },
      stream: 'T',
      seq: 0,
    });
    fake.store(fake.sent[1]!);
    fake.store(fake.sent[2]!);
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT_MS + 5_000);
    expect(fake.sent.map((s) => s.body)).toEqual(['e0', 'e1', 'e2']);
    expect(results.get('id-0')).toEqual(['refused']);
    expect(sink.stats()).toMatchObject({ published: 2, refused: 1, retried: 0, waiting: 0 });
    expect(messages()).toContain('1 events refused by the event stream');
  });

  it('sets the stream up again after three no-responders answers, then resends', async () => {
    expect(fake.streamSetups).toBe(1);
    publish(0, 3);
    for (const s of fake.sent) fake.noResponders(s);
    await settle();
    expect(fake.streamSetups).toBe(2);
    await vi.advanceTimersByTimeAsync(300);
    expect(fake.sent.map((s) => s.body)).toEqual(['e0', 'e1', 'e2', 'e0', 'e1', 'e2']);
    for (const s of fake.sent.slice(3)) fake.store(s);
    expect(fake.stored).toEqual(['e0', 'e1', 'e2']);
    expect(sink.stats()).toMatchObject({ published: 3, retried: 1, waiting: 0 });
  });

  it('flush() waits for the last ack; stop() ends the subscription and the timers', async () => {
    publish(0, 2);
    let flushed = false;
    const flushing = sink.flush(10_000).then(() => (flushed = true));
    fake.store(fake.sent[0]!);
    await settle();
    expect(flushed).toBe(false);
    fake.store(fake.sent[1]!);
    await flushing;
    expect(flushed).toBe(true);
    publish(2, 3);
    sink.stop();
    expect(fake.unsubscribed).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('ackFailure', () => {
  const msg = (text: string, code?: number): Msg =>
    ({
      data: new TextEncoder().encode(text),
      headers: code === undefined ? undefined : ({ code } as MsgHdrs),
      string: () => text,
    }) as unknown as Msg;

  it.each([
    ['a PubAck', '{"stream":"T", "seq":1}'],
    ['a duplicate', '{"stream":"T", "seq":1,"duplicate": true}'],
    ['one with a domain', '{"stream":"T","seq":7,"domain":"hub"}'],
    ['a stream named error', '{"stream":"error","seq":1}'],
  ])('takes %s as stored', (_what, text) => {
    expect(ackFailure(msg(text))).toBeUndefined();
  });

  it.each([
    [
      'a full stream',
      '{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"T","seq":0}',
      { refused: true, unavailable: true, reason: 'maximum messages exceeded' },
    ],
    [
      'an error after the stream',
      '{"stream":"T","seq":0,"error":{"code":500,"description":"something else"}}',
      { refused: false, unavailable: false, reason: 'something else' },
    ],
    [
      'JetStream unavailable',
      '{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}',
      { refused: false, unavailable: true },
    ],
    ['an empty stream name', '{"stream":"","seq":1}', { refused: false, unavailable: false }],
    ['no JSON', 'nonsense', { refused: false, unavailable: false }],
  ])('reads %s', (_what, text, expected) => {
    expect(ackFailure(msg(text))).toMatchObject(expected);
  });

  it('reads a status without a body: 503 is no responders', () => {
    expect(ackFailure(msg('', 503))).toMatchObject({ unavailable: true, refused: false });
    expect(ackFailure(msg('', 408))).toMatchObject({ unavailable: false, refused: false });
  });
});

describe('JetStreamEventSink start', () => {
  it('says once the stream is set up (the daemon starts its connections then), or false after the wait', async () => {
    expect(await sink.whenReady(1000)).toBe(true);

    const failing = { ...fake.nc, jetstreamManager: () => Promise.reject(new Error('no JetStream')) };
    const late = new JetStreamEventSink(failing as unknown as typeof fake.nc, SETTINGS, testLog().log);
    const answer = late.whenReady(1000);
    await vi.advanceTimersByTimeAsync(999);
    let settled: boolean | undefined;
    void answer.then((ready) => (settled = ready));
    await settle();
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await answer).toBe(false);
    late.stop();
  });
});
