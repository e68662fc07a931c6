/**
 * Every configuration key: its type, default, environment variable and meaning.
 * docs/configuration.md's table is checked against this schema by a unit test.
 */
import { ADMIN_VERB } from '../janus/admin-protocol.js';
import { parseJanusUrl } from '../janus/url.js';
import { isSubjectPrefix } from '../nats-names.js';
import { janusIdProblem, JANUS_ID_MAX_BYTES, SUBJECT_PREFIX_MAX_BYTES, utf8Length } from '../connections/spec.js';
import { parseDbUrl } from '../connections/db-url.js';
import { isValidTableName } from '../connections/sql/dialect.js';
import type { ConnectionEntry } from '../connections/spec.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface BridgeConfig {
  nats: {
    servers: string[];
    subjectPrefix: string;
    name: string;
    user: string;
    password: string;
    passwordFile: string;
    token: string;
    tokenFile: string;
    nkeySeed: string;
    nkeySeedFile: string;
    credsFile: string;
    stallTimeout: number;
    maxPendingBytes: number;
    tls: { caFile: string; certFile: string; keyFile: string };
  };
  janus: {
    cmdTimeout: number;
    sendTimeout: number;
    pingInterval: number;
    maxMessageBytes: number;
    reconnect: { minDelay: number; maxDelay: number };
    apiSecret: string;
    apiSecretFile: string;
    token: string;
    tokenFile: string;
    adminSecret: string;
    adminSecretFile: string;
  };
  adminApi: { allowVerbs: string[] };
  connections: ConnectionEntry[];
  db: {
    url: string;
    urlFile: string;
    table: string;
    reloadInterval: number;
    connectTimeout: number;
    tls: { enabled: boolean; caFile: string; rejectUnauthorized: boolean };
  };
  http: { host: string; port: number; maxConnections: number; readyShare: number; readyNeedsAdmin: boolean };
  events: {
    subjects: 'flat' | 'typed' | 'handle';
    transactionTtl: number;
    transactionMax: number;
    stream: {
      enabled: boolean;
      name: string;
      maxAge: number;
      maxBytes: number;
      storage: 'file' | 'memory';
      replicas: number;
      maxPending: number;
      bufferSize: number;
      captureStatus: boolean;
    };
  };
  eventHandler: {
    port: number;
    host: string;
    secret: string;
    secretFile: string;
    maxMessageBytes: number;
    stream: {
      enabled: boolean;
      name: string;
      maxAge: number;
      maxBytes: number;
      storage: 'file' | 'memory';
      replicas: number;
      maxPending: number;
      bufferSize: number;
    };
  };
  ha: {
    enabled: boolean;
    replicaId: string;
    bucket: string;
    bucketReplicas: number;
    leaseTtl: number;
    handoverTimeout: number;
  };
  configWatch: { interval: number };
  log: { level: (typeof LOG_LEVELS)[number] };
}

/**
 * Environment values are text: a number in it becomes a number; anything else stays, for validation to report under the
 * key's name.
 */
const wholeNumberFromText = (value: string): unknown => (/^\d+$/.test(value.trim()) ? Number(value) : value);
const numberFromText = (value: string): unknown =>
  value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;

/** A name of letters, digits, - and _ (at most 128), or empty for the default. */
function nameFormat(what: string): { validate(value: unknown): void } {
  return {
    validate(value: unknown): void {
      if (value === '') return;
      if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(value))
        throw new Error(`must be ${what}, got ${JSON.stringify(value)}`);
    },
  };
}

/** Custom convict formats; each throws a message that convict prefixes with the key. */
export const FORMATS = {
  'positive-int': {
    validate(value: unknown): void {
      if (!Number.isSafeInteger(value) || (value as number) <= 0)
        throw new Error(`must be a positive integer, got ${JSON.stringify(value)}`);
    },
    coerce: wholeNumberFromText,
  },
  milliseconds: {
    validate(value: unknown): void {
      // Node's timers hold at most 2^31-1 ms; an hour is more than any of these needs.
      if (!Number.isSafeInteger(value) || (value as number) <= 0 || (value as number) > 3_600_000)
        throw new Error(`must be a whole number of milliseconds from 1 to 3600000, got ${JSON.stringify(value)}`);
    },
    coerce: wholeNumberFromText,
  },
  seconds: {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !(value > 0 && value <= 86_400))
        throw new Error(`must be a number of seconds above 0 and at most 86400, got ${JSON.stringify(value)}`);
    },
    coerce: numberFromText,
  },
  'positive-number': {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
        throw new Error(`must be a positive number, got ${JSON.stringify(value)}`);
    },
    coerce: numberFromText,
  },
  'tcp-port': {
    validate(value: unknown): void {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535)
        throw new Error(`must be a port from 0 to 65535, got ${JSON.stringify(value)}`);
    },
    coerce: wholeNumberFromText,
  },
  'nats-urls': {
    validate(value: unknown): void {
      if (!Array.isArray(value) || value.length === 0) throw new Error('must be a non-empty list of NATS URLs');
      for (const [index, server] of value.entries()) {
        if (typeof server !== 'string' || !/^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s:/]+(:\d+)?$/.test(server)) {
          // The value itself is not repeated: a NATS URL may carry a password.
          throw new Error(`entry ${index} is not a NATS URL (nats://host:port)`);
        }
      }
    },
    coerce: (value: string): unknown =>
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  },
  'subject-prefix': {
    validate(value: unknown): void {
      // Checked first, so that an over-long value is not repeated in the message.
      if (typeof value === 'string' && utf8Length(value) > SUBJECT_PREFIX_MAX_BYTES) {
        throw new Error(`must be at most ${SUBJECT_PREFIX_MAX_BYTES} bytes (UTF-8), got ${utf8Length(value)} bytes`);
      }
      if (!isSubjectPrefix(value))
        throw new Error(
          `must be NATS subject tokens separated by dots, without spaces or wildcards, got ${JSON.stringify(value)}`,
        );
    },
  },
  'db-url': {
    validate(value: unknown): void {
      if (value === '') return;
      // The URL itself is never repeated: it holds the database password.
      const parsed = typeof value === 'string' ? parseDbUrl(value) : { ok: false as const, reason: 'must be a string' };
      if (!parsed.ok) throw new Error(parsed.reason);
    },
  },
  'sql-table': {
    validate(value: unknown): void {
      if (typeof value !== 'string' || !isValidTableName(value))
        throw new Error(
          `must be a table name (letters, digits, _; optionally schema.table), got ${JSON.stringify(value)}`,
        );
    },
  },
  share: {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1))
        throw new Error(`must be a number from 0 to 1, got ${JSON.stringify(value)}`);
    },
    coerce: numberFromText,
  },
  'seconds-or-zero': {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !(value >= 0 && value <= 86_400))
        throw new Error(`must be a number of seconds from 0 to 86400, got ${JSON.stringify(value)}`);
    },
    coerce: numberFromText,
  },
  'replica-id': nameFormat('letters, digits, - and _ (at most 128)'),
  'kv-bucket': nameFormat('a KV bucket name (letters, digits, - and _)'),
  'lease-seconds': {
    validate(value: unknown): void {
      // Below 1 s a renewal's round trip is a real share of the lease; above 5 min a dead replica's Janus waits too
      // long.
      if (typeof value !== 'number' || !(value >= 1 && value <= 300))
        throw new Error(`must be a number of seconds from 1 to 300, got ${JSON.stringify(value)}`);
    },
    coerce: numberFromText,
  },
  'admin-verbs': {
    validate(value: unknown): void {
      if (!Array.isArray(value)) throw new Error('must be a list of Admin API verbs, e.g. ["set_log_level"]');
      for (const [index, verb] of value.entries()) {
        if (typeof verb !== 'string' || !ADMIN_VERB.test(verb.toLowerCase()))
          throw new Error(
            `entry ${index} must be an Admin API verb (letters, digits and _), got ${JSON.stringify(verb)}`,
          );
      }
    },
    coerce: (value: string): unknown =>
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  },
  'janus-connections': {
    validate(value: unknown): void {
      const problem = connectionListProblem(value);
      if (problem) throw new Error(problem);
    },
    coerce(value: string): unknown {
      // Unparsable text is passed on, so that validation reports it under the key's name.
      try {
        return JSON.parse(value);
      } catch {
        return value;
      }
    },
  },
} as const;

/** `, got <id>` for the message about a bad janus_id; nothing for an over-long one, which may be kilobytes. */
function echoedId(id: unknown): string {
  return typeof id === 'string' && utf8Length(id) > JANUS_ID_MAX_BYTES ? '' : `, got ${JSON.stringify(id)}`;
}

/** Why a configured connection list is unusable, or undefined when it is fine. */
export function connectionListProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'must be a list of {"janus_id": "...", "janus_url": "..."} objects';
  const seen = new Set<string>();
  for (const [index, entry] of value.entries()) {
    const where = `entry ${index}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return `${where} must be an object with janus_id and janus_url`;
    const extra = Object.keys(entry).filter(
      (key) => key !== 'janus_id' && key !== 'janus_url' && key !== 'janus_admin_url',
    );
    if (extra.length) return `${where} has unknown key "${extra[0]}" (only janus_id, janus_url and janus_admin_url)`;
    const { janus_id: id, janus_url: url, janus_admin_url: adminUrl } = entry as Record<string, unknown>;
    const idProblem = janusIdProblem(id);
    if (typeof id !== 'string' || idProblem !== undefined)
      return `${where}: ${idProblem ?? 'janus_id is empty'}${echoedId(id)}`;
    if (seen.has(id)) return `${where}: janus_id "${id}" is listed twice`;
    seen.add(id);
    if (typeof url !== 'string') return `${where} (${id}): janus_url must be a string`;
    const parsed = parseJanusUrl(url);
    if (!parsed.ok) return `${where} (${id}): janus_url ${parsed.reason}`;
    if (adminUrl === undefined) continue;
    if (typeof adminUrl !== 'string') return `${where} (${id}): janus_admin_url must be a string`;
    const admin = parseJanusUrl(adminUrl, 'admin');
    if (!admin.ok) return `${where} (${id}): janus_admin_url ${admin.reason}`;
  }
  return undefined;
}

export const SCHEMA = {
  nats: {
    servers: {
      doc: 'NATS server URLs (comma-separated in the environment).',
      format: 'nats-urls',
      default: ['nats://127.0.0.1:4222'],
      env: 'JNB_NATS_SERVERS',
    },
    subjectPrefix: {
      doc: 'First token(s) of every subject: <prefix>.request.<janus_id> and so on (at most 128 bytes).',
      format: 'subject-prefix',
      default: 'janus',
      env: 'JNB_NATS_SUBJECT_PREFIX',
    },
    name: {
      doc: 'Client name shown by the NATS server (nats server report connections).',
      format: String,
      default: 'janus-nats-bridge',
      env: 'JNB_NATS_NAME',
    },
    user: {
      doc: 'NATS user name (with nats.password or nats.passwordFile).',
      format: String,
      default: '',
      env: 'JNB_NATS_USER',
    },
    password: { doc: 'NATS password.', format: String, default: '', env: 'JNB_NATS_PASSWORD', sensitive: true },
    passwordFile: {
      doc: 'File holding the NATS password (a mounted Kubernetes Secret).',
      format: String,
      default: '',
      env: 'JNB_NATS_PASSWORD_FILE',
    },
    token: { doc: 'NATS authentication token.', format: String, default: '', env: 'JNB_NATS_TOKEN', sensitive: true },
    tokenFile: { doc: 'File holding the NATS token.', format: String, default: '', env: 'JNB_NATS_TOKEN_FILE' },
    nkeySeed: {
      doc: 'NKey seed (SU…) for NKey authentication.',
      format: String,
      default: '',
      env: 'JNB_NATS_NKEY_SEED',
      sensitive: true,
    },
    nkeySeedFile: { doc: 'File holding the NKey seed.', format: String, default: '', env: 'JNB_NATS_NKEY_SEED_FILE' },
    credsFile: {
      doc: 'NATS credentials file (JWT and NKey seed, as nsc writes it).',
      format: String,
      default: '',
      env: 'JNB_NATS_CREDS_FILE',
    },
    stallTimeout: {
      doc:
        "Milliseconds the NATS server may leave the bridge's ping unanswered (while writes wait) before the " +
        'connection is taken as stalled: it is dropped and another server tried, the stalled one last (one that ' +
        'sends nothing for half of ' +
        'it on a new connection is skipped), and /readyz says not ready meanwhile.',
      format: 'milliseconds',
      default: 4000,
      env: 'JNB_NATS_STALL_TIMEOUT',
    },
    maxPendingBytes: {
      doc:
        'Most bytes handed to the NATS client and not yet confirmed by the server (a stall or an outage); past it ' +
        'events and status messages are dropped and counted, answers dropped, logged and counted.',
      format: 'positive-int',
      default: 33554432,
      env: 'JNB_NATS_MAX_PENDING_BYTES',
    },
    tls: {
      caFile: {
        doc: "PEM file of the CA that signed the NATS server's certificate (enables TLS).",
        format: String,
        default: '',
        env: 'JNB_NATS_TLS_CA_FILE',
      },
      certFile: {
        doc: 'PEM client certificate, for servers that verify clients (with nats.tls.keyFile).',
        format: String,
        default: '',
        env: 'JNB_NATS_TLS_CERT_FILE',
      },
      keyFile: {
        doc: 'PEM private key of the client certificate.',
        format: String,
        default: '',
        env: 'JNB_NATS_TLS_KEY_FILE',
      },
    },
  },
  janus: {
    cmdTimeout: {
      doc: "Milliseconds a request waits for Janus's answer before it gets error 610.",
      format: 'milliseconds',
      default: 5000,
      env: 'JNB_JANUS_CMD_TIMEOUT',
    },
    sendTimeout: {
      doc: 'Milliseconds a frame (and the WebSocket handshake) may take to be written before the connection is reset.',
      format: 'milliseconds',
      default: 1000,
      env: 'JNB_JANUS_SEND_TIMEOUT',
    },
    pingInterval: {
      doc:
        'Seconds between session keepalives and WebSocket pings (fractions allowed); a peer silent for two intervals ' +
        'is dropped.',
      format: 'seconds',
      default: 5,
      env: 'JNB_JANUS_PING_INTERVAL',
    },
    maxMessageBytes: {
      doc: 'Largest message, in bytes, accepted from clients or from Janus.',
      format: 'positive-int',
      default: 1048576,
      env: 'JNB_JANUS_MAX_MESSAGE_BYTES',
    },
    reconnect: {
      minDelay: {
        doc: 'Milliseconds before the first reconnect attempt; doubles per failed attempt.',
        format: 'milliseconds',
        default: 100,
        env: 'JNB_JANUS_RECONNECT_MIN_DELAY',
      },
      maxDelay: {
        doc: 'Cap, in milliseconds, of the delay between reconnect attempts (jittered between half and all of it).',
        format: 'milliseconds',
        default: 1500,
        env: 'JNB_JANUS_RECONNECT_MAX_DELAY',
      },
    },
    apiSecret: {
      doc:
        'Janus API secret (janus -a / api_secret) added to every request; an apisecret query parameter of a ' +
        'janus_url wins.',
      format: String,
      default: '',
      env: 'JNB_JANUS_API_SECRET',
      sensitive: true,
    },
    apiSecretFile: {
      doc: 'File holding the Janus API secret.',
      format: String,
      default: '',
      env: 'JNB_JANUS_API_SECRET_FILE',
    },
    token: {
      doc: 'Janus token (token_auth) added to every request; a token query parameter of a janus_url wins.',
      format: String,
      default: '',
      env: 'JNB_JANUS_TOKEN',
      sensitive: true,
    },
    tokenFile: { doc: 'File holding the Janus token.', format: String, default: '', env: 'JNB_JANUS_TOKEN_FILE' },
    adminSecret: {
      doc:
        'Janus Admin API secret (admin_secret in janus.jcfg) added to every request on <prefix>.adminapi.<janus_id>; ' +
        'an admin_secret query parameter of a janus_admin_url wins.',
      format: String,
      default: '',
      env: 'JNB_JANUS_ADMIN_SECRET',
      sensitive: true,
    },
    adminSecretFile: {
      doc: 'File holding the Janus Admin API secret.',
      format: String,
      default: '',
      env: 'JNB_JANUS_ADMIN_SECRET_FILE',
    },
  },
  adminApi: {
    allowVerbs: {
      doc:
        'Admin API verbs that change Janus (destroy_session, set_log_level, …) passed on from ' +
        '<prefix>.adminapi.<janus_id> besides the read-only ones (comma-separated in the environment); any other is ' +
        'refused with error 608.',
      format: 'admin-verbs',
      default: [] as string[],
      env: 'JNB_ADMIN_API_ALLOW_VERBS',
    },
  },
  connections: {
    doc:
      'The Janus servers to serve: a list of {"janus_id", "janus_url"}, optionally with "janus_admin_url" (JSON in ' +
      'the environment).',
    format: 'janus-connections',
    default: [] as ConnectionEntry[],
    env: 'JNB_CONNECTIONS',
  },
  db: {
    url: {
      doc:
        'Database holding the OpenSIPS janus table: postgres://, postgresql://, mysql:// or mariadb://. Empty: use ' +
        'connections. When set, it wins over connections.',
      format: 'db-url',
      default: '',
      env: 'JNB_DB_URL',
      sensitive: true,
    },
    urlFile: {
      doc: 'File holding db.url (a mounted Kubernetes Secret); set one of the two.',
      format: String,
      default: '',
      env: 'JNB_DB_URL_FILE',
    },
    table: {
      doc: 'Table with the id, janus_id and janus_url columns.',
      format: 'sql-table',
      default: 'janus',
      env: 'JNB_DB_TABLE',
    },
    reloadInterval: {
      doc: 'Seconds between automatic reloads of the list (0: only on SIGHUP or <prefix>.admin.reload).',
      format: 'seconds-or-zero',
      default: 0,
      env: 'JNB_DB_RELOAD_INTERVAL',
    },
    connectTimeout: {
      doc: 'Milliseconds to wait for the database to accept a connection, and for each query to answer.',
      format: 'milliseconds',
      default: 5000,
      env: 'JNB_DB_CONNECT_TIMEOUT',
    },
    tls: {
      enabled: { doc: 'Connect to the database with TLS.', format: Boolean, default: false, env: 'JNB_DB_TLS' },
      caFile: {
        doc: "PEM file of the CA that signed the database's certificate (empty: the system CAs).",
        format: String,
        default: '',
        env: 'JNB_DB_TLS_CA_FILE',
      },
      rejectUnauthorized: {
        doc: 'Refuse a database certificate that does not verify.',
        format: Boolean,
        default: true,
        env: 'JNB_DB_TLS_REJECT_UNAUTHORIZED',
      },
    },
  },
  http: {
    host: {
      doc: 'Address of the HTTP server for /healthz, /readyz and /metrics.',
      format: String,
      default: '0.0.0.0',
      env: 'JNB_HTTP_HOST',
    },
    port: {
      doc: 'Port of the HTTP server for /healthz, /readyz and /metrics (0: any free port).',
      format: 'tcp-port',
      default: 8080,
      env: 'JNB_HTTP_PORT',
    },
    maxConnections: {
      doc:
        'Most HTTP connections open at once; more are closed on arrival. Idle connections close after 5 s, headers ' +
        'must arrive within 5 s and a request within 10 s.',
      format: 'positive-int',
      default: 64,
      env: 'JNB_HTTP_MAX_CONNECTIONS',
    },
    readyShare: {
      doc:
        'Share (0 to 1) of the listed Janus connections that must be connected for /readyz to say ready; 0: Janus ' +
        'does not count.',
      format: 'share',
      default: 0,
      env: 'JNB_HTTP_READY_SHARE',
    },
    readyNeedsAdmin: {
      doc: 'Every Admin API link (connections with a janus_admin_url) must be open for /readyz to say ready.',
      format: Boolean,
      default: false,
      env: 'JNB_HTTP_READY_NEEDS_ADMIN',
    },
  },
  events: {
    subjects: {
      doc:
        'flat: every event on <prefix>.event.<janus_id>; typed: on <prefix>.event.<janus_id>.<type> (plugin events: ' +
        ".plugin.<plugin name, dots as _>); handle: a handle's events on <prefix>.event.<janus_id>.handle.<handle " +
        'id>, the others on <prefix>.event.<janus_id>.session.',
      format: ['flat', 'typed', 'handle'],
      default: 'flat',
      env: 'JNB_EVENTS_SUBJECTS',
    },
    transactionTtl: {
      doc:
        "Seconds after a request ends during which later events with its transaction get the client's transaction " +
        'back.',
      format: 'seconds',
      default: 60,
      env: 'JNB_EVENTS_TRANSACTION_TTL',
    },
    transactionMax: {
      doc: 'Most transactions remembered that way per connection (oldest dropped first).',
      format: 'positive-int',
      default: 10000,
      env: 'JNB_EVENTS_TRANSACTION_MAX',
    },
    stream: {
      enabled: {
        doc: 'Publish events through JetStream into a stream that captures <prefix>.event.>.',
        format: Boolean,
        default: false,
        env: 'JNB_EVENTS_STREAM',
      },
      name: {
        doc: 'Stream name (empty: the prefix in upper case, dots as _, then _EVENTS, e.g. JANUS_EVENTS).',
        format: String,
        default: '',
        env: 'JNB_EVENTS_STREAM_NAME',
      },
      maxAge: {
        doc: 'Seconds an event is kept in the stream.',
        format: 'positive-number',
        default: 86400,
        env: 'JNB_EVENTS_STREAM_MAX_AGE',
      },
      maxBytes: {
        doc: 'Most bytes the stream keeps (oldest events go first).',
        format: 'positive-int',
        default: 1073741824,
        env: 'JNB_EVENTS_STREAM_MAX_BYTES',
      },
      storage: {
        doc: 'Stream storage: file or memory.',
        format: ['file', 'memory'],
        default: 'file',
        env: 'JNB_EVENTS_STREAM_STORAGE',
      },
      replicas: {
        doc: 'Stream replicas in a NATS cluster.',
        format: 'positive-int',
        default: 1,
        env: 'JNB_EVENTS_STREAM_REPLICAS',
      },
      maxPending: {
        doc: 'Most events published to JetStream and not yet acknowledged.',
        format: 'positive-int',
        default: 256,
        env: 'JNB_EVENTS_STREAM_MAX_PENDING',
      },
      bufferSize: {
        doc: 'Most events waiting for JetStream; beyond that they are dropped, counted and logged.',
        format: 'positive-int',
        default: 10000,
        env: 'JNB_EVENTS_STREAM_BUFFER',
      },
      captureStatus: {
        doc:
          'The stream captures <prefix>.status.> too, so that a service that was away learns what happened to its ' +
          'connections (session-replaced: its handles are gone).',
        format: Boolean,
        default: false,
        env: 'JNB_EVENTS_STREAM_CAPTURE_STATUS',
      },
    },
  },
  eventHandler: {
    port: {
      doc:
        'Port where Janus\'s WebSocket event handler (wsevh) connects, backend = "ws://<bridge>:<port>/<janus_id>"; ' +
        'its events are published on <prefix>.evh.<janus_id>.<type>. 0: off (unlike http.port, not any free port).',
      format: 'tcp-port',
      default: 0,
      env: 'JNB_EVENT_HANDLER_PORT',
    },
    host: {
      doc: 'Address the event-handler endpoint listens on.',
      format: String,
      default: '0.0.0.0',
      env: 'JNB_EVENT_HANDLER_HOST',
    },
    secret: {
      doc:
        'Secret a Janus must send as the secret query parameter of its backend URL (wsevh has no other credentials); ' +
        'empty: none asked (a warning at start).',
      format: String,
      default: '',
      env: 'JNB_EVENT_HANDLER_SECRET',
      sensitive: true,
    },
    secretFile: {
      doc: 'File holding the event-handler secret.',
      format: String,
      default: '',
      env: 'JNB_EVENT_HANDLER_SECRET_FILE',
    },
    maxMessageBytes: {
      doc:
        'Largest message, in bytes, accepted from a Janus event handler (grouped: up to 100 events); a larger one ' +
        'closes the link (Janus reconnects, that message is lost).',
      format: 'positive-int',
      default: 8388608,
      env: 'JNB_EVENT_HANDLER_MAX_MESSAGE_BYTES',
    },
    stream: {
      enabled: {
        doc: 'Publish event-handler events through JetStream into a stream of their own that captures <prefix>.evh.>.',
        format: Boolean,
        default: false,
        env: 'JNB_EVENT_HANDLER_STREAM',
      },
      name: {
        doc: 'Stream name (empty: the prefix in upper case, dots as _, then _EVH, e.g. JANUS_EVH).',
        format: String,
        default: '',
        env: 'JNB_EVENT_HANDLER_STREAM_NAME',
      },
      maxAge: {
        doc: 'Seconds an event-handler event is kept in the stream.',
        format: 'positive-number',
        default: 86400,
        env: 'JNB_EVENT_HANDLER_STREAM_MAX_AGE',
      },
      maxBytes: {
        doc: 'Most bytes the event-handler stream keeps (oldest events go first).',
        format: 'positive-int',
        default: 1073741824,
        env: 'JNB_EVENT_HANDLER_STREAM_MAX_BYTES',
      },
      storage: {
        doc: 'Event-handler stream storage: file or memory.',
        format: ['file', 'memory'],
        default: 'file',
        env: 'JNB_EVENT_HANDLER_STREAM_STORAGE',
      },
      replicas: {
        doc: 'Event-handler stream replicas in a NATS cluster.',
        format: 'positive-int',
        default: 1,
        env: 'JNB_EVENT_HANDLER_STREAM_REPLICAS',
      },
      maxPending: {
        doc: 'Most event-handler events published to JetStream and not yet acknowledged.',
        format: 'positive-int',
        default: 256,
        env: 'JNB_EVENT_HANDLER_STREAM_MAX_PENDING',
      },
      bufferSize: {
        doc:
          'Most event-handler events waiting for JetStream; from half of it the links wait (up to 5 s, Janus keeps ' +
          'the events), beyond it events are dropped, counted and logged.',
        format: 'positive-int',
        default: 10000,
        env: 'JNB_EVENT_HANDLER_STREAM_BUFFER',
      },
    },
  },
  ha: {
    enabled: {
      doc:
        'Several replicas share the Janus servers: each connection is served by the one replica holding its lease in ' +
        'a JetStream KV bucket (false: this process serves every connection, no JetStream needed).',
      format: Boolean,
      default: false,
      env: 'JNB_HA_ENABLED',
    },
    replicaId: {
      doc:
        "This replica's name in the ownership table (empty: the host name, which is the pod name on Kubernetes); " +
        'letters, digits, - and _.',
      format: 'replica-id',
      default: '',
      env: 'JNB_HA_REPLICA_ID',
    },
    bucket: {
      doc: 'JetStream KV bucket of the leases, created when missing (empty: <prefix>_owners, dots as _).',
      format: 'kv-bucket',
      default: '',
      env: 'JNB_HA_BUCKET',
    },
    bucketReplicas: {
      doc: 'Stream replicas of that bucket in a NATS cluster.',
      format: 'positive-int',
      default: 1,
      env: 'JNB_HA_BUCKET_REPLICAS',
    },
    leaseTtl: {
      doc:
        "Seconds a replica's heartbeat (written every fifth of it: one write, whatever the number of connections) " +
        'may stay silent while the bucket takes writes before its connections are taken over; it stops serving them ' +
        'itself after 70 % of it without a successful heartbeat. On a NATS cluster set 15 or more: a leader ' +
        'election stops writes for 4 to 10 s.',
      format: 'lease-seconds',
      default: 10,
      env: 'JNB_HA_LEASE_TTL',
    },
    handoverTimeout: {
      doc:
        'Seconds a leaving replica waits for others to take its connections over before it closes them anyway ' +
        '(sessions kept for the next owner).',
      format: 'seconds',
      default: 10,
      env: 'JNB_HA_HANDOVER_TIMEOUT',
    },
  },
  configWatch: {
    interval: {
      doc:
        'Seconds between checks of the --config file for a change (a Kubernetes ConfigMap update lands as a symlink ' +
        'swap); a change reloads the connection list as SIGHUP does, on every replica. 0: never.',
      format: 'seconds-or-zero',
      default: 2,
      env: 'JNB_CONFIG_WATCH_INTERVAL',
    },
  },
  log: {
    level: { doc: 'Log level.', format: [...LOG_LEVELS], default: 'info', env: 'JNB_LOG_LEVEL' },
  },
};
