/**
 * Every failure the client reports is one of these classes, never a bare string:
 *
 * - JanusError: Janus itself refused the request (its `error.code`: 403, 450–499);
 * - BridgeError: the bridge refused or could not complete it (600–699, from the one table);
 * - NoRespondersError: nobody serves that janus_id on NATS;
 * - TimeoutError: the NATS request itself got no reply in time;
 * - HandleEndedError: a call on a handle that has ended (detached, session lost, closed);
 * A plugin's own refusal (`plugindata.data.error_code`) is not among them: the core resolves
 * with that data (the request reached the plugin, which answered); the plugin helpers
 * (src/plugins) throw their PluginError for it.
 *
 * All extend JanusNatsError, so `catch (e) { if (e instanceof JanusNatsError) … }` catches
 * everything this package throws.
 */
import type { HandleEnd } from './handle-api.js';
import { BRIDGE_ERRORS, bridgeErrorName, RETRYABLE_BRIDGE_ERRORS, type BridgeErrorName } from './errors-table.js';

export class JanusNatsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // `name` is the class name, except where a subclass says otherwise (BridgeError).
    Object.defineProperty(this, 'name', {
      value: new.target.name,
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }
}

/** The `error` member of a Janus (or bridge) error reply. */
export interface ErrorBody {
  readonly code: number;
  readonly reason: string;
}

/** Janus's own error (`{"janus":"error","error":{"code":458,"reason":"No such session …"}}`): 403, 450–499. */
export class JanusError extends JanusNatsError {
  readonly code: number;
  readonly reason: string;
  /** The whole reply. */
  readonly reply: Readonly<Record<string, unknown>>;

  constructor(error: ErrorBody, reply: Readonly<Record<string, unknown>>) {
    super(`Janus error ${error.code}: ${error.reason}`);
    this.code = error.code;
    this.reason = error.reason;
    this.reply = reply;
  }
}

/** The name BridgeError takes for a 600–699 code the table does not hold (a newer bridge). */
export const UNKNOWN_BRIDGE_ERROR = 'unknown_bridge_error';

/**
 * The bridge's own error, 600–699 (README, "Errors"). `name` is the table's name
 * (`timeout`, `unavailable`, …), `reason` the bridge's text with its detail, `action` what to do,
 * `retryable` whether the same request may succeed later (610–613).
 */
export class BridgeError extends JanusNatsError {
  override readonly name: BridgeErrorName | typeof UNKNOWN_BRIDGE_ERROR;
  readonly code: number;
  readonly reason: string;
  readonly action: string;
  readonly retryable: boolean;
  readonly reply: Readonly<Record<string, unknown>>;

  constructor(error: ErrorBody, reply: Readonly<Record<string, unknown>> = { janus: 'error', error }) {
    const name = bridgeErrorName(error.code);
    super(`bridge error ${error.code} (${name ?? UNKNOWN_BRIDGE_ERROR}): ${error.reason}`);
    this.name = name ?? UNKNOWN_BRIDGE_ERROR;
    this.code = error.code;
    this.reason = error.reason;
    this.action = name ? BRIDGE_ERRORS[name].action : '';
    this.retryable = name ? RETRYABLE_BRIDGE_ERRORS.has(name) : false;
    this.reply = reply;
  }
}

/** Nobody serves `subject` (nats.js ErrorCode.NoResponders): no bridge runs for that janus_id, or the id is wrong. */
export class NoRespondersError extends JanusNatsError {
  constructor(
    readonly subject: string,
    readonly janusId: string,
    cause?: unknown,
  ) {
    super(`no bridge serves janus_id "${janusId}" (no responders on ${subject})`, { cause });
  }
}

/**
 * The NATS request got no reply within `timeout` ms. The bridge answers 610 before that when
 * it is up (the call's timeout travels as Janus-Timeout), so this means the bridge itself did
 * not answer: unreachable, overloaded, or a bridge without Janus-Timeout support and a longer
 * janus.cmdTimeout.
 */
export class TimeoutError extends JanusNatsError {
  constructor(
    readonly subject: string,
    readonly timeout: number,
    cause?: unknown,
  ) {
    super(`no reply on ${subject} within ${timeout} ms`, { cause });
  }
}

/** A call on a handle that has ended; `end` says why (detached, session-replaced, closed). */
export class HandleEndedError extends JanusNatsError {
  constructor(
    readonly handleId: number,
    readonly end: HandleEnd,
  ) {
    super(`handle ${handleId} has ended (${end.reason}: ${end.detail})`);
  }
}

/**
 * The error a `{"janus":"error"}` reply stands for: a BridgeError when the bridge sent it (its
 * code is 600–699, or it carries the Nats-Service-Error-Code header), else a JanusError.
 */
export function errorFromReply(
  reply: Readonly<Record<string, unknown>>,
  serviceErrorCode?: string,
): JanusError | BridgeError {
  const raw = reply.error as { code?: unknown; reason?: unknown } | undefined;
  const headerCode = serviceErrorCode ? Number(serviceErrorCode) : NaN;
  const code = typeof raw?.code === 'number' ? raw.code : Number.isInteger(headerCode) ? headerCode : 0;
  const reason = typeof raw?.reason === 'string' ? raw.reason : 'no reason given';
  const fromBridge = (code >= 600 && code <= 699) || Number.isInteger(headerCode);
  return fromBridge ? new BridgeError({ code, reason }, reply) : new JanusError({ code, reason }, reply);
}
