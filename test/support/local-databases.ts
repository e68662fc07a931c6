/**
 * PostgreSQL and MariaDB for the integration tests when no container engine runs them.
 * Per engine, in this order:
 * - TEST_POSTGRES_URL / TEST_MYSQL_URL set: that server, as it is (it must answer);
 * - a server answers on the default address (127.0.0.1:5432 as postgres, 127.0.0.1:3306 as
 *   root): that one (a developer's machine, CI here);
 * - else a throw-away server of our own, from Debian's binaries (scripts/install-system-deps.sh
 *   installs them when missing), in a temporary directory, on a free loopback port,
 *   stopped and removed at the end of the run.
 * TEST_DATABASES=throwaway skips the second step. The chosen URLs reach the test workers as
 * TEST_POSTGRES_URL / TEST_MYSQL_URL.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { freePort, manage, waitForPort, type ManagedProcess } from './processes.js';

const DEFAULTS = {
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  mysql: 'mysql://root@127.0.0.1:3306/test',
} as const;

const VARIABLES = { postgres: 'TEST_POSTGRES_URL', mysql: 'TEST_MYSQL_URL' } as const;

export type Engine = keyof typeof DEFAULTS;

export interface ProvidedDatabases {
  /** One line per engine: which server the tests use, and why. */
  readonly description: string[];
  stop(): Promise<void>;
}

/** Sets TEST_POSTGRES_URL and TEST_MYSQL_URL for the workers; starts throw-away servers where needed. */
export async function provideDatabases(): Promise<ProvidedDatabases> {
  const started: Array<{ stop(): Promise<void> }> = [];
  const description: string[] = [];
  try {
    for (const engine of ['postgres', 'mysql'] as const) {
      const configured = process.env[VARIABLES[engine]];
      if (configured) {
        description.push(`${engine}: ${VARIABLES[engine]}`);
        continue;
      }
      if (process.env.TEST_DATABASES !== 'throwaway' && (await answers(engine, DEFAULTS[engine]))) {
        description.push(`${engine}: the server running on ${new URL(DEFAULTS[engine]).host}`);
        continue;
      }
      const server = await startThrowAwayServer(engine);
      started.push(server);
      process.env[VARIABLES[engine]] = server.url;
      description.push(
        `${engine}: a throw-away server on ${new URL(server.url).host} (none answered on ` +
          `${new URL(DEFAULTS[engine]).host})`,
      );
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
  return {
    description,
    stop: async () => {
      await Promise.all(started.map((s) => s.stop()));
    },
  };
}

/** Whether a server takes a login at `url` within two seconds. */
async function answers(engine: Engine, url: string): Promise<boolean> {
  try {
    if (engine === 'postgres') {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
      await client.connect();
      await client.end();
    } else {
      const connection = await mysql.createConnection({ uri: url, connectTimeout: 2000 });
      await connection.end();
    }
    return true;
  } catch {
    return false;
  }
}

export interface ThrowAway {
  readonly url: string;
  /** Its data directory, removed by stop(). */
  readonly dir: string;
  stop(): Promise<void>;
}

/** A server of our own in a temporary directory, on a free loopback port; `stop()` removes it all. */
export function startThrowAwayServer(engine: Engine): Promise<ThrowAway> {
  return engine === 'postgres' ? startPostgres() : startMariaDb();
}

/** Runs `command` and resolves with its exit, failing with its output when it is not 0. */
function run(command: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}):\n${output.slice(-2000)}`)),
    );
  });
}

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user Debian's package creates. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function postgresBinaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin/initdb')))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const newest = versions.at(-1);
  if (!newest)
    throw new Error(
      "no PostgreSQL answers on 127.0.0.1:5432 and initdb is not installed (make deps installs Debian's postgresql)",
    );
  return join(root, newest, 'bin');
}

async function startPostgres(): Promise<ThrowAway> {
  const bin = postgresBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'jnb-postgres-'));
  if (userInfo().uid === 0) chownSync(dir, Number(await idOf('postgres', '-u')), Number(await idOf('postgres', '-g')));
  const data = join(dir, 'data');
  await run(
    ...asPostgresUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']),
    'initdb',
  );
  const port = await freePort();
  // fsync off: a throw-away server keeps nothing worth a crash-safe write.
  const [command, args] = asPostgresUser(join(bin, 'postgres'), [
    '-D',
    data,
    '-k',
    dir,
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-c',
    'fsync=off',
    '-c',
    'max_connections=200',
  ]);
  const server = manage(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  return ready(server, port, `postgres://postgres@127.0.0.1:${port}/postgres`, 'postgres', dir);
}

async function startMariaDb(): Promise<ThrowAway> {
  const installDb = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'].find(existsSync);
  const daemon = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find(existsSync);
  if (!installDb || !daemon)
    throw new Error('no MariaDB answers on 127.0.0.1:3306 and mariadb-server is not installed (make deps installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'jnb-mariadb-'));
  const data = join(dir, 'data');
  const user = userInfo().username;
  // A root user that logs in over TCP from 127.0.0.1 with an empty password, as the tests expect.
  await run(
    installDb,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--user=${user}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ],
    'mariadb-install-db',
  );
  const port = await freePort();
  const server = manage(
    spawn(
      daemon,
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--user=${user}`,
        '--skip-log-bin',
        '--innodb-flush-log-at-trx-commit=0',
        `--pid-file=${join(dir, 'mysqld.pid')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  const started = await ready(server, port, `mysql://root@127.0.0.1:${port}/mysql`, 'mysql', dir);
  const admin = await mysql.createConnection({ uri: started.url });
  try {
    await admin.query('CREATE DATABASE IF NOT EXISTS test');
  } finally {
    await admin.end();
  }
  return { ...started, url: `mysql://root@127.0.0.1:${port}/test` };
}

/** Waits until the server takes logins; on failure stops it and says what it printed. */
async function ready(
  server: ManagedProcess,
  port: number,
  url: string,
  engine: Engine,
  dir: string,
): Promise<ThrowAway> {
  const stop = async (): Promise<void> => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 30_000);
    const deadline = Date.now() + 30_000;
    while (!(await answers(engine, url))) {
      if (Date.now() > deadline) throw new Error(`no login within 30 s on 127.0.0.1:${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    const output = server.output().slice(-2000);
    await stop();
    throw new Error(`the throw-away ${engine} server did not start: ${(err as Error).message}\n${output}`, {
      cause: err,
    });
  }
  return { url, dir, stop };
}

async function idOf(user: string, flag: '-u' | '-g'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('id', [flag, user], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`no user ${user}`))));
  });
}
