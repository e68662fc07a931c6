/**
 * A database of its own for each test, on the PostgreSQL and MariaDB that run on this
 * machine (loopback), created with the shipped schema files and dropped afterwards.
 * When global setup chose containers (environment.ts), it started one PostgreSQL and one
 * MariaDB container for the run and pointed TEST_POSTGRES_URL / TEST_MYSQL_URL at their
 * published ports, so the databases are created inside them.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';

const REPO = resolve(import.meta.dirname, '../..');

function engine(admin: string, defaultPort: number): { readonly admin: string; readonly port: number } {
  return { admin, port: Number(new URL(admin).port || defaultPort) };
}

export const ENGINES = {
  postgres: engine(process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', 5432),
  mysql: engine(process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test', 3306),
} as const;

export type EngineName = keyof typeof ENGINES;

export interface TestDatabase {
  readonly name: string;
  /** URL of the new database, through `host:port` (default: the engine's own port). */
  url(port?: number, credentials?: string): string;
  exec(sql: string, values?: unknown[]): Promise<void>;
  drop(): Promise<void>;
}

/** Runs SQL as the engine's admin user, in `database` (default: the admin URL's own). */
async function run(
  engine: EngineName,
  sql: string,
  options: { database?: string; values?: unknown[] } = {},
): Promise<void> {
  const url = new URL(ENGINES[engine].admin);
  if (options.database) url.pathname = `/${options.database}`;
  if (engine === 'postgres') {
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(sql, options.values);
    } finally {
      await client.end();
    }
  } else {
    const connection = await mysql.createConnection({ uri: url.toString(), multipleStatements: !options.values });
    try {
      await connection.query(sql.replace(/\$\d+/g, '?'), options.values);
    } finally {
      await connection.end();
    }
  }
}

export async function createDatabase(engine: EngineName, options: { schema?: boolean } = {}): Promise<TestDatabase> {
  const name = `jnb_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await run(engine, `CREATE DATABASE ${name}`);
  if (options.schema !== false) {
    await run(engine, readFileSync(resolve(REPO, `deploy/sql/${engine}.sql`), 'utf8'), { database: name });
  }
  const base = new URL(ENGINES[engine].admin);
  return {
    name,
    url: (port = ENGINES[engine].port, credentials) => {
      const user = credentials ?? base.username + (base.password ? `:${base.password}` : '');
      return `${engine === 'postgres' ? 'postgres' : 'mysql'}://${user}@127.0.0.1:${port}/${name}`;
    },
    exec: (sql, values = []) => run(engine, sql, { database: name, values }),
    drop: () => run(engine, `DROP DATABASE IF EXISTS ${name}`),
  };
}
