/** The OpenSIPS `janus` table as a connection source (PostgreSQL or MySQL/MariaDB). */
import type { ConnectionList, ConnectionSource } from '../spec.js';
import type { DbTarget } from '../db-url.js';
import { selectAdminUrlColumn, selectConnections, selectTableVersion } from './dialect.js';
import { classifyDbError, openDbSession, type DbOptions, type DbSession } from './drivers.js';
import { rowsToList, versionProblem, type ConnectionRow } from './rows.js';
import { ListLoadError } from '../list-errors.js';

export class SqlConnectionSource implements ConnectionSource {
  readonly description: string;

  constructor(
    private readonly target: DbTarget,
    private readonly table: string,
    private readonly options: DbOptions,
  ) {
    this.description = `${target.description} (table ${table})`;
  }

  async load(): Promise<ConnectionList> {
    let session: DbSession;
    try {
      session = await openDbSession(this.target.engine, this.options);
    } catch (err) {
      throw new ListLoadError('unreachable', `cannot reach ${this.target.description}: ${dbErrorText(err)}`);
    }
    try {
      const problem = versionProblem(this.table, await this.tableVersion(session));
      if (problem) throw new ListLoadError('version', problem);
      // Asked at every load: a column added since the last one is read from then on.
      const withAdminUrl =
        (await session.query<unknown>(selectAdminUrlColumn(this.target.engine, this.table))).length > 0;
      const rows = await session.query<ConnectionRow>(selectConnections(this.target.engine, this.table, withAdminUrl));
      return rowsToList(rows);
    } catch (err) {
      if (err instanceof ListLoadError) throw err;
      const kind = classifyDbError(err);
      const where =
        kind === 'missing-table'
          ? `table "${this.table}" does not exist in ${this.target.description}`
          : `reading ${this.description} failed`;
      throw new ListLoadError(kind, `${where}: ${dbErrorText(err)}`);
    } finally {
      // Closing a session that failed may fail too: the load's own error is what counts.
      await session.close().catch(() => {});
    }
  }

  private async tableVersion(session: DbSession): Promise<number | null | 'no-version-table'> {
    try {
      const rows = await session.query<{ table_version: unknown }>(selectTableVersion(this.target.engine, this.table));
      return rows.length === 0 ? null : Number(rows[0]!.table_version);
    } catch (err) {
      if (classifyDbError(err) === 'missing-table') return 'no-version-table';
      throw err;
    }
  }
}

/** A database error as one line: its code (when the message does not say it) and its message. */
function dbErrorText(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message || String(err);
  return code && !message.includes(String(code)) ? `${String(code)} ${message}` : message;
}
