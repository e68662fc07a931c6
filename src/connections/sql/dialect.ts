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
  return name.split('.').map((part) => mark + part + mark).join('.');
}

export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

export function selectConnections(engine: Engine, table: string): Statement {
  return { text: `SELECT id, janus_id, janus_url FROM ${quote(engine, table)} ORDER BY id`, values: [] };
}

export function selectTableVersion(engine: Engine, table: string): Statement {
  const placeholder = engine === 'postgres' ? '$1' : '?';
  return { text: `SELECT table_version FROM ${quote(engine, 'version')} WHERE table_name = ${placeholder}`, values: [table] };
}
