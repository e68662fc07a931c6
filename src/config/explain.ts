/**
 * The effective configuration for `--check-config`: every key with its value and where the
 * value came from (the environment, the file, or the default). Secrets are masked and
 * Janus URLs shown redacted, so the output can be pasted into a ticket. Pure.
 */
import { parseJanusUrl } from '../janus/url.js';
import { SCHEMA, type BridgeConfig } from './schema.js';

export type ValueSource = 'env' | 'file' | 'default';

export interface ExplainedKey {
  readonly key: string;
  readonly value: unknown;
  readonly source: ValueSource;
  /** The environment variable that sets this key. */
  readonly env: string;
}

interface Leaf {
  readonly env: string;
  readonly sensitive?: boolean;
}

function leaves(node: Record<string, unknown>, path: string[] = []): Array<[string[], Leaf]> {
  return Object.entries(node).flatMap(([key, value]) =>
    value && typeof value === 'object' && 'doc' in value
      ? [[[...path, key], value as unknown as Leaf] as [string[], Leaf]]
      : leaves(value as Record<string, unknown>, [...path, key]),
  );
}

function at(root: unknown, path: readonly string[]): { found: boolean; value: unknown } {
  let node = root;
  for (const part of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part))
      return { found: false, value: undefined };
    node = (node as Record<string, unknown>)[part];
  }
  return { found: true, value: node };
}

/** What a secret or a URL with credentials may show. */
function shown(path: readonly string[], leaf: Leaf, value: unknown): unknown {
  if (leaf.sensitive) return value === '' ? '' : '***';
  if (path.join('.') === 'connections' && Array.isArray(value)) {
    return value.map((entry: { janus_id: string; janus_url: string; janus_admin_url?: string }) => {
      const parsed = parseJanusUrl(entry.janus_url);
      const shownEntry: Record<string, unknown> = {
        ...entry,
        janus_url: parsed.ok ? parsed.url.redacted : '(invalid)',
      };
      if (entry.janus_admin_url !== undefined) {
        // Its admin_secret is taken out, as the bridge does before it dials.
        const admin = parseJanusUrl(entry.janus_admin_url, 'admin');
        shownEntry.janus_admin_url = admin.ok ? admin.url.redacted : '(invalid)';
      }
      return shownEntry;
    });
  }
  return value;
}

/** `fileValues`: the config file's JSON as written (undefined without a file). */
export function explainConfig(config: BridgeConfig, fileValues: unknown, env: NodeJS.ProcessEnv): ExplainedKey[] {
  return leaves(SCHEMA as unknown as Record<string, unknown>).map(([path, leaf]) => {
    const source: ValueSource = env[leaf.env] !== undefined ? 'env' : at(fileValues, path).found ? 'file' : 'default';
    return { key: path.join('.'), value: shown(path, leaf, at(config, path).value), source, env: leaf.env };
  });
}

/** One line per key: `key = value  (source)`. */
export function formatExplained(keys: readonly ExplainedKey[]): string {
  const width = Math.max(...keys.map((k) => k.key.length));
  return (
    keys
      .map(
        (k) =>
          `${k.key.padEnd(width)} = ${JSON.stringify(k.value)}  (${k.source === 'env' ? `env ${k.env}` : k.source})`,
      )
      .join('\n') + '\n'
  );
}
