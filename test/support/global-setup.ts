/**
 * Picks where the integration tests' services come from and says so once, at the start
 * (environment.ts): testcontainers when a Docker engine is reachable, else local processes
 * (nats-server and Debian's janus, started per test file on free loopback ports) and the
 * PostgreSQL/MariaDB running on this machine, or throw-away ones started for the run when
 * none answers (local-databases.ts). TEST_ENVIRONMENT=local|containers
 * forces one. The choice goes to the test workers in an environment variable, set here
 * before vitest forks them.
 */
import { execFileSync } from 'node:child_process';
import { SELECTED_VARIABLE, selectEnvironment } from './environment.js';
import { killLeftovers, RUN_VARIABLE } from './leftovers.js';
import { provideDatabases } from './local-databases.js';

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Stops (and names) any server process a test left running. */
async function stopLeftovers(): Promise<void> {
  const left = killLeftovers();
  if (left.length)
    process.stdout.write(
      `test teardown: ${left.length} server process(es) a test left running were killed:\n  ${left.join('\n  ')}\n`,
    );
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const selection = await selectEnvironment();
  process.env[SELECTED_VARIABLE] = selection.source;
  process.env[RUN_VARIABLE] = String(process.pid);
  if (selection.source === 'local') {
    const missing = ['janus', 'nats-server'].filter((c) => !has(c));
    if (missing.length)
      throw new Error(`integration tests need ${missing.join(' and ')} on PATH (make deps installs them)`);
    process.stdout.write(
      `test environment: local processes (nats-server, janus on free loopback ports; ${selection.reason})\n`,
    );
    const databases = await provideDatabases();
    process.stdout.write(`test databases: ${databases.description.join('; ')}\n`);
    return async () => {
      await databases.stop();
      await stopLeftovers();
    };
  }
  process.stdout.write(
    `test environment: testcontainers (${selection.reason}; NATS, PostgreSQL, MariaDB, Janus in containers)\n`,
  );
  const { prepare } = await import('./containers.js');
  const teardown = await prepare();
  return async () => {
    await stopLeftovers();
    await teardown?.();
  };
}
