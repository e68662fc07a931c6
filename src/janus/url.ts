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

/*
 * Which query parameters are hidden where a URL is shown (logs, events, status, admin
 * answers): any whose name suggests a credential, judged by the words of the name, since
 * the services in front of Janus each name theirs differently (access_token, X-Amz-Signature,
 * apiKey, sig, client_secret, …). When in doubt a value is hidden: a hidden room number
 * costs a little readability, a shown token costs the token.
 */

/**
 * A name word containing one of these is a credential; the few harmless words that hold one (`author`) are hidden too.
 */
const SECRET_STEMS = [
  'token',
  'secret',
  'passw',
  'passphrase',
  'passcode',
  'pincode',
  'pwd',
  'credential',
  'signature',
  'bearer',
  'jwt',
  'auth',
  'session',
  'sessid',
  'cookie',
  'private',
  'hmac',
  'apikey',
];

/**
 * A name word ending in one of these is a credential (api_key, apiKey, secretkey, bypass, …), but `keyframe` is not.
 */
const SECRET_ENDINGS = ['key', 'keys', 'pass', 'sig', 'pw'];

/** Too short to look for inside words: only a whole name word counts. */
const SECRET_WORDS = [
  'access',
  'cred',
  'creds',
  'sid',
  'otp',
  'pin',
  'code',
  'nonce',
  'ticket',
  'sas',
  'hash',
  'salt',
  'seed',
  'sign',
  'cert',
];

/**
 * Splits a parameter name into lower-case words: at anything not a letter (`_`, `-`, `.`,
 * digits, brackets, spaces) and at camelCase humps (`accessToken`, `APIKey`).
 */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^\p{L}]+/u)
    .filter(Boolean)
    .map((word) => word.toLowerCase());
}

/** Whether a query parameter of this name may carry a credential, so its value is never shown. */
export function isSecretParamName(name: string): boolean {
  const words = nameWords(name);
  // The words run together too: a credential word cut by a separator (`sess_id`, `To-Ken`) still counts.
  const joined = words.join('');
  return [joined, ...words].some(
    (word) =>
      SECRET_STEMS.some((stem) => word.includes(stem)) ||
      SECRET_ENDINGS.some((ending) => word.endsWith(ending)) ||
      SECRET_WORDS.includes(word),
  );
}

/** Query parameters that are Janus API credentials: taken out of the URL and put on every request. */
const CREDENTIAL_PARAMS: Readonly<Record<string, keyof JanusCredentials>> = { apisecret: 'apiSecret', token: 'token' };

/** Of an Admin API URL (janus_admin_url): the admin secret, taken out and put on every admin request. */
const ADMIN_CREDENTIAL_PARAMS: Readonly<Record<string, keyof JanusCredentials>> = { admin_secret: 'adminSecret' };

export interface JanusCredentials {
  readonly apiSecret?: string;
  readonly token?: string;
  /** Only from an Admin API URL. */
  readonly adminSecret?: string;
}

/**
 * A janus_url (the Janus API, `apisecret` and `token` taken out) or a janus_admin_url (the Admin API, `admin_secret`
 * taken out).
 */
export type UrlKind = 'api' | 'admin';

export interface JanusUrl {
  /** What the WebSocket client dials: without the Janus credentials. */
  readonly wsUrl: string;
  /** What may be shown to anyone: remaining credentials replaced by `***`. */
  readonly redacted: string;
  /** `apisecret` and `token` from the query, sent in each request instead of the URL. */
  readonly credentials: JanusCredentials;
}

export type ParsedUrl = { ok: true; url: JanusUrl } | { ok: false; reason: string };

export function parseJanusUrl(input: string, kind: UrlKind = 'api'): ParsedUrl {
  if (typeof input !== 'string' || input.trim() === '') return { ok: false, reason: 'URL is empty' };
  const match = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(input.trim());
  if (!match) return { ok: false, reason: 'URL must start with janusws://, januswss://, ws:// or wss://' };
  const scheme = SCHEMES[match[1]!.toLowerCase()];
  if (!scheme)
    return { ok: false, reason: `unsupported scheme "${match[1]}" (use janusws://, januswss://, ws:// or wss://)` };
  let url: URL;
  try {
    url = new URL(scheme + input.trim().slice(match[1]!.length));
  } catch {
    return { ok: false, reason: 'URL cannot be parsed (check host, port and IPv6 brackets)' };
  }
  if (!url.hostname) return { ok: false, reason: 'URL has no host' };
  if (input.includes('#')) return { ok: false, reason: 'URL must not have a #fragment' };
  const credentials: { -readonly [K in keyof JanusCredentials]: JanusCredentials[K] } = {};
  const params = kind === 'admin' ? ADMIN_CREDENTIAL_PARAMS : CREDENTIAL_PARAMS;
  for (const key of [...url.searchParams.keys()]) {
    const field = Object.hasOwn(params, key.toLowerCase()) ? params[key.toLowerCase()] : undefined;
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
  url.search = hideSecretValues(url.search);
  return url.toString();
}

/**
 * The query with the value of every secret-named parameter replaced by `***`. Works on the
 * text as written, so that what is shown keeps the order, repeats and encoding of the rest.
 */
function hideSecretValues(search: string): string {
  if (search.length <= 1) return search;
  const pairs = search
    .slice(1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals < 0) return pair;
      return isSecretParamName(decodeName(pair.slice(0, equals))) ? `${pair.slice(0, equals)}=***` : pair;
    });
  return `?${pairs.join('&')}`;
}

/** A parameter name as a server reads it (`+` is a space, %XX decoded); kept as it is when not decodable. */
function decodeName(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
