#!/usr/bin/env node
/** The process: arguments, configuration, signals and exit codes. */
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.js';
import { startDaemon } from './daemon.js';
import { createLogger } from './log.js';

const USAGE = `usage: janus-nats-bridge [--config <file.json>]

Every key can also be set by an environment variable (see README: Configuration).
Exit codes: 0 stopped cleanly, 1 fatal runtime error, 2 configuration error.`;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (err) {
    process.stderr.write(`janus-nats-bridge: ${(err as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const loaded = loadConfig({ file: args.config ?? process.env.JNB_CONFIG_FILE });
  if (!loaded.ok) {
    process.stderr.write(`janus-nats-bridge: configuration error: ${loaded.problem}\n`);
    process.exitCode = 2;
    return;
  }
  const log = createLogger(loaded.config.log.level);
  const daemon = await startDaemon(loaded.config, log);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    daemon.shutdown(signal).then(() => process.exit(0), (err: Error) => {
      log.error({ err: err.message }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  void daemon.nc.closed().then((err) => {
    if (signals > 0) return;
    log.fatal({ err: err?.message }, 'NATS connection closed for good');
    process.exit(1);
  });
}

main().catch((err: Error) => {
  process.stderr.write(`janus-nats-bridge: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
