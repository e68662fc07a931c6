/**
 * Answering NATS requests: Janus's answer as it is, or a bridge error with the service error
 * headers; only on reply subjects a client may own, and never with an exception escaping.
 */
import { ErrorCode, headers, type Msg } from 'nats';
import { bridgeError, type BridgeError } from '../errors.js';
import { errorReply, type JanusMessage } from '../janus/protocol.js';
import type { Logger } from '../log.js';
import type { AnswerMetrics, PublishKind, RefusedReplyKind } from './reporting.js';
import { cleanHeaderValue } from './event-meta.js';
import { isAcceptableReplySubject, subjectForLog } from './subjects.js';

/** Where answering reports what went wrong: always logged, counted when metrics are at hand. */
export interface AnswerReport {
  readonly log: Logger;
  readonly metrics?: AnswerMetrics | undefined;
}

/**
 * Whether a request may be acted on: it has no reply subject, or one the bridge may publish
 * on (isAcceptableReplySubject). A refusal is logged and counted; the caller then does nothing
 * at all, so that a forged reply subject gets neither an answer nor a side effect.
 */
export function mayAnswer(msg: Msg, prefix: string, kind: RefusedReplyKind, report: AnswerReport): boolean {
  if (!msg.reply || isAcceptableReplySubject(msg.reply, prefix)) return true;
  report.log.warn(
    { kind, reply_subject: subjectForLog(msg.reply), reply_bytes: Buffer.byteLength(msg.reply) },
    'request refused: the bridge does not publish replies on its reply subject',
  );
  report.metrics?.replySubjectRefused(kind);
  return false;
}

/**
 * msg.respond that never throws. False when NATS refused the message (too large for
 * max_payload, a header it rejects, the connection closing): then logged with the client's
 * error code, never the payload, and counted.
 */
export function respondSafely(
  msg: Msg,
  data: Uint8Array,
  headerValues: ReadonlyArray<readonly [string, string]> | undefined,
  kind: PublishKind,
  report: AnswerReport,
): boolean {
  return tryRespond(msg, data, headerValues, kind, report) === undefined;
}

/** Like respondSafely, returning what NATS threw (undefined when the reply went out). */
function tryRespond(
  msg: Msg,
  data: Uint8Array,
  headerValues: ReadonlyArray<readonly [string, string]> | undefined,
  kind: PublishKind,
  report: AnswerReport,
): unknown {
  try {
    if (!headerValues) {
      msg.respond(data);
    } else {
      const h = headers();
      for (const [name, value] of headerValues) h.set(name, value);
      msg.respond(data, { headers: h });
    }
    return undefined;
  } catch (err) {
    report.log.warn(
      {
        kind,
        code: errorCode(err),
        err: errorText(err),
        bytes: data.byteLength,
        with_headers: headerValues !== undefined,
      },
      'reply not sent',
    );
    report.metrics?.publishFailed(kind);
    return err ?? new Error('unknown');
  }
}

/** An object as a JSON reply, never throwing (see respondSafely). */
export function respondJson(msg: Msg, body: unknown, kind: PublishKind, report: AnswerReport): boolean {
  let data: Buffer;
  try {
    data = Buffer.from(JSON.stringify(body));
  } catch (err) {
    report.log.error({ kind, err: errorText(err) }, 'reply not sent: it cannot be serialised');
    report.metrics?.publishFailed(kind);
    return false;
  }
  return respondSafely(msg, data, undefined, kind, report);
}

/**
 * Sends Janus's answer (`text`, its JSON as Janus wrote it). Too large for a NATS message, it
 * goes compact (Janus indents by default: often half the bytes); still too large, error 614
 * is sent (and returned) instead. An answer NATS refuses is logged and counted, never thrown.
 */
export function replyWithAnswer(
  msg: Msg,
  answer: JanusMessage,
  text: string,
  maxPayload: number,
  report: AnswerReport,
): BridgeError | undefined {
  let data = Buffer.from(text);
  if (data.byteLength > maxPayload) data = Buffer.from(JSON.stringify(answer));
  if (data.byteLength <= maxPayload) {
    const failure = tryRespond(msg, data, undefined, 'reply', report);
    // A server with a smaller max_payload than we knew (a reconnect to another one) still gets
    // the client its 614; any other refusal (the connection closing) would refuse that as well.
    if (failure === undefined || errorCode(failure) !== ErrorCode.MaxPayloadExceeded) return undefined;
  }
  const error = bridgeError('reply_too_large', `${data.byteLength} bytes, NATS max_payload ${maxPayload}`);
  replyWithError(msg, error, answer.transaction, report);
  return error;
}

/**
 * Sends a bridge error. Should NATS refuse it (a client transaction that makes it too large,
 * a header value nats.js rejects), a plain error without headers or transaction follows: the
 * smallest reply that still tells the client what went wrong, rather than none.
 */
export function replyWithError(
  msg: Msg,
  error: BridgeError,
  clientTransaction: string | undefined,
  report: AnswerReport,
): void {
  if (
    respondSafely(
      msg,
      Buffer.from(JSON.stringify(errorReply(error, clientTransaction))),
      errorHeaders(error),
      'reply',
      report,
    )
  )
    return;
  respondSafely(msg, Buffer.from(JSON.stringify(errorReply(error, undefined))), undefined, 'reply', report);
}

/** The NATS services convention's error headers; the reason is prose, cleaned rather than left out. */
export function errorHeaders(error: BridgeError): Array<[string, string]> {
  return [
    ['Nats-Service-Error-Code', String(error.code)],
    ['Nats-Service-Error', cleanHeaderValue(error.reason)],
  ];
}

/** nats.js errors carry a code (MAX_PAYLOAD_EXCEEDED, BAD_HEADER, CONNECTION_CLOSED…); anything else, its name. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  return err instanceof Error ? err.name : typeof err;
}

/**
 * The longest error message a log line carries: messages are short, and one that quotes input must not flood the log.
 */
const ERROR_TEXT_CHARS = 200;

/** An error's message for a log line, bounded. */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > ERROR_TEXT_CHARS ? `${text.slice(0, ERROR_TEXT_CHARS)}…` : text;
}
