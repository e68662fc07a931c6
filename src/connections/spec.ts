import { parseJanusUrl, type JanusUrl } from '../janus/url.js';

/** One Janus server the bridge may serve, as the connection list names it. */
export interface ConnectionSpec {
  readonly janusId: string;
  /** The URL as configured (may hold credentials: never log it, use url.redacted). */
  readonly configuredUrl: string;
  readonly url: JanusUrl;
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

/** Builds a spec, or says why the entry is unusable. */
export function toSpec(janusId: string, configuredUrl: string): { ok: true; spec: ConnectionSpec } | { ok: false; reason: string } {
  const parsed = parseJanusUrl(configuredUrl);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  return { ok: true, spec: { janusId, configuredUrl, url: parsed.url } };
}
