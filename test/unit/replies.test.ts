import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode, NatsError, type Msg, type MsgHdrs } from 'nats';
import {
  errorHeaders,
  mayAnswer,
  replyWithAnswer,
  replyWithError,
  respondJson,
  respondSafely,
  type AnswerReport,
} from '../../src/bridge/replies.js';
import { bridgeError } from '../../src/errors.js';
import type { JanusMessage } from '../../src/janus/protocol.js';
import { createLogger } from '../../src/log.js';
import type { PublishKind, RefusedReplyKind } from '../../src/bridge/reporting.js';

type Sent = { text: string; headers?: MsgHdrs };

/**
 * A NATS message that records what it was answered with. `refuse(attempt)` says whether the
 * attempt-th respond (from 0) throws, and with which nats.js error code.
 */
function request(options: { reply?: string; refuse?: (attempt: number, sent: Sent) => string | undefined } = {}): {
  msg: Msg;
  sent: Sent[];
} {
  const sent: Sent[] = [];
  let attempt = 0;
  const msg = {
    subject: 'janus.request.j1',
    reply: options.reply ?? '_INBOX.abc.1',
    respond: (data: Uint8Array, opts?: { headers?: MsgHdrs }) => {
      const answer = { text: Buffer.from(data).toString(), headers: opts?.headers };
      const code = options.refuse?.(attempt++, answer);
      if (code) throw new NatsError('refused by the test', code);
      sent.push(answer);
      return true;
    },
  };
  return { msg: msg as unknown as Msg, sent };
}

/** A report that keeps its log lines and counts. */
function reporter(): AnswerReport & {
  lines: Array<Record<string, unknown>>;
  failures: PublishKind[];
  refusals: RefusedReplyKind[];
} {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
      done();
    },
  });
  const failures: PublishKind[] = [];
  const refusals: RefusedReplyKind[] = [];
  return {
    log: createLogger('debug', sink),
    metrics: { publishFailed: (kind) => failures.push(kind), replySubjectRefused: (kind) => refusals.push(kind) },
    lines,
    failures,
    refusals,
  };
}

const answer: JanusMessage = {
  janus: 'success',
  transaction: 't',
  plugindata: { data: { list: Array.from({ length: 20 }, (_, i) => ({ id: i })) } },
};
const indented = JSON.stringify(answer, null, 3);
const compact = JSON.stringify(answer);

describe('replyWithAnswer', () => {
  it("sends Janus's text as it is when it fits", () => {
    const { msg, sent } = request();
    expect(replyWithAnswer(msg, answer, indented, 1_000_000, reporter())).toBeUndefined();
    expect(sent).toEqual([{ text: indented, headers: undefined }]);
  });

  it('sends it compact when only the compact form fits', () => {
    const { msg, sent } = request();
    expect(indented.length).toBeGreaterThan(compact.length + 100);
    expect(replyWithAnswer(msg, answer, indented, compact.length, reporter())).toBeUndefined();
    expect(sent).toEqual([{ text: compact, headers: undefined }]);
  });

  it('sends error 614 with the client transaction when neither fits', () => {
    const { msg, sent } = request();
    expect(replyWithAnswer(msg, answer, indented, compact.length - 1, reporter())?.code).toBe(614);
    expect(JSON.parse(sent[0]!.text)).toMatchObject({ janus: 'error', transaction: 't', error: { code: 614 } });
    expect(sent[0]!.headers?.get('Nats-Service-Error-Code')).toBe('614');
  });

  it('sends 614 when NATS finds the answer too large after all (a smaller max_payload), and counts the failure', () => {
    const { msg, sent } = request({ refuse: (attempt) => (attempt === 0 ? ErrorCode.MaxPayloadExceeded : undefined) });
    const report = reporter();
    expect(replyWithAnswer(msg, answer, compact, 1_000_000, report)?.code).toBe(614);
    expect(sent.map((s) => (JSON.parse(s.text) as { error: { code: number } }).error.code)).toEqual([614]);
    expect(report.failures).toEqual(['reply']);
  });

  it('does not throw when NATS refuses the answer for another reason, and logs the code', () => {
    const { msg, sent } = request({ refuse: () => ErrorCode.ConnectionClosed });
    const report = reporter();
    expect(() => replyWithAnswer(msg, answer, compact, 1_000_000, report)).not.toThrow();
    expect(sent).toEqual([]);
    expect(report.failures).toEqual(['reply']);
    expect(report.lines).toContainEqual(
      expect.objectContaining({ msg: 'reply not sent', code: ErrorCode.ConnectionClosed, kind: 'reply' }),
    );
  });
});

describe('replyWithError', () => {
  it('sends the error in Janus shape with the service error headers', () => {
    const { msg, sent } = request();
    replyWithError(msg, bridgeError('invalid_field', 'x'), 'tx', reporter());
    expect(JSON.parse(sent[0]!.text)).toEqual({
      janus: 'error',
      transaction: 'tx',
      error: { code: 605, reason: 'a field has the wrong type: x' },
    });
    expect(sent[0]!.headers?.get('Nats-Service-Error-Code')).toBe('605');
    expect(sent[0]!.headers?.get('Nats-Service-Error')).toBe('a field has the wrong type: x');
  });

  it('sends a reason holding CR and LF with them made spaces in the header, and as it is in the body', () => {
    const { msg, sent } = request();
    const error = { ...bridgeError('connection_lost'), reason: 'closed by peer (1000 bye\r\nNats-Msg-Id: forged)' };
    replyWithError(msg, error, undefined, reporter());
    expect(sent[0]!.headers?.get('Nats-Service-Error')).toBe('closed by peer (1000 bye  Nats-Msg-Id: forged)');
    expect(sent[0]!.headers?.get('Nats-Msg-Id')).toBe('');
    expect((JSON.parse(sent[0]!.text) as { error: { reason: string } }).error.reason).toBe(error.reason);
  });

  it('falls back to a plain error when NATS refuses the first, and logs and counts that without the payload', () => {
    const { msg, sent } = request({ refuse: (attempt) => (attempt === 0 ? ErrorCode.MaxPayloadExceeded : undefined) });
    const report = reporter();
    const transaction = 's3cr3t-'.repeat(1000);
    replyWithError(msg, bridgeError('timeout', '5000 ms'), transaction, report);
    expect(sent).toEqual([
      {
        text: JSON.stringify({
          janus: 'error',
          error: { code: 610, reason: 'no answer from Janus within janus.cmdTimeout: 5000 ms' },
        }),
        headers: undefined,
      },
    ]);
    expect(report.failures).toEqual(['reply']);
    expect(JSON.stringify(report.lines)).not.toContain('s3cr3t');
    expect(report.lines).toContainEqual(
      expect.objectContaining({ msg: 'reply not sent', code: ErrorCode.MaxPayloadExceeded, with_headers: true }),
    );
  });

  it('does not throw when NATS refuses the fallback too (the connection is closed)', () => {
    const { msg, sent } = request({ refuse: () => ErrorCode.ConnectionClosed });
    const report = reporter();
    expect(() => replyWithError(msg, bridgeError('timeout'), 't', report)).not.toThrow();
    expect(sent).toEqual([]);
    expect(report.failures).toEqual(['reply', 'reply']);
  });
});

describe('errorHeaders', () => {
  it('cuts a long reason to at most 1024 bytes', () => {
    const [, [, reason]] = errorHeaders({ ...bridgeError('timeout'), reason: 'é'.repeat(5000) }) as [
      [string, string],
      [string, string],
    ];
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(1024);
    expect(reason.endsWith('…')).toBe(true);
  });
});

describe('respondSafely and respondJson', () => {
  it('count a refused reply under the kind they are given', () => {
    const { msg } = request({ refuse: () => ErrorCode.BadHeader });
    const report = reporter();
    expect(respondSafely(msg, Buffer.from('x'), [['A', 'b']], 'admin', report)).toBe(false);
    expect(respondJson(msg, { a: 1 }, 'admin', report)).toBe(false);
    expect(report.failures).toEqual(['admin', 'admin']);
  });

  it('turn a header value nats.js refuses into a failed reply, not an exception', () => {
    const { msg, sent } = request();
    const report = reporter();
    expect(respondSafely(msg, Buffer.from('x'), [['Janus-Transaction', 'a\nb']], 'reply', report)).toBe(false);
    expect(sent).toEqual([]);
    expect(report.lines).toContainEqual(expect.objectContaining({ code: ErrorCode.BadHeader }));
  });

  it('report a body that cannot be serialised instead of throwing', () => {
    const { msg, sent } = request();
    const report = reporter();
    expect(respondJson(msg, { big: 1n }, 'admin', report)).toBe(false);
    expect(sent).toEqual([]);
    expect(report.failures).toEqual(['admin']);
  });
});

describe('mayAnswer', () => {
  it('lets a request without a reply subject, or with an inbox, through', () => {
    const report = reporter();
    expect(mayAnswer(request({ reply: '' }).msg, 'janus', 'request', report)).toBe(true);
    expect(mayAnswer(request({ reply: '_INBOX.x.1' }).msg, 'janus', 'request', report)).toBe(true);
    expect(report.refusals).toEqual([]);
  });

  it('refuses a reply subject of the bridge, logging it cut short and counting it under its kind', () => {
    const report = reporter();
    const reply = `janus.event.${'x'.repeat(5000)}`;
    expect(mayAnswer(request({ reply }).msg, 'janus', 'admin', report)).toBe(false);
    expect(report.refusals).toEqual(['admin']);
    const line = report.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('request refused'))!;
    expect(String(line.reply_subject).length).toBeLessThan(200);
    expect(line.reply_bytes).toBe(Buffer.byteLength(reply));
  });
});
