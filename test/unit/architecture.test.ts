/**
 * The layers of src/, bottom to top, and the rule that keeps them: a module imports only
 * from its own layer or from layers below it (docs/development.md, "Architecture"). Peers
 * of one rank (ha/ and eventhandlers/) do not import each other. The client package never
 * imports the daemon.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** [layer, rank, what belongs to it: folders end with '/', the rest are files of src/]. */
export const LAYERS: ReadonlyArray<readonly [string, number, readonly string[]]> = [
  ['util', 0, ['errors.ts', 'log.ts', 'sleep.ts', 'version.ts', 'backoff.ts', 'json-errors.ts', 'nats-names.ts']],
  ['janus', 1, ['janus/']],
  ['connections', 2, ['connections/']],
  ['config', 3, ['config/']],
  ['nats', 4, ['nats/']],
  ['bridge', 5, ['bridge/']],
  ['ha', 6, ['ha/']],
  ['eventhandlers', 6, ['eventhandlers/']],
  ['ops', 7, ['ops/']],
  ['wiring', 8, ['daemon.ts', 'main.ts']],
];

function layerOf(path: string): readonly [string, number] | undefined {
  for (const [name, rank, members] of LAYERS) {
    if (members.some((member) => (member.endsWith('/') ? path.startsWith(member) : path === member)))
      return [name, rank];
  }
  return undefined;
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return files(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The relative imports of a source text (static imports and re-exports). */
function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gm)].map((m) => m[1]!);
}

/** Every import of `from` (a path under src/) that breaks the rule, described. */
export function violations(from: string, imported: readonly string[]): string[] {
  const own = layerOf(from);
  if (!own) return [`${from} belongs to no layer`];
  const out: string[] = [];
  for (const spec of imported) {
    const target = relative(SRC, resolve(SRC, dirname(from), spec)).replace(/\.js$/, '.ts');
    const theirs = layerOf(target);
    if (!theirs) out.push(`${from} imports ${target}, which belongs to no layer`);
    else if (theirs[1] > own[1]) out.push(`${from} (${own[0]}) imports ${target} (${theirs[0]}), a higher layer`);
    else if (theirs[1] === own[1] && theirs[0] !== own[0])
      out.push(`${from} (${own[0]}) imports ${target} (${theirs[0]}), a peer of the same rank`);
  }
  return out;
}

describe('the layers of src/', () => {
  const sources = files(SRC).map((path) => relative(SRC, path));

  it('puts every source file in a layer', () => {
    expect(sources.filter((path) => !layerOf(path))).toEqual([]);
  });

  it.each(sources)('%s imports only from its layer or below', (path) => {
    expect(violations(path, importsOf(readFileSync(join(SRC, path), 'utf8')))).toEqual([]);
  });

  it('catches an upward import and one between peers (the check can fail)', () => {
    expect(violations('janus/connection.ts', ['../bridge/replies.js'])).toEqual([
      'janus/connection.ts (janus) imports bridge/replies.ts (bridge), a higher layer',
    ]);
    expect(violations('ha/relay.ts', ['../eventhandlers/tally.js'])).toEqual([
      'ha/relay.ts (ha) imports eventhandlers/tally.ts (eventhandlers), a peer of the same rank',
    ]);
    expect(violations('ops/http.ts', ['../janus/url.js', '../errors.js'])).toEqual([]);
  });
});

describe('the client package', () => {
  const PACKAGE = join(ROOT, 'packages/janus-nats-client/src');

  it.each(files(PACKAGE).map((path) => relative(PACKAGE, path)))('%s does not import the daemon', (path) => {
    const text = readFileSync(join(PACKAGE, path), 'utf8');
    const outside = importsOf(text).filter((spec) => !resolve(PACKAGE, dirname(path), spec).startsWith(PACKAGE));
    expect(outside).toEqual([]);
  });
});
