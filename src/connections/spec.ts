import { isSubjectToken } from '../nats-names.js';
import { parseJanusUrl, type JanusUrl } from '../janus/url.js';

/*
 * Length limits, in UTF-8 bytes because the NATS server counts a protocol line in bytes
 * (max_control_line, 4096 by default) and closes the connection of a client that sends a
 * longer one: a single SUB for an over-long id took every subscription of the bridge down
 * with it, reconnecting and closed again forever. The longest lines the bridge writes are
 *   SUB  <prefix>.request.<janus_id> janus-nats-bridge <sid>  (and <prefix>.adminapi.<janus_id>, one byte longer)
 *   HPUB <prefix>.event.<janus_id>.plugin.<plugin token> <header bytes> <total bytes>
 *   HPUB <prefix>.event.<janus_id>.handle.<16 digits> …, PUB <prefix>.relay.<janus_id> <inbox> …
 * and, with several replicas, the lease key in the KV bucket, where the id may triple
 * (ha/lease-record.ts). At both limits the first stay under 400 bytes plus the plugin
 * token and the lease lines under 1 KiB (test/unit/janus-id.test.ts adds them up).
 */

/** Longest janus_id, in UTF-8 bytes. */
export const JANUS_ID_MAX_BYTES = 200;

/** Longest nats.subjectPrefix, in UTF-8 bytes. */
export const SUBJECT_PREFIX_MAX_BYTES = 128;

export function utf8Length(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/**
 * Why `id` cannot be a janus_id, or undefined when it can: it goes into subjects as one
 * token. The reason never repeats the id: an over-long one may be kilobytes.
 */
export function janusIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string' || id.trim() === '') return 'janus_id is empty';
  const bytes = utf8Length(id);
  if (bytes > JANUS_ID_MAX_BYTES)
    return `janus_id is ${bytes} bytes long, at most ${JANUS_ID_MAX_BYTES} bytes (UTF-8) are allowed`;
  if (!isSubjectToken(id)) return 'janus_id cannot be a NATS subject token (no spaces, dots, * or >)';
  // NATS takes them, but they would reach headers and log lines as they are.
  if (/[\u0000-\u001f\u007f]/.test(id)) return 'janus_id holds a control character';
  return undefined;
}

/** A janus_id fit for a log line or a reload summary: an over-long one is cut, with its length. */
export function shownJanusId(id: string): string {
  const bytes = utf8Length(id);
  if (bytes <= JANUS_ID_MAX_BYTES) return id;
  return `${[...id].slice(0, 32).join('')}… (${bytes} bytes)`;
}

/** One entry of a connection list as the config file writes it (the SQL table's row has the same columns). */
export interface ConnectionEntry {
  janus_id: string;
  janus_url: string;
  /** The Admin API's WebSocket, e.g. janusws://10.0.0.5:7188/admin?admin_secret=…; optional. */
  janus_admin_url?: string;
}

/** One Janus server the bridge may serve, as the connection list names it. */
export interface ConnectionSpec {
  readonly janusId: string;
  /** The URL as configured (may hold credentials: never log it, use url.redacted). */
  readonly configuredUrl: string;
  readonly url: JanusUrl;
  /** janus_admin_url as configured, when set (holds the admin secret: never log it, use adminUrl.redacted). */
  readonly configuredAdminUrl?: string;
  /** The Admin API's WebSocket (janus_admin_url), its `admin_secret` taken out. */
  readonly adminUrl?: JanusUrl;
}

/** An entry of the list that could not be used, with the reason; the rest still load. */
export interface SkippedEntry {
  readonly row: string;
  readonly janusId: string;
  readonly reason: string;
}

export interface ConnectionList {
  readonly specs: readonly ConnectionSpec[];
  readonly skipped: readonly SkippedEntry[];
}

/**
 * Where the list comes from: the config file or an SQL table. A source only reads;
 * what changed and what to do about it is decided elsewhere.
 */
export interface ConnectionSource {
  /** For logs: "config file", "postgres://db/janus (table janus)", … */
  readonly description: string;
  load(): Promise<ConnectionList>;
}

/** Builds a spec, or says why the entry is unusable. An empty or absent `configuredAdminUrl` means no Admin API. */
export function toSpec(
  janusId: string,
  configuredUrl: string,
  configuredAdminUrl?: string | null,
): { ok: true; spec: ConnectionSpec } | { ok: false; reason: string; field: 'janus_url' | 'janus_admin_url' } {
  const parsed = parseJanusUrl(configuredUrl);
  if (!parsed.ok) return { ok: false, reason: parsed.reason, field: 'janus_url' };
  if (configuredAdminUrl === undefined || configuredAdminUrl === null || configuredAdminUrl.trim() === '') {
    return { ok: true, spec: { janusId, configuredUrl, url: parsed.url } };
  }
  const admin = parseJanusUrl(configuredAdminUrl, 'admin');
  if (!admin.ok) return { ok: false, reason: admin.reason, field: 'janus_admin_url' };
  return { ok: true, spec: { janusId, configuredUrl, url: parsed.url, configuredAdminUrl, adminUrl: admin.url } };
}
