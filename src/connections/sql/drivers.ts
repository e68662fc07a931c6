/**
 * One short-lived database connection per load: reloads are rare, and a fresh
 * connection never holds on to a database that has restarted since.
 */
import { readFileSync } from 'node:fs';
import type { Engine, Statement } from './dialect.js';

export interface DbOptions {
  readonly url: string;
  /** For the connection and for each query: a hung database must not block reloads for ever. */
  readonly connectTimeoutMs: number;
  readonly tls: { enabled: boolean; caFile: string; rejectUnauthorized: boolean };
}

export interface DbSession {
  query<T>(statement: Statement): Promise<T[]>;
  close(): Promise<void>;
}

/** Errors worth a retry (the database is down or refuses us) versus errors in what we asked. */
export type DbErrorKind = 'unreachable' | 'missing-table' | 'query';

export function classifyDbError(err: unknown): DbErrorKind {
  const code = String((err as { code?: unknown }).code ?? '');
  if (code === '42P01' || code === 'ER_NO_SUCH_TABLE') return 'missing-table';
  if (
    /^(08|28|3D|57P0)/.test(code) ||
    /^E[A-Z]+$/.test(code) ||
    /^ER_(ACCESS_DENIED|BAD_DB|DBACCESS_DENIED|CON_COUNT|HOST)/.test(code)
  )
    return 'unreachable';
  const message = String((err as Error).message ?? '');
  if (/timeout|terminated|closed|connect/i.test(message)) return 'unreachable';
  return 'query';
}

function tlsOptions(options: DbOptions): { ca?: string; rejectUnauthorized: boolean } | undefined {
  if (!options.tls.enabled) return undefined;
  return {
    rejectUnauthorized: options.tls.rejectUnauthorized,
    ...(options.tls.caFile ? { ca: readFileSync(options.tls.caFile, 'utf8') } : {}),
  };
}

export async function openDbSession(engine: Engine, options: DbOptions): Promise<DbSession> {
  return engine === 'postgres' ? openPostgres(options) : openMysql(options);
}

async function openPostgres(options: DbOptions): Promise<DbSession> {
  const { default: pg } = await import('pg');
  const ssl = tlsOptions(options);
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.connectTimeoutMs,
    ...(ssl ? { ssl } : {}),
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    // The connect error is what is reported; ending the half-open client may fail as well.
    await client.end().catch(() => {});
    throw err;
  }
  return {
    query: async <T>(statement: Statement) =>
      (await client.query({ text: statement.text, values: [...statement.values] })).rows as T[],
    close: () => client.end(),
  };
}

async function openMysql(options: DbOptions): Promise<DbSession> {
  const mysql = await import('mysql2/promise');
  const ssl = tlsOptions(options);
  const uri = options.url.replace(/^mariadb:/, 'mysql:');
  const connection = await mysql.createConnection({
    uri,
    connectTimeout: options.connectTimeoutMs,
    ...(ssl ? { ssl } : {}),
  });
  connection.on('error', () => {});
  return {
    query: async <T>(statement: Statement) =>
      (
        await connection.query({
          sql: statement.text,
          values: [...statement.values],
          timeout: options.connectTimeoutMs,
        })
      )[0] as T[],
    close: () => connection.end(),
  };
}
