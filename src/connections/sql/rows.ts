/** Turning the table's rows into a connection list, and the version rule: pure functions. */
import {
  janusIdProblem,
  shownJanusId,
  toSpec,
  type ConnectionList,
  type ConnectionSpec,
  type SkippedEntry,
} from '../spec.js';
import { EXPECTED_TABLE_VERSION } from './dialect.js';

export interface ConnectionRow {
  id: unknown;
  janus_id: unknown;
  janus_url: unknown;
  /** Only when the table has the column (it is optional). */
  janus_admin_url?: unknown;
}

/** Good rows become specs; a bad row is skipped with its reason, and the rest still load. */
export function rowsToList(rows: readonly ConnectionRow[]): ConnectionList {
  const specs: ConnectionSpec[] = [];
  const skipped: SkippedEntry[] = [];
  const takenBy = new Map<string, string>();
  for (const row of rows) {
    const rowId = String(row.id);
    const janusId = shownJanusId(typeof row.janus_id === 'string' ? row.janus_id : String(row.janus_id ?? ''));
    const skip = (reason: string): void => {
      skipped.push({ row: rowId, janusId, reason });
    };
    const idProblem = janusIdProblem(row.janus_id);
    if (typeof row.janus_id !== 'string' || idProblem !== undefined) {
      skip(idProblem ?? 'janus_id is empty');
      continue;
    }
    if (takenBy.has(row.janus_id)) {
      skip(`janus_id already taken by row ${takenBy.get(row.janus_id)}`);
      continue;
    }
    if (typeof row.janus_url !== 'string') {
      skip('janus_url is empty');
      continue;
    }
    const adminUrl = row.janus_admin_url ?? null;
    if (adminUrl !== null && typeof adminUrl !== 'string') {
      skip('janus_admin_url is not text');
      continue;
    }
    const result = toSpec(row.janus_id, row.janus_url, adminUrl);
    if (!result.ok) {
      skip(`${result.field}: ${result.reason}`);
      continue;
    }
    takenBy.set(row.janus_id, rowId);
    specs.push(result.spec);
  }
  return { specs, skipped };
}

/**
 * OpenSIPS's rule: when a `version` table exists, its row for our table must say 1.
 * `found` is the row's value, `null` for no row, or `'no-version-table'`.
 */
export function versionProblem(table: string, found: number | null | 'no-version-table'): string | undefined {
  if (found === 'no-version-table' || found === EXPECTED_TABLE_VERSION) return undefined;
  const what = found === null ? 'no row for it' : `table_version ${found}`;
  return (
    `table "${table}": the version table has ${what}, expected table_version ${EXPECTED_TABLE_VERSION} ` +
    '(apply deploy/sql/*.sql or fix the version row)'
  );
}
