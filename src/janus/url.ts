/**
 * Janus WebSocket URLs as users write them: the OpenSIPS forms `janusws://` and
 * `januswss://`, or plain `ws://` / `wss://`. Path and query are kept as given.
 */
const SCHEMES: Record<string, 'ws:' | 'wss:'> = {
  'janusws:': 'ws:',
  'januswss:': 'wss:',
  'ws:': 'ws:',
  'wss:': 'wss:',
};

/** Query parameters that carry credentials and never appear in logs, events or status. */
export const SECRET_QUERY_PARAMS = ['apisecret', 'token', 'password', 'secret'];

/** Query parameters that are Janus API credentials: taken out of the URL and put on every request. */
const CREDENTIAL_PARAMS = { apisecret: 'apiSecret', token: 'token' } as const;

export interface JanusCredentials {
  readonly apiSecret?: string;
  readonly token?: string;
}

export interface JanusUrl {
  /** What the WebSocket client dials: without the Janus credentials. */
  readonly wsUrl: string;
  /** What may be shown to anyone: remaining credentials replaced by `***`. */
  readonly redacted: string;
  /** `apisecret` and `token` from the query, sent in each request instead of the URL. */
  readonly credentials: JanusCredentials;
}

export type ParsedUrl = { ok: true; url: JanusUrl } | { ok: false; reason: string };

export function parseJanusUrl(input: string): ParsedUrl {
  if (typeof input !== 'string' || input.trim() === '') return { ok: false, reason: 'URL is empty' };
  const match = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(input.trim());
  if (!match) return { ok: false, reason: 'URL must start with janusws://, januswss://, ws:// or wss://' };
  const scheme = SCHEMES[match[1]!.toLowerCase()];
  if (!scheme) return { ok: false, reason: `unsupported scheme "${match[1]}" (use janusws://, januswss://, ws:// or wss://)` };
  let url: URL;
  try {
    url = new URL(scheme + input.trim().slice(match[1]!.length));
  } catch {
    return { ok: false, reason: 'URL cannot be parsed (check host, port and IPv6 brackets)' };
  }
  if (!url.hostname) return { ok: false, reason: 'URL has no host' };
  if (input.includes('#')) return { ok: false, reason: 'URL must not have a #fragment' };
  const credentials: { apiSecret?: string; token?: string } = {};
  for (const key of [...url.searchParams.keys()]) {
    const field = CREDENTIAL_PARAMS[key.toLowerCase() as keyof typeof CREDENTIAL_PARAMS];
    if (!field) continue;
    credentials[field] = url.searchParams.get(key)!;
    url.searchParams.delete(key);
  }
  return { ok: true, url: { wsUrl: url.toString(), redacted: redactUrl(url), credentials } };
}

function redactUrl(source: URL): string {
  const url = new URL(source.toString());
  if (url.username) url.username = '***';
  if (url.password) url.password = '***';
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_QUERY_PARAMS.includes(key.toLowerCase())) url.searchParams.set(key, '***');
  }
  // URLSearchParams encodes '*'; keep the marker readable.
  return url.toString().replace(/%2A%2A%2A/g, '***');
}
