/**
 * A ConfigMap update as the kubelet makes it: the mounted file is a symlink through `..data`,
 * and `..data` is swapped to a new directory. Every replica watching the file reloads its
 * list by itself; an invalid file is refused and the running list kept. Real Janus, real NATS.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configReader } from '../../src/config/list-source.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { eventually, natsPerFile } from '../support/bridge.js';
import { startJanus, type JanusServer } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach: () => {}, afterAll });
let janus: JanusServer;
let dir: string;
let version = 0;

beforeAll(async () => {
  janus = await startJanus();
  dir = mkdtempSync(join(tmpdir(), 'jnb-configmap-'));
});

afterAll(async () => {
  await janus?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `content` the way the kubelet does: a new timestamped directory, then `..data` swapped to it atomically. */
function publish(content: unknown): void {
  const data = join(dir, `..2026_12_01_${++version}`);
  mkdirSync(data);
  writeFileSync(join(data, 'config.json'), typeof content === 'string' ? content : JSON.stringify(content));
  const link = join(dir, `..data_tmp_${version}`);
  symlinkSync(data.slice(dir.length + 1), link);
  renameSync(link, join(dir, '..data'));
}

function config(ids: string[]): unknown {
  return {
    nats: { servers: [scope.nats.url] },
    http: { host: '127.0.0.1', port: 0 },
    configWatch: { interval: 0.2 },
    connections: ids.map((id) => ({ janus_id: id, janus_url: janus.url })),
  };
}

async function start(): Promise<{ daemon: Daemon; logs: () => Array<Record<string, unknown>> }> {
  const file = join(dir, 'config.json');
  const loaded = loadConfig({ file, env: {} });
  if (!loaded.ok) throw new Error(loaded.problem);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const daemon = await startDaemon(loaded.config, createLogger('info', sink), {
    rereadConfig: configReader(file, {}),
    configFile: file,
  });
  await daemon.listLoaded;
  return { daemon, logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

it('reloads the list on every replica when the ConfigMap is swapped; refuses an invalid one', async () => {
  publish(config(['cw-a']));
  symlinkSync('..data/config.json', join(dir, 'config.json'));
  const replicas = [await start(), await start()];
  try {
    for (const { daemon } of replicas) expect(daemon.servedIds()).toEqual(['cw-a']);

    publish(config(['cw-a', 'cw-b']));
    for (const { daemon } of replicas)
      await eventually(() => daemon.connectionStats('cw-b') !== undefined, 5_000, 'cw-b added on each replica');
    for (const { logs } of replicas) {
      expect(logs().filter((l) => l.msg === 'configuration file changed: reloading the connection list')).toHaveLength(
        1,
      );
      expect(
        logs().some((l) => l.msg === 'connection list loaded' && l.trigger === 'config-file' && l.connections === 2),
      ).toBe(true);
    }

    publish('{"connections": [ {"janus_id": "cw-c", "janus_url": "nope://x"} ]}');
    for (const { logs } of replicas) {
      await eventually(
        () =>
          logs().some(
            (l) =>
              l.msg === 'reload failed; the running list is kept' &&
              l.kind === 'invalid-config' &&
              l.trigger === 'config-file',
          ),
        5_000,
        'invalid file refused',
      );
    }
    for (const { daemon } of replicas) expect(daemon.servedIds().sort()).toEqual(['cw-a', 'cw-b']);

    // A change of a key other than the list is named as needing a restart, and the list still follows.
    publish({ ...(config(['cw-b']) as object), log: { level: 'debug' } });
    for (const { daemon } of replicas)
      await eventually(() => daemon.connectionStats('cw-a') === undefined, 5_000, 'cw-a removed');
    for (const { logs } of replicas) {
      const changed = logs()
        .filter((l) => l.msg === 'configuration file changed: reloading the connection list')
        .at(-1)!;
      expect(changed.needs_restart).toEqual(['log.level']);
    }
  } finally {
    for (const { daemon } of replicas) await daemon.shutdown('test over');
  }
}, 60_000);
