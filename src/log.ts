import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that may carry secrets in any object we log; pino replaces them before writing. */
export const REDACTED_PATHS = [
  '*.password', '*.pass', '*.token', '*.apisecret', '*.secret', '*.nkey', '*.seed',
  'config.nats.password', 'config.nats.token',
];

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
