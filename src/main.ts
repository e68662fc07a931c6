#!/usr/bin/env node
/** The process: arguments, configuration, signals and exit codes. */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { explainConfig, formatExplained } from './config/explain.js';
import { loadConfig } from './config/load.js';
import { resolveSecrets } from './config/secrets.js';
import { configReader } from './config/list-source.js';
import { startDaemon, type Daemon } from './daemon.js';
import { createLogger } from './log.js';
import { VERSION } from './version.js';

const USAGE =
  `usage: janus-nats-bridge [--config <file.json>]
       janus-nats-bridge --check-config <file.json>   validate, print the effective configuration (secrets masked) ` +
  `and where each value came from
       janus-nats-bridge --version

Every key can also be set by an environment variable (see docs/configuration.md).
Exit codes: 0 stopped cleanly, 1 fatal runtime error, 2 configuration error.`;

/** --check-config: 0 when the file (with the environment) makes a configuration the daemon would start with, else 2. */
function checkConfig(file: string): number {
  const loaded = loadConfig({ file });
  const secrets = loaded.ok ? resolveSecrets(loaded.config) : undefined;
  const problem = !loaded.ok ? loaded.problem : secrets && !secrets.ok ? secrets.problem : undefined;
  if (problem !== undefined || !loaded.ok) {
    process.stderr.write(`janus-nats-bridge: configuration error: ${problem}\n`);
    return 2;
  }
  process.stdout.write(
    `# ${file}: valid\n` +
      formatExplained(explainConfig(loaded.config, JSON.parse(readFileSync(file, 'utf8')), process.env)),
  );
  return 0;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        'check-config': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`janus-nats-bridge: ${(err as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (args.version) {
    process.stdout.write(`janus-nats-bridge ${VERSION} (Node.js ${process.versions.node})\n`);
    return;
  }
  if (args['check-config'] !== undefined) {
    process.exitCode = checkConfig(args['check-config']);
    return;
  }
  const file = args.config ?? process.env.JNB_CONFIG_FILE;
  const loaded = loadConfig({ file });
  if (!loaded.ok) {
    process.stderr.write(`janus-nats-bridge: configuration error: ${loaded.problem}\n`);
    process.exitCode = 2;
    return;
  }
  const secrets = resolveSecrets(loaded.config);
  if (!secrets.ok) {
    process.stderr.write(`janus-nats-bridge: configuration error: ${secrets.problem}\n`);
    process.exitCode = 2;
    return;
  }
  const log = createLogger(loaded.config.log.level);
  // Signals are handled from the start: NATS may not be up yet, and a SIGTERM then must still exit 0.
  // Set once start-up completes; the signal handlers below exist before it does.
  const running: { daemon?: Daemon } = {};
  let stopping = false;
  const stop = (reason: string, exitCode: number): void => {
    stopping = true;
    const daemon = running.daemon;
    if (!daemon) {
      log.info({ reason }, 'stopped before start-up completed');
      process.exit(exitCode);
    }
    daemon.shutdown(reason).then(
      () => process.exit(exitCode),
      (err: Error) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stop(signal, 0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => {
    if (!running.daemon || stopping) return;
    void running.daemon.reload('SIGHUP').then((result) => log.info({ result }, 'reload on SIGHUP done'));
  });

  const daemon = await startDaemon(loaded.config, log, {
    rereadConfig: configReader(file),
    secrets: secrets.secrets,
    ...(file ? { configFile: file } : {}),
  });
  running.daemon = daemon;
  daemon.listLoaded.catch((err: Error) => {
    // Retrying cannot fix these (wrong table version, missing table): stop with a clear line.
    log.fatal({ reason: err.message }, 'cannot load the connection list');
    process.stderr.write(`janus-nats-bridge: cannot load the connection list: ${err.message}\n`);
    stop('connection list unusable', 2);
  });
  void daemon.nc.closed().then((err) => {
    if (stopping) return;
    log.fatal({ err: err?.message }, 'NATS connection closed for good');
    process.exit(1);
  });
}

main().catch((err: Error & { code?: string }) => {
  // One line for what an operator can fix (a port in use, a missing permission); the stack for anything else.
  const known =
    err.code === 'EADDRINUSE' ||
    err.code === 'EACCES' ||
    err.code === 'EADDRNOTAVAIL' ||
    err.code === 'JNB_HA_UNAVAILABLE';
  process.stderr.write(`janus-nats-bridge: ${known ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(1);
});
