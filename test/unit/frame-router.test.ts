import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { FrameRouter } from '../../src/janus/frame-router.js';
import type { JanusMessage } from '../../src/janus/protocol.js';
import { TransactionTable, type AnswerOrError } from '../../src/janus/transactions.js';
import { createLogger } from '../../src/log.js';

function setup(session = 77) {
  const table = new TransactionTable(60_000, (tx, request) => router.abandoned(tx, request));
  const events: Array<{ message: JanusMessage; text: string }> = [];
  const unknown: string[] = [];
  const expired = vi.fn();
  const late = vi.fn();
  const router: FrameRouter = new FrameRouter(
    { ttlMs: 60_000, max: 100 },
    {
      transactions: () => table,
      sessionId: () => session,
      onEvent: (message, text) => events.push({ message, text }),
      onUnknownAnswer: (_message, text) => unknown.push(text),
      onSessionExpired: expired,
      onLateSession: late,
    },
    createLogger('silent'),
  );
  const wait = (verb: string, clientTransaction: string | undefined, sessionCommand = false) => {
    const tx = table.nextTransaction();
    const outcomes: AnswerOrError[] = [];
    table.add(tx, { verb, clientTransaction, sessionCommand, settle: (o) => outcomes.push(o) });
    return { tx, outcomes };
  };
  const frame = (body: Record<string, unknown>) => router.frame(JSON.stringify(body));
  return { table, router, events, unknown, expired, late, wait, frame };
}

/**
 * What a request gets when answered: the answer, and its JSON (the test's frames are compact JSON, in the answer's key
 * order).
 */
function answered(answer: JanusMessage): AnswerOrError {
  return { ok: true, answer, text: JSON.stringify(answer) };
}

describe('FrameRouter', () => {
  it('answers the waiting request with the client transaction, and later events of that transaction too', () => {
    const { wait, frame, events } = setup();
    const { tx, outcomes } = wait('message', 'client-1');
    frame({ janus: 'ack', transaction: tx });
    expect(outcomes).toEqual([]);
    frame({ janus: 'event', transaction: tx, plugindata: { data: { n: 1 } } });
    expect(outcomes).toEqual([answered({ janus: 'event', transaction: 'client-1', plugindata: { data: { n: 1 } } })]);
    frame({ janus: 'event', transaction: tx, plugindata: { data: { n: 2 } } });
    expect(events.map((e) => e.message.transaction)).toEqual(['client-1']);
    expect(JSON.parse(events[0]!.text)).toMatchObject({ transaction: 'client-1', plugindata: { data: { n: 2 } } });
  });

  it('answers a request that an ack completes (keepalive), written compact or indented, and drops other acks', () => {
    const { wait, router, events, unknown } = setup();
    const compact = wait('keepalive', 'k-1');
    router.frame(`{"janus":"ack","session_id":77,"transaction":"${compact.tx}"}`);
    expect(compact.outcomes).toEqual([answered({ janus: 'ack', session_id: 77, transaction: 'k-1' })]);
    const indented = wait('keepalive', 'k-2');
    router.frame(`{\n   "janus": "ack",\n   "session_id": 77,\n   "transaction": "${indented.tx}"\n}`);
    expect(indented.outcomes.map((o) => o.ok && o.answer.transaction)).toEqual(['k-2']);
    const message = wait('message', 'm-1');
    router.frame(`{\n   "janus": "ack",\n   "session_id": 77,\n   "transaction": "${message.tx}"\n}`);
    expect(message.outcomes).toEqual([]);
    expect(events).toEqual([]);
    expect(unknown).toEqual([]);
  });

  it('forgets the transaction of an answered core request: a stray frame with it does not get the client one', () => {
    const { wait, frame, events, unknown } = setup();
    const { tx, outcomes } = wait('attach', 'client-2');
    frame({ janus: 'success', transaction: tx, data: { id: 5 } });
    expect(outcomes).toEqual([answered({ janus: 'success', transaction: 'client-2', data: { id: 5 } })]);
    frame({ janus: 'event', transaction: tx });
    expect(events).toEqual([]);
    expect(unknown.map((text) => JSON.parse(text).transaction)).toEqual([tx]);
  });

  it("publishes a timed-out client request's late answer with its transaction (none if the client sent none)", () => {
    const { wait, frame, events, table } = setup();
    const first = wait('info', 'late-1');
    const second = wait('info', undefined);
    table.failAll({ name: 'connection_lost', code: 612, reason: 'x' });
    frame({ janus: 'server_info', transaction: first.tx });
    frame({ janus: 'server_info', transaction: second.tx });
    expect(events.map((e) => e.message.transaction)).toEqual(['late-1', undefined]);
  });

  it('never publishes late answers to its own requests, and hands back a session created too late', () => {
    const { wait, frame, events, table, late } = setup();
    const create = wait('create', undefined, true);
    const keepalive = wait('keepalive', undefined, true);
    table.failAll({ name: 'timeout', code: 610, reason: 'x' });
    frame({ janus: 'success', transaction: create.tx, data: { id: 4242 } });
    frame({ janus: 'error', transaction: keepalive.tx, error: { code: 458 } });
    expect(late).toHaveBeenCalledWith(4242);
    expect(events).toEqual([]);
  });

  it('passes notifications as Janus sent them, drops bare acks, reports the expiry of its own session only', () => {
    const { frame, events, expired, router } = setup(77);
    router.frame('{"janus":"hangup","session_id":77,"sender":5}');
    frame({ janus: 'ack', session_id: 77 });
    frame({ janus: 'timeout', session_id: 12 });
    expect(expired).not.toHaveBeenCalled();
    frame({ janus: 'timeout', session_id: 77 });
    expect(expired).toHaveBeenCalledTimes(1);
    expect(events.map((e) => e.message.janus)).toEqual(['hangup', 'timeout', 'timeout']);
    expect(events[0]!.text).toBe('{"janus":"hangup","session_id":77,"sender":5}');
  });

  it('drops frames that are not Janus messages', () => {
    const { router, events, unknown } = setup();
    router.frame('not json');
    router.frame('[1]');
    router.frame('{"transaction":"x"}');
    expect(events).toEqual([]);
    expect(unknown).toEqual([]);
  });

  it("passes Janus's indented text with only the transaction replaced: answers, follow-ups, relayed answers", () => {
    const { router, wait, events, table } = setup();
    // As Janus writes with its default `json = "indented"`.
    const indented = (tx: string, n: number) =>
      `{\n   "janus": "event",\n   "session_id": 77,\n   "sender": 5,\n   "transaction": "${tx}",\n   "plugindata": ` +
      `{\n      "data": {\n         "n": ${n}\n      }\n   }\n}`;
    const first = wait('message', 'client-1');
    router.frame(indented(first.tx, 1));
    expect(first.outcomes).toEqual([
      { ok: true, answer: JSON.parse(indented('client-1', 1)), text: indented('client-1', 1) },
    ]);
    router.frame(indented(first.tx, 2));
    expect(events.map((e) => e.text)).toEqual([indented('client-1', 2)]);
    const second = wait('message', 'client-2');
    expect(router.relayed(indented(second.tx, 3))).toBe(true);
    expect(second.outcomes).toEqual([
      { ok: true, answer: JSON.parse(indented('client-2', 3)), text: indented('client-2', 3) },
    ]);
    expect(table.size).toBe(0);
  });

  it('hands an answer to a transaction it never sent to onUnknownAnswer, as Janus sent it, and not as an event', () => {
    const { frame, events, unknown } = setup();
    frame({ janus: 'event', transaction: 'other-process-1', plugindata: { data: { x: 1 } } });
    frame({ janus: 'ack', transaction: 'other-process-2' });
    expect(events).toEqual([]);
    expect(unknown.map((text) => JSON.parse(text))).toEqual([
      { janus: 'event', transaction: 'other-process-1', plugindata: { data: { x: 1 } } },
    ]);
  });

  it('routes a relayed answer to its waiting request, and declines one that answers none of its transactions', () => {
    const { router, wait, events, unknown } = setup();
    const { tx, outcomes } = wait('message', 'client-9');
    expect(router.relayed(JSON.stringify({ janus: 'event', transaction: 'someone-else', plugindata: {} }))).toBe(false);
    expect(router.relayed('not json')).toBe(false);
    expect(router.relayed(JSON.stringify({ janus: 'event', transaction: tx, plugindata: { data: { ok: 1 } } }))).toBe(
      true,
    );
    expect(outcomes).toEqual([answered({ janus: 'event', transaction: 'client-9', plugindata: { data: { ok: 1 } } })]);
    // A later relayed event with the same transaction is an event with the client's transaction, not an unknown answer.
    expect(router.relayed(JSON.stringify({ janus: 'event', transaction: tx, plugindata: { data: { ok: 2 } } }))).toBe(
      true,
    );
    expect(events.map((e) => e.message.transaction)).toEqual(['client-9']);
    expect(unknown).toEqual([]);
  });

  it('logs a frame whose handling throws as "frame handling failed" (error, not frame), routes the next one', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const delivered: string[] = [];
    const router = new FrameRouter(
      { ttlMs: 60_000, max: 100 },
      {
        transactions: () => new TransactionTable(60_000, () => {}),
        sessionId: () => 1,
        onEvent: (message) => {
          if (message.janus === 'hangup') throw new Error('BAD_HEADER');
          delivered.push(message.janus);
        },
        onUnknownAnswer: () => {},
        onSessionExpired: () => {},
        onLateSession: () => {},
      },
      createLogger('debug', sink),
    );
    expect(() => router.frame(JSON.stringify({ janus: 'hangup', reason: 'the s3cr3t frame' }))).not.toThrow();
    router.frame(JSON.stringify({ janus: 'webrtcup' }));
    expect(delivered).toEqual(['webrtcup']);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'frame handling failed', err: 'BAD_HEADER' }),
    );
    expect(JSON.stringify(lines)).not.toContain('s3cr3t');
  });
});
