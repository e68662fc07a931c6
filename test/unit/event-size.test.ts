/**
 * The size decision for events and what the sinks do with an event that can never be
 * stored: counted as too_large, logged once per burst without its body, and no obstacle
 * to the events after it. The sinks run against stand-ins for the NATS client here; the
 * same behaviour against a real nats-server is in test/integration/oversize-events.test.ts.
 */
import { Writable } from 'node:stream';
import { ErrorCode, headers, NatsError, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { eventHeaders } from '../../src/bridge/event-meta.js';
import {
  CoreEventSink,
  exceedsMaxPayload,
  headerBlockBytes,
  isMaxPayloadError,
  LOG_EVERY_MS,
  OversizeLog,
  publishedBytes,
  type CorePublisher,
  type OutgoingEvent,
} from '../../src/bridge/event-sink.js';
import { JetStreamEventSink } from '../../src/bridge/jetstream-sink.js';
import { createLogger } from '../../src/log.js';
import type { EventResult } from '../../src/bridge/reporting.js';

function headerSet(pairs: Array<[string, string]>, appended: Array<[string, string]> = []): MsgHdrs {
  const h = headers();
  for (const [name, value] of pairs) h.set(name, value);
  for (const [name, value] of appended) h.append(name, value);
  return h;
}

/** What nats.js itself puts on the wire (its implementation has encode(), the public type does not). */
const encodedLength = (h: MsgHdrs): number => (h as unknown as { encode(): Uint8Array }).encode().byteLength;

describe('headerBlockBytes', () => {
  it.each([
    [
      'the headers of a plugin event',
      headerSet(
        eventHeaders(
          'edge-1',
          {
            janus: 'event',
            session_id: 11,
            sender: 22,
            transaction: 't',
            plugindata: { plugin: 'janus.plugin.videoroom', data: {} },
          },
          'ab12-edge-1-1z',
        ),
      ),
    ],
    [
      'a header with several values',
      headerSet(
        [['Janus-Id', 'a']],
        [
          ['X-Many', '1'],
          ['X-Many', '22'],
        ],
      ),
    ],
    [
      'multi-byte characters in names and values',
      headerSet([
        ['Janus-Id', 'édge-☃-1'],
        ['Janus-Type', '事件'],
      ]),
    ],
  ])('counts %s exactly as nats.js encodes them', (_what, h) => {
    expect(headerBlockBytes(h)).toBe(encodedLength(h));
  });

  it('is zero without headers, as nats.js then sends no header block', () => {
    const h = headers();
    expect(headerBlockBytes(h)).toBe(0);
    expect(encodedLength(h)).toBe(0);
  });
});

describe('publishedBytes', () => {
  it('counts the body and the header block, as the client and the server do', () => {
    const h = headerSet([
      ['Janus-Id', 'j1'],
      ['Nats-Msg-Id', 'x-j1-1'],
    ]);
    expect(publishedBytes({ data: new Uint8Array(1000), headers: h })).toBe(1000 + encodedLength(h));
  });
});

describe('exceedsMaxPayload', () => {
  it('takes a message of exactly max_payload and refuses one byte more', () => {
    expect(exceedsMaxPayload(65_536, 65_536)).toBe(false);
    expect(exceedsMaxPayload(65_537, 65_536)).toBe(true);
  });

  it('calls nothing too large while the server is unknown', () => {
    expect(exceedsMaxPayload(10_000_000, undefined)).toBe(false);
    expect(exceedsMaxPayload(10_000_000, 0)).toBe(false);
  });
});

describe('isMaxPayloadError', () => {
  it("recognises nats.js's max payload error and nothing else", () => {
    expect(isMaxPayloadError(NatsError.errorForCode(ErrorCode.MaxPayloadExceeded))).toBe(true);
    expect(isMaxPayloadError(NatsError.errorForCode(ErrorCode.Timeout))).toBe(false);
    expect(isMaxPayloadError(new Error('maximum payload exceeded'))).toBe(false);
    expect(isMaxPayloadError(undefined)).toBe(false);
  });
});

const BODY_MARK = 'SECRET-BODY-';

function testLog(): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger('debug', sink), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const oversizeLines = (lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> =>
  lines.filter((l) => String(l.msg).includes("larger than the NATS server's max_payload"));

/** Events numbered in order; `big` ones carry a body well over 1,000 bytes. */
function events(spec: Array<'small' | 'big'>, results: Map<string, EventResult>): OutgoingEvent[] {
  return spec.map((size, i) => {
    const msgId = `m-${i}`;
    const body = size === 'big' ? BODY_MARK.repeat(200) : `{"seq":${i}}`;
    return {
      subject: 'janus.event.j1',
      data: Buffer.from(body),
      headers: headerSet([
        ['Janus-Id', 'j1'],
        ['Nats-Msg-Id', msgId],
      ]),
      msgId,
      report: (result) => {
        results.set(msgId, result);
      },
    };
  });
}

describe('OversizeLog', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs a burst once, after LOG_EVERY_MS, with its count and sizes and without a body', () => {
    vi.useFakeTimers();
    const { log, lines } = testLog();
    const oversize = new OversizeLog(log);
    oversize.note('janus.event.j1', 70_000, 65_536);
    oversize.note('janus.event.j2', 90_000, 65_536);
    expect(oversizeLines(lines())).toHaveLength(0);
    vi.advanceTimersByTime(LOG_EVERY_MS);
    oversize.note('janus.event.j1', 80_000, 65_536);
    vi.advanceTimersByTime(LOG_EVERY_MS);
    expect(oversizeLines(lines())).toMatchObject([
      { level: 'error', too_large: 2, largest_bytes: 90_000, max_payload: 65_536, last_subject: 'janus.event.j2' },
      { level: 'error', too_large: 1, largest_bytes: 80_000 },
    ]);
  });
});

describe('CoreEventSink', () => {
  it('counts an event over max_payload as too_large without handing it to the publisher, and sends the rest', () => {
    const sent: string[] = [];
    const publisher: CorePublisher = {
      nc: { info: { max_payload: 1000 } as NatsConnection['info'] },
      publish: (_subject, data) => {
        sent.push(Buffer.from(data).toString());
        return 'sent';
      },
    };
    const { log, lines } = testLog();
    const sink = new CoreEventSink(publisher, log);
    const results = new Map<string, EventResult>();
    for (const event of events(['small', 'big', 'small'], results)) sink.publish(event);
    expect([...results]).toEqual([
      ['m-0', 'published'],
      ['m-1', 'too_large'],
      ['m-2', 'published'],
    ]);
    expect(sent).toEqual(['{"seq":0}', '{"seq":2}']);
    expect(sink.stats().tooLarge).toBe(1);
    sink.stop();
    expect(oversizeLines(lines())).toMatchObject([{ too_large: 1, max_payload: 1000 }]);
    expect(JSON.stringify(lines())).not.toContain(BODY_MARK);
  });
});

/**
 * A NatsConnection stand-in for the JetStream sink: the stream gets created, and `store` takes each publish (it throws
 * what the client would throw on sending) and gives the stream sequence, sent back to the reply subject as a PubAck.
 */
function jetStreamClient(
  maxPayload: number,
  store: (subject: string, data: Uint8Array, msgId: string) => number,
): NatsConnection {
  const notFound = Object.assign(new NatsError('stream not found', '404'), {
    api_error: { code: 404, err_code: 10059, description: 'stream not found' },
  });
  const jsm = { streams: { info: () => Promise.reject(notFound), add: () => Promise.resolve({}) } };
  let deliver: ((err: NatsError | null, msg: Msg) => void) | undefined;
  return {
    info: { max_payload: maxPayload },
    jetstreamManager: () => Promise.resolve(jsm),
    subscribe: (_subject: string, opts: { callback: typeof deliver }) => {
      deliver = opts.callback;
      return { isClosed: () => false, unsubscribe: () => undefined };
    },
    publish: (subject: string, data: Uint8Array, { reply, headers: h }: { reply: string; headers: MsgHdrs }) => {
      const ack = JSON.stringify({ stream: 'T', seq: store(subject, data, h.get('Nats-Msg-Id')) });
      setImmediate(() =>
        deliver?.(null, { subject: reply, data: Buffer.from(ack), string: () => ack } as unknown as Msg),
      );
    },
  } as unknown as NatsConnection;
}

const SETTINGS = {
  name: 'T',
  subjects: ['janus.event.>'],
  maxAgeSeconds: 60,
  maxBytes: 1 << 20,
  storage: 'memory' as const,
  replicas: 1,
  maxPending: 4,
  bufferSize: 10,
};

describe('JetStreamEventSink', () => {
  it('reports an event over max_payload as too_large at once, never buffered; the rest stored in order', async () => {
    const stored: string[] = [];
    const sink = new JetStreamEventSink(
      jetStreamClient(1000, (_s, data) => stored.push(Buffer.from(data).toString())),
      SETTINGS,
      testLog().log,
    );
    const results = new Map<string, EventResult>();
    // Exactly as many small events as the buffer holds, published before the stream is set up: had the big one taken a
    // place, one would be dropped.
    for (const event of events(['small', 'big', ...Array<'small'>(SETTINGS.bufferSize - 1).fill('small')], results))
      sink.publish(event);
    expect(results.get('m-1')).toBe('too_large');
    await sink.flush(2000);
    expect(stored).toEqual(
      [0, ...Array.from({ length: SETTINGS.bufferSize - 1 }, (_, i) => i + 2)].map((seq) => `{"seq":${seq}}`),
    );
    expect(sink.stats()).toMatchObject({
      published: SETTINGS.bufferSize,
      tooLarge: 1,
      dropped: 0,
      refused: 0,
      retried: 0,
      waiting: 0,
    });
    sink.stop();
  });

  it("takes the client's max payload error on sending as too_large, not as a cause to resend", async () => {
    const stored: string[] = [];
    const attempts = new Map<string, number>();
    const { log, lines } = testLog();
    // The client's max_payload check fails for m-1 though the sink's own check passed (the server changed in between).
    const sink = new JetStreamEventSink(
      jetStreamClient(1_000_000, (_s, data, msgId) => {
        attempts.set(msgId, (attempts.get(msgId) ?? 0) + 1);
        if (msgId === 'm-1') throw NatsError.errorForCode(ErrorCode.MaxPayloadExceeded);
        return stored.push(Buffer.from(data).toString());
      }),
      SETTINGS,
      log,
    );
    const results = new Map<string, EventResult>();
    for (const event of events(['small', 'big', 'small', 'small'], results)) sink.publish(event);
    await sink.flush(2000);
    expect(results.get('m-1')).toBe('too_large');
    expect(attempts.get('m-1')).toBe(1);
    expect(stored).toEqual(['{"seq":0}', '{"seq":2}', '{"seq":3}']);
    expect(sink.stats()).toMatchObject({ published: 3, tooLarge: 1, retried: 0, waiting: 0 });
    sink.stop();
    expect(oversizeLines(lines())).toHaveLength(1);
    expect(lines().some((l) => String(l.msg).includes('resending'))).toBe(false);
    expect(JSON.stringify(lines())).not.toContain(BODY_MARK);
  });
});
