/**
 * `<prefix>.request.<janus_id>`: validate, hand to the connection, answer. A message
 * without a reply subject is fire-and-forget: sent, not tracked.
 */
import { Match, type Msg, type NatsConnection, type Subscription } from 'nats';
import type { BridgeError } from '../errors.js';
import { parseClientRequest, type JanusMessage } from '../janus/protocol.js';
import type { AnswerOrError } from '../janus/transactions.js';
import type { Logger } from '../log.js';
import { outcomeOf, type AnswerMetrics, type RequestOutcome } from './reporting.js';
import { requestDeadline, TIMEOUT_HEADER } from './deadline.js';
import { errorCode, errorText, mayAnswer, replyWithAnswer, replyWithError, type AnswerReport } from './replies.js';
import { prefixOfRequestSubject, REQUEST_QUEUE_GROUP } from './subjects.js';

/** What the request side needs of a Janus connection. */
export interface RequestTarget {
  request(message: JanusMessage, clientTransaction: string | undefined, timeoutMs?: number): Promise<AnswerOrError>;
  fireAndForget(message: JanusMessage, clientTransaction: string | undefined): BridgeError | undefined;
}

/** Told how each request ended (metrics, service statistics). */
export type RequestObserver = (outcome: RequestOutcome, seconds: number, error?: BridgeError) => void;

export interface RequestServerOptions {
  readonly nc: NatsConnection;
  /** `<prefix>.request.<janus_id>`. */
  readonly subject: string;
  readonly target: RequestTarget;
  readonly maxMessageBytes: number;
  /** janus.cmdTimeout: the longest a request waits, whatever its Janus-Timeout says. */
  readonly cmdTimeoutMs: number;
  readonly log: Logger;
  readonly observe: RequestObserver;
  /** Counts replies NATS refused and requests refused for their reply subject. */
  readonly metrics?: AnswerMetrics;
}

/** The Janus-Timeout header, in any case, or undefined when absent. */
export function timeoutHeader(msg: Msg): string | undefined {
  const headers = msg.headers;
  return headers?.has(TIMEOUT_HEADER, Match.IgnoreCase) ? headers.get(TIMEOUT_HEADER, Match.IgnoreCase) : undefined;
}

/** The most of a client's verb a log line shows. */
const VERB_IN_LOG_CHARS = 64;

export function serveRequests(options: RequestServerOptions): Subscription {
  const { nc, subject, target, maxMessageBytes, cmdTimeoutMs, log, observe } = options;
  const prefix = prefixOfRequestSubject(subject);
  const report: AnswerReport = { log, metrics: options.metrics };
  const handle = async (msg: Msg): Promise<void> => {
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    if (!mayAnswer(msg, prefix, 'request', report)) {
      observe('rejected', seconds());
      return;
    }
    const parsed = parseClientRequest(msg.data, maxMessageBytes);
    if (!parsed.ok) {
      if (msg.reply) replyWithError(msg, parsed.error, parsed.clientTransaction, report);
      else log.warn({ code: parsed.error.code, reason: parsed.error.reason }, 'fire-and-forget request refused');
      observe('rejected', seconds(), parsed.error);
      return;
    }
    if (!msg.reply) {
      const error = target.fireAndForget(parsed.message, parsed.clientTransaction);
      // Those refused by a connection being stopped are expected (a reload, a hand-over): not a warning each.
      if (error)
        log[error.name === 'shutting_down' ? 'debug' : 'warn'](
          { code: error.code, reason: error.reason, verb: parsed.message.janus.slice(0, VERB_IN_LOG_CHARS) },
          'fire-and-forget request not sent',
        );
      observe(error ? outcomeOf(error) : 'ok', seconds(), error);
      return;
    }
    const deadline = requestDeadline(timeoutHeader(msg), cmdTimeoutMs);
    if (!deadline.ok) {
      replyWithError(msg, deadline.error, parsed.clientTransaction, report);
      observe('rejected', seconds(), deadline.error);
      return;
    }
    const outcome = await target.request(
      parsed.message,
      parsed.clientTransaction,
      deadline.timeoutMs < cmdTimeoutMs ? deadline.timeoutMs : undefined,
    );
    if (outcome.ok) {
      const error = replyWithAnswer(msg, outcome.answer, outcome.text, nc.info?.max_payload ?? maxMessageBytes, report);
      observe(error ? 'rejected' : outcomeOf(outcome.answer), seconds(), error);
    } else {
      replyWithError(msg, outcome.error, parsed.clientTransaction, report);
      observe(outcomeOf(outcome.error), seconds(), outcome.error);
    }
  };
  return nc.subscribe(subject, {
    queue: REQUEST_QUEUE_GROUP,
    callback: (err, msg) => {
      if (err) {
        log.error({ err: err.message, subject }, 'request subscription failed');
        return;
      }
      // handle() is async: whatever it throws becomes this rejection, never an exception in nats.js's reader.
      handle(msg).catch((error: unknown) =>
        log.error({ code: errorCode(error), err: error, subject }, `request handling failed: ${errorText(error)}`),
      );
    },
  });
}
