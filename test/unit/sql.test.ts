import { describe, expect, it } from 'vitest';
import { parseDbUrl } from '../../src/connections/db-url.js';
import {
  isValidTableName,
  selectAdminUrlColumn,
  selectConnections,
  selectTableVersion,
} from '../../src/connections/sql/dialect.js';
import { classifyDbError } from '../../src/connections/sql/drivers.js';
import { rowsToList, versionProblem } from '../../src/connections/sql/rows.js';

describe('rowsToList', () => {
  it('keeps good rows in order and skips bad ones with the row id, janus_id and reason', () => {
    const list = rowsToList([
      { id: 1, janus_id: 'a', janus_url: 'janusws://h:8188/janus' },
      { id: 2, janus_id: null, janus_url: 'janusws://h:8188/janus' },
      { id: 3, janus_id: '  ', janus_url: 'janusws://h:8188/janus' },
      { id: 4, janus_id: 'b', janus_url: 'sip:h' },
      { id: 5, janus_id: 'a', janus_url: 'ws://other/' },
      { id: 6, janus_id: 'c d', janus_url: 'ws://h/' },
      { id: 7, janus_id: 'e', janus_url: null },
      { id: 8, janus_id: 'f', janus_url: 'januswss://[::1]:8989/janus?room=x' },
    ]);
    expect(list.specs.map((s) => [s.janusId, s.url.wsUrl])).toEqual([
      ['a', 'ws://h:8188/janus'],
      ['f', 'wss://[::1]:8989/janus?room=x'],
    ]);
    expect(list.skipped.map((s) => [s.row, s.janusId])).toEqual([
      ['2', ''],
      ['3', '  '],
      ['4', 'b'],
      ['5', 'a'],
      ['6', 'c d'],
      ['7', 'e'],
    ]);
    expect(list.skipped[3]!.reason).toBe('janus_id already taken by row 1');
    expect(list.skipped[2]!.reason).toContain('janus_url: URL must start with janusws://');
  });

  it('skips an id over the length limit (its length, the limit, the id cut short), loads the rows around it', () => {
    const long = 'x'.repeat(5000);
    const list = rowsToList([
      { id: 1, janus_id: 'before', janus_url: 'ws://h/' },
      { id: 2, janus_id: long, janus_url: 'ws://h/' },
      { id: 3, janus_id: 'é'.repeat(101), janus_url: 'ws://h/' },
      { id: 4, janus_id: 'é'.repeat(100), janus_url: 'ws://h/' },
      { id: 5, janus_id: 'after', janus_url: 'ws://h/' },
    ]);
    expect(list.specs.map((s) => s.janusId)).toEqual(['before', 'é'.repeat(100), 'after']);
    expect(list.skipped.map((s) => [s.row, s.reason])).toEqual([
      ['2', 'janus_id is 5000 bytes long, at most 200 bytes (UTF-8) are allowed'],
      ['3', 'janus_id is 202 bytes long, at most 200 bytes (UTF-8) are allowed'],
    ]);
    expect(list.skipped[0]!.janusId).toBe(`${'x'.repeat(32)}… (5000 bytes)`);
    expect(JSON.stringify(list.skipped).length).toBeLessThan(500);
  });

  it('does not let a bad row take an id from a later good row', () => {
    const list = rowsToList([
      { id: 1, janus_id: 'a', janus_url: 'nope' },
      { id: 2, janus_id: 'a', janus_url: 'ws://h/' },
    ]);
    expect(list.specs.map((s) => s.janusId)).toEqual(['a']);
    expect(list.skipped.map((s) => s.row)).toEqual(['1']);
  });
});

describe('versionProblem', () => {
  it('accepts version 1 and a database without a version table', () => {
    expect(versionProblem('janus', 1)).toBeUndefined();
    expect(versionProblem('janus', 'no-version-table')).toBeUndefined();
  });

  it('names table, found and expected otherwise', () => {
    expect(versionProblem('janus', 2)).toMatch(
      /^table "janus": the version table has table_version 2, expected table_version 1/,
    );
    expect(versionProblem('gw', null)).toMatch(
      /^table "gw": the version table has no row for it, expected table_version 1/,
    );
  });
});

describe('dialect', () => {
  it.each(['janus', 'Janus_2', '_x', 'public.janus'])('accepts the table name %s', (name) => {
    expect(isValidTableName(name)).toBe(true);
  });

  it.each(['', '2janus', 'a.b.c', 'janus;drop', 'ja nus', 'j"a', 'j`a', 'a'.repeat(64)])(
    'refuses the table name %j',
    (name) => {
      expect(isValidTableName(name)).toBe(false);
      expect(() => selectConnections('postgres', name)).toThrow(/invalid table name/);
    },
  );

  it('quotes identifiers per engine and passes the table name as a parameter', () => {
    expect(selectConnections('postgres', 'public.janus').text).toBe(
      'SELECT id, janus_id, janus_url FROM "public"."janus" ORDER BY id',
    );
    expect(selectConnections('mysql', 'janus').text).toBe('SELECT id, janus_id, janus_url FROM `janus` ORDER BY id');
    expect(selectTableVersion('postgres', 'janus')).toEqual({
      text: 'SELECT table_version FROM "version" WHERE table_name = $1',
      values: ['janus'],
    });
    expect(selectTableVersion('mysql', 'janus')).toEqual({
      text: 'SELECT table_version FROM `version` WHERE table_name = ?',
      values: ['janus'],
    });
  });
});

describe('parseDbUrl', () => {
  it.each([
    ['postgres://u:secret@db:5433/opensips', 'postgres', 'postgres://db:5433/opensips'],
    ['postgresql://u@db/opensips', 'postgres', 'postgres://db:5432/opensips'],
    ['mysql://u:secret@db/opensips', 'mysql', 'mysql://db:3306/opensips'],
    ['mariadb://u:secret@[::1]:3307/o', 'mysql', 'mysql://[::1]:3307/o'],
  ])('%s → %s, described without the password', (url, engine, description) => {
    const parsed = parseDbUrl(url);
    expect(parsed).toEqual({ ok: true, target: { engine, description } });
    expect(JSON.stringify(parsed)).not.toContain('secret');
  });

  it.each(['redis://db/0', 'postgres://u@db', 'not a url', 'mysql:///opensips'])('refuses %s with a reason', (url) => {
    const parsed = parseDbUrl(url);
    expect(parsed.ok).toBe(false);
  });
});

describe('classifyDbError', () => {
  it.each([
    [{ code: 'ECONNREFUSED' }, 'unreachable'],
    [{ code: '28P01' }, 'unreachable'],
    [{ code: '3D000' }, 'unreachable'],
    [{ code: 'ER_ACCESS_DENIED_ERROR' }, 'unreachable'],
    [{ code: 'ER_BAD_DB_ERROR' }, 'unreachable'],
    [{ message: 'Connection terminated due to connection timeout' }, 'unreachable'],
    [{ code: '42P01' }, 'missing-table'],
    [{ code: 'ER_NO_SUCH_TABLE' }, 'missing-table'],
    [{ code: '42703', message: 'column "janus_url" does not exist' }, 'query'],
  ])('%j is %s', (error, kind) => {
    expect(classifyDbError(error)).toBe(kind);
  });
});

describe('the optional janus_admin_url column', () => {
  it('is read only when the catalogue says the table has it', () => {
    expect(selectConnections('postgres', 'janus', true).text).toBe(
      'SELECT id, janus_id, janus_url, janus_admin_url FROM "janus" ORDER BY id',
    );
    expect(selectConnections('mysql', 'janus', true).text).toBe(
      'SELECT id, janus_id, janus_url, janus_admin_url FROM `janus` ORDER BY id',
    );
    expect(selectAdminUrlColumn('postgres', 'public.janus')).toEqual({
      text: 'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped',
      values: ['"public"."janus"', 'janus_admin_url'],
    });
    expect(selectAdminUrlColumn('mysql', 'janus').values).toEqual(['janus', 'janus_admin_url']);
    expect(selectAdminUrlColumn('mysql', 'janus').text).toContain('table_schema = DATABASE()');
    expect(selectAdminUrlColumn('mysql', 'opensips.janus').values).toEqual(['janus', 'janus_admin_url', 'opensips']);
    expect(() => selectAdminUrlColumn('mysql', 'janus; DROP TABLE x')).toThrow(/invalid table name/);
    expect(() => selectAdminUrlColumn('postgres', 'janus; DROP TABLE x')).toThrow(/invalid table name/);
  });

  it('gives a row its Admin API (NULL or empty: none), skips one with an unusable janus_admin_url, no secret', () => {
    const list = rowsToList([
      {
        id: 1,
        janus_id: 'a',
        janus_url: 'ws://h:8188/janus',
        janus_admin_url: 'janusws://h:7188/admin?admin_secret=overlord',
      },
      { id: 2, janus_id: 'b', janus_url: 'ws://h:8188/janus', janus_admin_url: null },
      { id: 3, janus_id: 'c', janus_url: 'ws://h:8188/janus', janus_admin_url: '' },
      {
        id: 4,
        janus_id: 'd',
        janus_url: 'ws://h:8188/janus',
        janus_admin_url: 'http://h:7088/admin?admin_secret=overlord',
      },
      { id: 5, janus_id: 'e', janus_url: 'ws://h:8188/janus', janus_admin_url: 42 },
      { id: 6, janus_id: 'f', janus_url: 'ws://h:8188/janus' },
    ]);
    expect(list.specs.map((s) => [s.janusId, s.adminUrl?.wsUrl ?? null])).toEqual([
      ['a', 'ws://h:7188/admin'],
      ['b', null],
      ['c', null],
      ['f', null],
    ]);
    expect(list.specs[0]!.adminUrl!.credentials.adminSecret).toBe('overlord');
    expect(list.skipped.map((s) => [s.row, s.reason])).toEqual([
      ['4', 'janus_admin_url: unsupported scheme "http:" (use janusws://, januswss://, ws:// or wss://)'],
      ['5', 'janus_admin_url is not text'],
    ]);
    expect(JSON.stringify(list.skipped)).not.toContain('overlord');
  });
});
