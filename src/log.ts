import { pino, type Logger } from 'pino';

export type { Logger };

/** Field names that carry secrets. Nothing logs them on purpose; pino censors them should one slip in. */
const SECRET_FIELDS = [
  'password',
  'pass',
  'token',
  'apisecret',
  'apiSecret',
  'secret',
  'admin_secret',
  'adminSecret',
  'nkeySeed',
  'seed',
  'creds',
  'authorization',
];

/** Those fields at the top of a log object and one or two levels down. */
export const REDACTED_PATHS = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'janus-nats-bridge' },
    redact: { paths: REDACTED_PATHS, censor: '***' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
