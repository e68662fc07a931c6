import { describe, expect, it } from 'vitest';
import { diffConnections, onlyAdminUrlChanged } from '../../src/connections/diff.js';
import { toSpec, type ConnectionSpec } from '../../src/connections/spec.js';

function spec(janusId: string, url: string): ConnectionSpec {
  const result = toSpec(janusId, url);
  if (!result.ok) throw new Error(result.reason);
  return result.spec;
}

const ids = (specs: ConnectionSpec[]): string[] => specs.map((s) => s.janusId).sort();

describe('diffConnections', () => {
  it('sorts connections into added, removed, changed and unchanged', () => {
    const keep = spec('keep', 'janusws://a:8188/janus');
    const move = spec('move', 'janusws://b:8188/janus');
    const gone = spec('gone', 'janusws://c:8188/janus');
    const moved = spec('move', 'januswss://b2:8989/janus');
    const keepAgain = spec('keep', 'janusws://a:8188/janus');
    const fresh = spec('fresh', 'ws://d:8188');

    const diff = diffConnections([keep, move, gone], [keepAgain, moved, fresh]);

    expect(diff.added).toEqual([fresh]);
    expect(diff.removed).toEqual([gone]);
    expect(diff.changed).toEqual([moved]);
    expect(diff.changed[0]).toBe(moved);
    expect(diff.unchanged).toHaveLength(1);
    // The running spec is kept for an unchanged connection.
    expect(diff.unchanged[0]).toBe(keep);
  });

  it('compares the configured URL text, not only the dialled URL', () => {
    const before = spec('x', 'janusws://h:8188/janus');
    const after = spec('x', 'ws://h:8188/janus');
    expect(before.url.wsUrl).toBe(after.url.wsUrl);
    const diff = diffConnections([before], [after]);
    expect(diff.changed).toEqual([after]);
    expect(diff.unchanged).toEqual([]);
  });

  it('adds everything to an empty list and removes everything for an empty list', () => {
    const a = spec('a', 'janusws://a/janus');
    const b = spec('b', 'janusws://b/janus');
    const up = diffConnections([], [a, b]);
    expect(ids(up.added)).toEqual(['a', 'b']);
    expect(up.removed).toEqual([]);
    const down = diffConnections([a, b], []);
    expect(ids(down.removed)).toEqual(['a', 'b']);
    expect(down.added).toEqual([]);
    expect(down.changed).toEqual([]);
    expect(down.unchanged).toEqual([]);
  });

  it('reports nothing to do for identical lists', () => {
    const a = spec('a', 'janusws://a/janus');
    const diff = diffConnections([a], [spec('a', 'janusws://a/janus')]);
    expect(diff).toEqual({ added: [], removed: [], changed: [], unchanged: [a] });
  });

  it('accepts any iterable', () => {
    const a = spec('a', 'janusws://a/janus');
    const current = new Map([['a', a]]).values();
    const diff = diffConnections(current, new Set([spec('b', 'janusws://b/janus')]));
    expect(ids(diff.added)).toEqual(['b']);
    expect(ids(diff.removed)).toEqual(['a']);
  });
});

describe('a change of janus_admin_url', () => {
  const withAdmin = (id: string, url: string, admin?: string): ConnectionSpec => {
    const result = toSpec(id, url, admin);
    if (!result.ok) throw new Error(result.reason);
    return result.spec;
  };

  it('is a change, told apart from a change of janus_url (which replaces the session)', () => {
    const before = withAdmin('a', 'janusws://a/janus', 'janusws://a:7188/admin');
    const adminMoved = withAdmin('a', 'janusws://a/janus', 'janusws://a:7189/admin?admin_secret=x');
    const adminGone = withAdmin('a', 'janusws://a/janus');
    const both = withAdmin('a', 'janusws://b/janus', 'janusws://b:7188/admin');
    for (const next of [adminMoved, adminGone, both]) expect(diffConnections([before], [next]).changed).toEqual([next]);
    expect(
      diffConnections([before], [withAdmin('a', 'janusws://a/janus', 'janusws://a:7188/admin')]).unchanged,
    ).toEqual([before]);
    expect(onlyAdminUrlChanged(before, adminMoved)).toBe(true);
    expect(onlyAdminUrlChanged(before, adminGone)).toBe(true);
    expect(onlyAdminUrlChanged(adminGone, before)).toBe(true);
    expect(onlyAdminUrlChanged(before, both)).toBe(false);
  });
});
