/**
 * The CLI's exit statuses, and how an error becomes one: a line on stderr naming the class,
 * the code and the reason (or a JSON object with --json), never a secret.
 */
import { ErrorCode, NatsError } from 'nats';
import {
  BridgeError,
  HandleEndedError,
  JanusError,
  JanusNatsError,
  NoRespondersError,
  TimeoutError,
} from '../errors.js';

export const EXIT = {
  ok: 0,
  /**
   * A usage error: unknown command or option, missing argument, an argument that is not the JSON or number it must be,
   * an option's file unreadable.
   */
  usage: 1,
  /** Janus refused the request (JanusError: codes below 600; the API's 403, 450–499, the Admin API's too). */
  janus: 2,
  /** The bridge refused or could not complete it (BridgeError: 600–699). */
  bridge: 3,
  /** Nobody serves that janus_id (or that admin subject): NATS "no responders". */
  noResponders: 4,
  /** No reply on NATS in time (TimeoutError): the bridge did not answer at all. */
  timeout: 5,
  /** The NATS connection failed: unreachable, refused, authentication, TLS, or lost. */
  connection: 6,
  /** A reload answered `ok: false` (the bridge kept its running list). */
  reloadFailed: 7,
  /** Anything else: an unexpected reply, an internal error. */
  other: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit statuses as the README and --help list them. */
export const EXIT_HELP = `Exit status:
  0  success
  1  usage error (unknown command or option, bad JSON or number argument, unreadable file)
  2  Janus error (JanusError: Janus refused the request, codes below 600, e.g. 403, 458, 459)
  3  bridge error (BridgeError 600-699, e.g. 604 verb refused, 608 Admin API verb refused,
     609 no janus_admin_url, 610 Janus did not answer in time)
  4  no responders (no bridge serves that janus_id, or nobody answers that admin subject)
  5  timeout (TimeoutError: no reply on NATS at all within --timeout + 1 s)
  6  NATS connection failure (unreachable, authentication, TLS, connection lost)
  7  reload failed (a replica answered {"ok":false})
  8  any other error`;

/** An error the CLI raises itself, with its exit status. */
export class CliError extends Error {
  constructor(
    readonly className: string,
    readonly exit: ExitCode,
    message: string,
    readonly code?: string | number,
  ) {
    super(message);
  }
}

/** What is printed for an error, and the exit status. */
export interface Failure {
  readonly exit: ExitCode;
  /** The error's class (JanusError, BridgeError, NoRespondersError, TimeoutError, NatsError, …). */
  readonly class: string;
  readonly code?: number | string;
  /** BridgeError: the table's name (`timeout`, `verb_refused`, …). */
  readonly name?: string;
  readonly reason: string;
  readonly action?: string;
  readonly retryable?: boolean;
}

/** nats.js error codes that mean the connection itself failed. */
const CONNECTION_CODES = new Set<string>([
  ErrorCode.ConnectionClosed,
  ErrorCode.ConnectionDraining,
  ErrorCode.ConnectionRefused,
  ErrorCode.ConnectionTimeout,
  ErrorCode.Disconnect,
  ErrorCode.AuthorizationViolation,
  ErrorCode.AuthenticationExpired,
  ErrorCode.AuthenticationTimeout,
  ErrorCode.PermissionsViolation,
  ErrorCode.ServerOptionNotAvailable,
  ErrorCode.BadAuthentication,
  ErrorCode.BadCreds,
  ErrorCode.AccountExpired,
  ErrorCode.Tls,
]);

function natsErrorIn(err: unknown): NatsError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof NatsError) return e;
  }
  return undefined;
}

export function describeFailure(err: unknown): Failure {
  if (err instanceof CliError)
    return {
      exit: err.exit,
      class: err.className,
      ...(err.code !== undefined ? { code: err.code } : {}),
      reason: err.message,
    };
  if (err instanceof BridgeError) {
    return {
      exit: EXIT.bridge,
      class: 'BridgeError',
      code: err.code,
      name: err.name,
      reason: err.reason,
      ...(err.action ? { action: err.action } : {}),
      retryable: err.retryable,
    };
  }
  if (err instanceof JanusError) return { exit: EXIT.janus, class: 'JanusError', code: err.code, reason: err.reason };
  if (err instanceof NoRespondersError)
    return { exit: EXIT.noResponders, class: 'NoRespondersError', reason: err.message };
  if (err instanceof TimeoutError) return { exit: EXIT.timeout, class: 'TimeoutError', reason: err.message };
  if (err instanceof HandleEndedError) return { exit: EXIT.other, class: 'HandleEndedError', reason: err.message };
  const nats = natsErrorIn(err);
  if (nats && CONNECTION_CODES.has(nats.code)) {
    return {
      exit: EXIT.connection,
      class: 'NatsError',
      code: nats.code,
      reason: err === nats ? nats.message : `${(err as Error).message}`,
    };
  }
  if (err instanceof JanusNatsError) return { exit: EXIT.other, class: err.constructor.name, reason: err.message };
  if (nats) return { exit: EXIT.other, class: 'NatsError', code: nats.code, reason: nats.message };
  return {
    exit: EXIT.other,
    class: err instanceof Error ? err.constructor.name : 'Error',
    reason: err instanceof Error ? err.message : String(err),
  };
}

/** One line for humans: `JanusError 460: No such plugin …`, `BridgeError 604 verb_refused: … (what to do: …)`. */
export function failureLine(f: Failure): string {
  const head = [f.class, f.code, f.name].filter((part) => part !== undefined && part !== '').join(' ');
  return `${head}: ${f.reason}${f.action ? ` (what to do: ${f.action})` : ''}`;
}

/**
 * Replaces every secret (password, token, the user info of a URL) in `text` with `***`:
 * error texts from nats.js or the bridge never carry them, and this makes sure of it.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@');
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
  return out;
}
