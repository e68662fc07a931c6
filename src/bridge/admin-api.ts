/**
 * `<prefix>.adminapi.<janus_id>`: Janus's Admin API, request/reply. The same rules as for
 * requests (reply subjects, validation, deadlines, errors), then the admin rules
 * (src/janus/admin-protocol.ts): read-only verbs pass, others only when allowed; the bridge's
 * admin secret and transaction go on the wire.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { BridgeError } from '../errors.js';
import { checkAdminRequest } from '../janus/admin-protocol.js';
import type { JanusMessage } from '../janus/protocol.js';
import type { AnswerOrError } from '../janus/transactions.js';
import type { Logger } from '../log.js';
import { outcomeOf, type AnswerMetrics, type RequestOutcome } from './reporting.js';
import { requestDeadline } from './deadline.js';
import { errorCode, errorText, mayAnswer, replyWithAnswer, replyWithError, type AnswerReport } from './replies.js';
import { timeoutHeader } from './requests.js';
import { prefixOfRequestSubject, REQUEST_QUEUE_GROUP } from './subjects.js';

/** What the admin side needs of an Admin API link. */
export interface AdminApiTarget {
  request(message: JanusMessage, clientTransaction: string | undefined, timeoutMs?: number): Promise<AnswerOrError>;
}

export interface AdminApiServerOptions {
  readonly nc: NatsConnection;
  /** `<prefix>.adminapi.<janus_id>`. */
  readonly subject: string;
  /**
   * The connection's Admin API link, asked at each request (a reload may add, change or remove it); undefined when it
   * has no janus_admin_url (answered 609).
   */
  readonly target: () => AdminApiTarget | undefined;
  /** adminApi.allowVerbs, lower case: the verbs passed on besides the read-only ones. */
  readonly allowVerbs: ReadonlySet<string>;
  readonly maxMessageBytes: number;
  /** janus.cmdTimeout: the longest a request waits, whatever its Janus-Timeout says. */
  readonly cmdTimeoutMs: number;
  readonly log: Logger;
  readonly observe: (outcome: RequestOutcome, error?: BridgeError) => void;
  readonly metrics?: AnswerMetrics;
}

export function serveAdminApi(options: AdminApiServerOptions): Subscription {
  const { nc, subject, target, allowVerbs, maxMessageBytes, cmdTimeoutMs, log, observe } = options;
  const prefix = prefixOfRequestSubject(subject);
  const report: AnswerReport = { log, metrics: options.metrics };
  const handle = async (msg: Msg): Promise<void> => {
    if (!mayAnswer(msg, prefix, 'adminapi', report)) {
      observe('rejected');
      return;
    }
    if (!msg.reply) {
      // Nobody would see the answer, nor a refusal: an admin request is never sent blind.
      log.warn('Admin API request without a reply subject dropped: the Admin API is request/reply only');
      observe('rejected');
      return;
    }
    const link = target();
    const parsed = checkAdminRequest(msg.data, maxMessageBytes, { configured: link !== undefined, allowVerbs });
    if (!parsed.ok) {
      if (parsed.error.name === 'admin_verb_refused')
        log.warn({ code: parsed.error.code, reason: parsed.error.reason }, 'Admin API verb refused');
      replyWithError(msg, parsed.error, parsed.clientTransaction, report);
      observe('rejected', parsed.error);
      return;
    }
    const deadline = requestDeadline(timeoutHeader(msg), cmdTimeoutMs);
    if (!deadline.ok) {
      replyWithError(msg, deadline.error, parsed.clientTransaction, report);
      observe('rejected', deadline.error);
      return;
    }
    const outcome = await link!.request(
      parsed.message,
      parsed.clientTransaction,
      deadline.timeoutMs < cmdTimeoutMs ? deadline.timeoutMs : undefined,
    );
    if (outcome.ok) {
      const error = replyWithAnswer(msg, outcome.answer, outcome.text, nc.info?.max_payload ?? maxMessageBytes, report);
      observe(error ? 'rejected' : outcomeOf(outcome.answer), error);
    } else {
      replyWithError(msg, outcome.error, parsed.clientTransaction, report);
      observe(outcomeOf(outcome.error), outcome.error);
    }
  };
  return nc.subscribe(subject, {
    // As for requests: during a hand-over both replicas subscribe for a moment, and a request runs once.
    queue: REQUEST_QUEUE_GROUP,
    callback: (err, msg) => {
      if (err) {
        log.error({ err: err.message, subject }, 'Admin API subscription failed');
        return;
      }
      handle(msg).catch((error: unknown) =>
        log.error(
          { code: errorCode(error), err: error, subject },
          `Admin API request handling failed: ${errorText(error)}`,
        ),
      );
    },
  });
}
