/** The SQL the source runs, per engine: parameterised, identifiers validated then quoted. */
export type Engine = 'postgres' | 'mysql';

/** The table version the OpenSIPS `janus` module (and this bridge) expects in the `version` table. */
export const EXPECTED_TABLE_VERSION = 1;

/** A table name, optionally schema-qualified: letters, digits and underscores, not starting with a digit. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function isValidTableName(name: string): boolean {
  const parts = name.split('.');
  return parts.length <= 2 && parts.every((part) => IDENTIFIER.test(part));
}

function quote(engine: Engine, name: string): string {
  if (!isValidTableName(name)) throw new Error(`invalid table name ${JSON.stringify(name)}`);
  const mark = engine === 'postgres' ? '"' : '`';
  return name
    .split('.')
    .map((part) => mark + part + mark)
    .join('.');
}

export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

export function selectTableVersion(engine: Engine, table: string): Statement {
  const placeholder = engine === 'postgres' ? '$1' : '?';
  return {
    text: `SELECT table_version FROM ${quote(engine, 'version')} WHERE table_name = ${placeholder}`,
    values: [table],
  };
}

/** The optional column of a Janus's Admin API URL: tables without it (OpenSIPS's own) are read without it. */
export const ADMIN_URL_COLUMN = 'janus_admin_url';

export function selectConnections(engine: Engine, table: string, withAdminUrl = false): Statement {
  const columns = withAdminUrl ? `id, janus_id, janus_url, ${ADMIN_URL_COLUMN}` : 'id, janus_id, janus_url';
  return { text: `SELECT ${columns} FROM ${quote(engine, table)} ORDER BY id`, values: [] };
}

/**
 * Whether the table has the janus_admin_url column: a row when it has. Asked of the catalogue
 * rather than by trying the column, so that an older table costs no failed query (which the
 * database server would log as an error at every reload). PostgreSQL resolves the name as the
 * SELECT does (to_regclass, search_path included); MySQL looks in the schema named, else in the
 * connection's database.
 */
export function selectAdminUrlColumn(engine: Engine, table: string): Statement {
  if (engine === 'postgres') {
    return {
      text: 'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped',
      values: [quote(engine, table), ADMIN_URL_COLUMN],
    };
  }
  if (!isValidTableName(table)) throw new Error(`invalid table name ${JSON.stringify(table)}`);
  const [schema, name] = table.includes('.') ? (table.split('.') as [string, string]) : [undefined, table];
  return {
    text:
      'SELECT column_name FROM information_schema.columns WHERE table_name = ? AND column_name = ? ' +
      `AND table_schema = ${schema === undefined ? 'DATABASE()' : '?'}`,
    values: schema === undefined ? [name, ADMIN_URL_COLUMN] : [name, ADMIN_URL_COLUMN, schema],
  };
}
