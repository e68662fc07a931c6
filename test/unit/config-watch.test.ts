import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprint, keysNeedingRestart } from '../../src/config/watch.js';

describe('what changed in the configuration file', () => {
  it('names the keys other than the list whose values differ, never their values', () => {
    const running = { nats: { servers: ['a'], password: 'old' }, connections: [1], log: { level: 'info' } };
    const next = { nats: { servers: ['a', 'b'], password: 'new' }, connections: [1, 2], log: { level: 'info' } };
    expect(keysNeedingRestart(running, next)).toEqual(['nats.password', 'nats.servers']);
  });

  it('is empty when only the connection list changed', () => {
    expect(
      keysNeedingRestart(
        { connections: [], http: { port: 1 } },
        { connections: [{ janus_id: 'x' }], http: { port: 1 } },
      ),
    ).toEqual([]);
  });

  it('tells content apart, not the file: the same bytes are the same, an unreadable file is its own state', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jnb-fp-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, '{"a":1}');
    const first = fingerprint(file);
    writeFileSync(file, '{"a":1}');
    expect(fingerprint(file)).toBe(first);
    writeFileSync(file, '{"a":2}');
    expect(fingerprint(file)).not.toBe(first);
    expect(fingerprint(join(dir, 'missing.json'))).toBe('unreadable: ENOENT');
  });
});
