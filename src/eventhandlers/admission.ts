/**
 * Who may open an event-handler link: the WebSocket upgrade's path names the Janus
 * (`/<janus_id>`, an id of the current connection list) and, when a secret is configured,
 * its query carries it (`?secret=<secret>`). Pure functions.
 *
 * Why the query: wsevh has no credentials of its own. It sends no Authorization or other
 * header of the user's choice, and `user:password@` in its `backend` URL breaks its URL
 * parser (libwebsockets' lws_parse_uri takes `user` for the host: Janus 1.1.2 logs
 * "Connecting to backend websocket server user:0 failed" and disables the handler). The
 * path and query of `backend` are sent as written, so the secret travels there.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Why an upgrade was refused; the metrics' `reason` label. */
export const REFUSAL_REASONS = ['unauthorized', 'unknown_janus_id', 'list_not_loaded', 'stopping'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export const REFUSAL_STATUS: Record<RefusalReason, number> = {
  unauthorized: 401,
  unknown_janus_id: 404,
  list_not_loaded: 503,
  /** The bridge is shutting down: Janus retries, and behind a Service reaches another replica. */
  stopping: 503,
};

export type Admission =
  | { readonly ok: true; readonly janusId: string }
  | { readonly ok: false; readonly reason: RefusalReason; readonly status: number; readonly janusId?: string };

export interface AdmissionRules {
  /** Empty: no secret asked. */
  readonly secret: string;
  /** Whether `janusId` is in the current connection list; undefined while no list is loaded yet. */
  isListed(janusId: string): boolean | undefined;
}

/** The query parameter that carries the secret. */
export const SECRET_PARAMETER = 'secret';

/**
 * Decides on an upgrade request's target (`req.url`: path and query as sent). The secret
 * is checked first, so that a caller without it learns nothing about which ids exist.
 */
export function admit(target: string | undefined, rules: AdmissionRules): Admission {
  const [path = '', query = ''] = (target ?? '').split('?', 2);
  if (rules.secret !== '' && !sameSecret(parameter(query, SECRET_PARAMETER), rules.secret)) {
    return refused('unauthorized');
  }
  const janusId = janusIdOfPath(path);
  if (janusId === undefined) return refused('unknown_janus_id');
  const listed = rules.isListed(janusId);
  if (listed === undefined) return refused('list_not_loaded', janusId);
  return listed ? { ok: true, janusId } : refused('unknown_janus_id', janusId);
}

function refused(reason: RefusalReason, janusId?: string): Admission {
  return { ok: false, reason, status: REFUSAL_STATUS[reason], ...(janusId !== undefined ? { janusId } : {}) };
}

/** `/<janus_id>`, percent-decoded; undefined for any other shape (more segments, empty, bad encoding). */
export function janusIdOfPath(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const segment = path.slice(1);
  if (segment === '' || segment.includes('/')) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The first value of `name` in a query string, percent-decoded (`+` stays `+`: a base64
 * secret survives unencoded). Undefined when absent or badly encoded.
 */
export function parameter(query: string, name: string): string | undefined {
  for (const pair of query.split('&')) {
    const equals = pair.indexOf('=');
    const key = equals < 0 ? pair : pair.slice(0, equals);
    if (key !== name) continue;
    try {
      return decodeURIComponent(equals < 0 ? '' : pair.slice(equals + 1));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Compared in constant time (digests of equal length), so that timing tells nothing of the secret. */
export function sameSecret(given: string | undefined, secret: string): boolean {
  if (given === undefined) return false;
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(secret));
}

/** A request target fit for a log line: the path only (the query holds the secret), cut short. */
export function targetForLog(target: string | undefined): string {
  const path = (target ?? '').split('?', 1)[0] ?? '';
  return path.length > 128 ? `${path.slice(0, 128)}…` : path;
}
