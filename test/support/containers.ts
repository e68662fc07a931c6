/**
 * The containers path of the test environment (see environment.ts), with testcontainers.
 * Global setup calls prepare() once: it builds the Janus image, pulls NATS, starts one
 * PostgreSQL and one MariaDB container for the whole run and points TEST_POSTGRES_URL /
 * TEST_MYSQL_URL at them (databases.ts then creates each test's database inside them).
 * Test workers call startNats/startJanus: one container per server, its ports published
 * on the same host port numbers (fixed bindings, so restart() keeps them), with
 * pause/resume/kill/stop going to the Docker API.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GenericContainer,
  getContainerRuntimeClient,
  ImageName,
  Wait,
  type ContainerRuntimeClient,
  type StartedTestContainer,
} from 'testcontainers';
import {
  freePort,
  janusFlags,
  REPO,
  waitForPort,
  type JanusOptions,
  type JanusServer,
  type NatsServer,
  type ServerHandle,
} from './processes.js';

const NATS_IMAGE = 'nats:2.10';
const POSTGRES_IMAGE = 'postgres:15';
const MARIADB_IMAGE = 'mariadb:10.11';
const JANUS_IMAGE = 'jnb-test-janus:local';
const STARTUP_MS = 120_000;

/** Global setup: images and databases for the run; sets the variables the workers read. Returns the teardown. */
export async function prepare(): Promise<() => Promise<void>> {
  const client = await getContainerRuntimeClient();
  const context = mkdtempSync(join(tmpdir(), 'janus-image-'));
  try {
    copyFileSync(join(REPO, 'test/support/janus-container/Dockerfile'), join(context, 'Dockerfile'));
    copyFileSync(join(REPO, 'scripts/janus-local.sh'), join(context, 'janus-local.sh'));
    await GenericContainer.fromDockerfile(context).build(JANUS_IMAGE, { deleteOnExit: false });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  await client.image.pull(ImageName.fromString(NATS_IMAGE));

  const [postgres, mariadb] = await Promise.all([
    new GenericContainer(POSTGRES_IMAGE)
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' }) // like the local server: no password on loopback
      .withExposedPorts(5432)
      .withHealthCheck({ test: ['CMD-SHELL', 'pg_isready -h 127.0.0.1 -U postgres'], interval: 500, retries: 120 })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(STARTUP_MS)
      .start(),
    new GenericContainer(MARIADB_IMAGE)
      .withEnvironment({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1', MARIADB_DATABASE: 'test' })
      .withExposedPorts(3306)
      .withHealthCheck({
        test: ['CMD', 'healthcheck.sh', '--connect', '--innodb_initialized'],
        interval: 500,
        retries: 120,
      })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(STARTUP_MS)
      .start(),
  ]);
  process.env.TEST_POSTGRES_URL = `postgres://postgres@127.0.0.1:${postgres.getMappedPort(5432)}/postgres`;
  process.env.TEST_MYSQL_URL = `mysql://root@127.0.0.1:${mariadb.getMappedPort(3306)}/test`;
  return async () => {
    await Promise.all([postgres.stop(), mariadb.stop()]);
  };
}

export async function startNats(port?: number, args: string[] = []): Promise<NatsServer> {
  const chosen = port ?? (await freePort());
  // Files named in the flags (TLS certificates, credentials) are mounted at the same path.
  const files = args.filter((a) => a.startsWith('/') && existsSync(a));
  const container = new GenericContainer(NATS_IMAGE)
    .withCommand(['-p', String(chosen), ...args])
    .withExposedPorts({ container: chosen, host: chosen })
    .withBindMounts(files.map((source) => ({ source, target: source, mode: 'ro' as const })))
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .withStartupTimeout(STARTUP_MS);
  const server = await started(container, chosen, 'nats-server');
  const scheme = args.includes('--tls') ? 'tls' : 'nats';
  return { ...server, port: chosen, url: `${scheme}://127.0.0.1:${chosen}`, restart: () => startNats(chosen, args) };
}

export async function startJanus(options: JanusOptions = {}): Promise<JanusServer> {
  const wsPort = options.wsPort ?? (await freePort());
  const adminPort = options.adminPort ?? (await freePort());
  const flags = janusFlags(options);
  const container = new GenericContainer(JANUS_IMAGE)
    .withEnvironment({ WS_PORT: String(wsPort), ADMIN_PORT: String(adminPort), JANUS_FLAGS: flags.join(' ') })
    .withExposedPorts({ container: wsPort, host: wsPort }, { container: adminPort, host: adminPort })
    .withWaitStrategy(Wait.forListeningPorts())
    .withStartupTimeout(STARTUP_MS);
  const server = await started(container, wsPort, 'Janus', adminPort);
  return {
    ...server,
    wsPort,
    adminPort,
    url: `janusws://127.0.0.1:${wsPort}/janus`,
    adminUrl: `ws://127.0.0.1:${adminPort}/admin`,
    restart: () => startJanus({ ...options, wsPort, adminPort }),
  };
}

/** Starts the container, waits for its ports from the host, and wraps it as a ServerHandle. */
async function started(
  container: GenericContainer,
  port: number,
  what: string,
  otherPort?: number,
): Promise<ServerHandle> {
  let running: StartedTestContainer;
  try {
    running = await container.start();
  } catch (err) {
    throw new Error(`${what} container did not start: ${(err as Error).message}`, { cause: err });
  }
  const client = await getContainerRuntimeClient();
  const server = await handle(client, running);
  try {
    await waitForPort(port, 15_000);
    if (otherPort !== undefined) await waitForPort(otherPort, 5_000);
  } catch (err) {
    await server.kill();
    throw new Error(`${what} container did not answer: ${(err as Error).message}\n${server.output().slice(-2000)}`, {
      cause: err,
    });
  }
  return server;
}

/**
 * pause/resume are synchronous in the ServerHandle interface (SIGSTOP/SIGCONT locally); here
 * they start a Docker API call, and every call waits for the ones before it, so a resume
 * never overtakes its pause and kill/stop see the container as the test left it.
 */
async function handle(client: ContainerRuntimeClient, running: StartedTestContainer): Promise<ServerHandle> {
  const docker = client.container.getById(running.getId());
  const pid = (await docker.inspect()).State.Pid;
  let out = '';
  const keep = (text: string): void => {
    out = (out + text).slice(-200_000);
  };
  (await running.logs()).on('data', (d: Buffer | string) => keep(d.toString())).on('error', () => {});

  let queue: Promise<unknown> = Promise.resolve();
  const next = <T>(op: () => Promise<T>): Promise<T> => {
    const result = queue.then(op);
    queue = result.catch(() => {});
    return result;
  };
  const report = (what: string) => (err: Error) => keep(`\n[docker ${what} failed: ${err.message}]\n`);
  let gone = false;
  const remove = async (): Promise<void> => {
    gone = true;
    await docker.wait();
    await docker.remove({ force: true }).catch(() => {});
  };
  return {
    pid,
    pause: () => {
      void next(() => docker.pause()).catch(report('pause'));
    },
    resume: () => {
      void next(async () => {
        if ((await docker.inspect()).State.Paused) await docker.unpause();
      }).catch(report('resume'));
    },
    kill: () =>
      next(async () => {
        if (gone) return;
        const state = (await docker.inspect()).State;
        if (state.Running) {
          // SIGKILL while frozen, like the local SIGKILL without SIGCONT; engines that refuse it get unpaused first.
          await docker.kill({ signal: 'SIGKILL' }).catch(async (err: Error) => {
            if (!state.Paused) throw err;
            await docker.unpause();
            await docker.kill({ signal: 'SIGKILL' });
          });
        }
        await remove();
      }),
    stop: (graceMs = 5_000) =>
      next(async () => {
        if (gone) return 0;
        const begun = Date.now();
        const state = (await docker.inspect()).State;
        if (state.Paused) await docker.unpause();
        if (state.Running) await docker.stop({ t: Math.ceil(graceMs / 1000) });
        await remove();
        return Date.now() - begun;
      }),
    output: () => out,
  };
}
