/** Database URLs: which driver, and a description that is safe to log (no password). */
import type { Engine } from './sql/dialect.js';

export interface DbTarget {
  readonly engine: Engine;
  /** host:port/database, for logs and errors. */
  readonly description: string;
}

export function parseDbUrl(url: string): { ok: true; target: DbTarget } | { ok: false; reason: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return {
      ok: false,
      reason: 'is not a URL (postgres://user:password@host:5432/db or mysql://user:password@host:3306/db)',
    };
  }
  const engine: Engine | undefined = {
    'postgres:': 'postgres',
    'postgresql:': 'postgres',
    'mysql:': 'mysql',
    'mariadb:': 'mysql',
  }[parsed.protocol] as Engine | undefined;
  if (!engine)
    return {
      ok: false,
      reason: `scheme "${parsed.protocol}" is not supported (postgres://, postgresql://, mysql://, mariadb://)`,
    };
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.hostname && !parsed.searchParams.get('host')) return { ok: false, reason: 'has no host' };
  if (!database) return { ok: false, reason: 'names no database (…/dbname)' };
  const port = parsed.port || (engine === 'postgres' ? '5432' : '3306');
  return {
    ok: true,
    target: {
      engine,
      description: `${engine}://${parsed.hostname || parsed.searchParams.get('host')}:${port}/${database}`,
    },
  };
}
