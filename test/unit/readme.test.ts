/** The README is the front door and docs/ the manual: their tables must say what the code does. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA } from '../../src/config/schema.js';
import { BRIDGE_ERRORS } from '../../src/errors.js';
import { Metrics } from '../../src/ops/metrics.js';

const read = (path: string): string => readFileSync(resolve(import.meta.dirname, '../..', path), 'utf8');
const readme = read('README.md');
const configuration = read('docs/configuration.md');
const errors = read('docs/errors.md');

type Leaf = { doc: string; env: string; default: unknown };

function leaves(node: Record<string, unknown>, path: string[] = []): Array<[string, Leaf]> {
  return Object.entries(node).flatMap(([key, value]) =>
    value && typeof value === 'object' && 'doc' in value
      ? [[[...path, key].join('.'), value as Leaf] as [string, Leaf]]
      : leaves(value as Record<string, unknown>, [...path, key]),
  );
}

describe('README', () => {
  it('starts with the two commands for a fresh machine', () => {
    const firstBlock = readme.split('```')[1] ?? '';
    expect(firstBlock).toMatch(/^sh\nmake run\b/);
    expect(firstBlock).toMatch(/\nmake test\b/);
  });

  it('stays a front door: well under 20 KB, the reference in docs/', () => {
    expect(Buffer.byteLength(readme)).toBeLessThan(20 * 1024);
  });
});

describe('docs/configuration.md', () => {
  it.each(leaves(SCHEMA as unknown as Record<string, unknown>))(
    'documents %s with its env var, default and meaning',
    (key, leaf) => {
      const row = `| \`${key}\` | \`${leaf.env}\` | \`${JSON.stringify(leaf.default)}\` | ${leaf.doc} |`;
      expect(configuration).toContain(row);
    },
  );
});

describe('docs/errors.md', () => {
  it.each(Object.entries(BRIDGE_ERRORS))('documents error %s with its code, reason and action', (name, error) => {
    expect(errors).toContain(`| ${error.code} | \`${name}\` | ${error.reason} | ${error.action} |`);
  });

  it('documents no error code the code does not have', () => {
    const documented = [...errors.matchAll(/^\| (6\d\d) \| `/gm)].map((m) => Number(m[1]));
    expect(documented.sort()).toEqual(
      Object.values(BRIDGE_ERRORS)
        .map((e) => e.code)
        .sort(),
    );
  });
});

describe('docs/operations.md', () => {
  const operations = read('docs/operations.md');

  /** Every metric the daemon can register: the base set, and those of several replicas and of event handlers. */
  function registered(): string[] {
    const metrics = new Metrics({ connections: () => [], natsConnected: () => true });
    metrics.leaseOwnership(() => 0);
    metrics.eventHandlers({ perJanus: () => [], refusals: () => ({}) });
    return metrics.registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((name) => name.startsWith('janus_bridge_'));
  }

  it.each(registered())('documents the metric %s in the metrics table', (name) => {
    expect(operations).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
  });

  it('documents no janus_bridge_ metric the daemon does not have', () => {
    const documented = [...operations.matchAll(/^\| `(janus_bridge_[a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.filter((name) => !registered().includes(name!))).toEqual([]);
  });
});
