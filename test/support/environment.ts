/**
 * Where the integration tests' services come from, chosen once per run in global setup:
 * - `containers`: a Docker engine is reachable, so NATS, PostgreSQL, MariaDB and Janus run
 *   in containers started with testcontainers (containers.ts);
 * - `local`: nats-server and Debian's janus as local processes on free loopback ports, and
 *   the PostgreSQL/MariaDB already running on this machine (processes.ts, databases.ts).
 * TEST_ENVIRONMENT=local|containers forces a path. The choice reaches the forked test
 * workers as the environment variable JNB_TEST_SERVICES, set before they start; without
 * it (bench, plain node) everything is local.
 *
 * Tests keep importing startNats/startJanus from processes.ts and createDatabase from
 * databases.ts, which route through this choice; the same operations are re-exported here.
 */
export { startJanus, startNats, type JanusOptions, type JanusServer, type NatsServer } from './processes.js';
export { createDatabase, type EngineName, type TestDatabase } from './databases.js';

export type ServiceSource = 'local' | 'containers';

export const SELECTED_VARIABLE = 'JNB_TEST_SERVICES';

/** The path chosen by global setup, as seen from a test worker. */
export function selected(): ServiceSource {
  return process.env[SELECTED_VARIABLE] === 'containers' ? 'containers' : 'local';
}

export interface Selection {
  readonly source: ServiceSource;
  /** Why: the Docker version, or why there is no usable engine. */
  readonly reason: string;
}

const DETECT_TIMEOUT_MS = 5_000;

/** Looks for a Docker engine the tests can use: reachable, and publishing ports on this machine. */
async function dockerEngine(): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`no answer within ${DETECT_TIMEOUT_MS} ms`)), DETECT_TIMEOUT_MS);
    });
    const client = await Promise.race([getContainerRuntimeClient(), timeout]);
    const { host, serverVersion, operatingSystem } = client.info.containerRuntime;
    // Tests and helpers reach services at 127.0.0.1 (tcp-proxy, db.url()), so the engine must be local.
    if (!['localhost', '127.0.0.1', '::1'].includes(host)) {
      return { ok: false, reason: `the Docker engine publishes ports on ${host}, not on this machine` };
    }
    return { ok: true, version: `Docker ${serverVersion} on ${operatingSystem}` };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Global setup only: decides, honouring TEST_ENVIRONMENT; throws if containers are forced but unusable. */
export async function selectEnvironment(): Promise<Selection> {
  const forced = process.env.TEST_ENVIRONMENT;
  if (forced !== undefined && forced !== '' && forced !== 'local' && forced !== 'containers') {
    throw new Error(`TEST_ENVIRONMENT must be "local" or "containers", not "${forced}"`);
  }
  if (forced === 'local') return { source: 'local', reason: 'TEST_ENVIRONMENT=local' };
  const engine = await dockerEngine();
  if (engine.ok) return { source: 'containers', reason: engine.version };
  if (forced === 'containers') {
    throw new Error(`TEST_ENVIRONMENT=containers, but no usable Docker engine: ${engine.reason}`);
  }
  return { source: 'local', reason: `no Docker engine reachable: ${engine.reason}` };
}
