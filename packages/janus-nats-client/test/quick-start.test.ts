/**
 * The acceptance program, examples/quick-start.ts, unchanged: compiled with tsc against the
 * built package (as an application that installed it would be), run as its own process
 * against a real NATS, Janus and daemon serving janus_id "local"; it must print exactly
 * `true`, `ok`, `detached`, `true 460`.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, startBridge, type TestBridge } from '../../../test/support/bridge.js';
import { REPO, startJanus, startNats, type JanusServer, type NatsServer } from '../../../test/support/processes.js';

const run = promisify(execFile);
const PACKAGE = join(REPO, 'packages/janus-nats-client');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

let nats: NatsServer;
let janus: JanusServer;
let bridge: TestBridge;
let app: string;

/** An application directory with the package "installed" (built into its node_modules) and the example compiled. */
async function buildApp(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'jnc-quick-start-'));
  const installed = join(dir, 'node_modules/janus-nats-client');
  mkdirSync(installed, { recursive: true });
  copyFileSync(join(PACKAGE, 'package.json'), join(installed, 'package.json'));
  await run(process.execPath, [TSC, '-p', join(PACKAGE, 'tsconfig.json'), '--outDir', join(installed, 'dist')]);
  mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
  symlinkSync(join(REPO, 'node_modules/nats'), join(dir, 'node_modules/nats'), 'dir');
  symlinkSync(join(REPO, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'), 'dir');
  copyFileSync(join(PACKAGE, 'examples/quick-start.ts'), join(dir, 'quick-start.ts'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'quick-start', private: true, type: 'module' }));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        types: ['node'],
        skipLibCheck: true,
      },
      files: ['quick-start.ts'],
    }),
  );
  await run(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')]);
  return dir;
}

beforeAll(async () => {
  let built: Promise<string>;
  [nats, janus, app] = await Promise.all([startNats(), startJanus(), (built = buildApp())]);
  await built;
  bridge = await startBridge({
    nats: { servers: [nats.url] },
    connections: [{ janus_id: 'local', janus_url: janus.url }],
  });
  await eventually(
    () => bridge.daemon.connectionStats('local')?.state === 'ready',
    10_000,
    'bridge connected to Janus',
  );
}, 60_000);

afterAll(async () => {
  await bridge?.stop();
  await Promise.all([janus?.stop(), nats?.stop()]);
  if (app) rmSync(app, { recursive: true, force: true });
});

it('the example is the acceptance program, unchanged', () => {
  const example = readFileSync(join(PACKAGE, 'examples/quick-start.ts'), 'utf8');
  expect(example).toContain("const janus = new JanusNats(nc, 'local');");
  expect(example).toContain('for await (const e of events) { console.log(e.janus); break; }');
  expect(example).toContain(
    "try { await janus.attach('janus.plugin.nope'); } " +
      'catch (e) { console.log(e instanceof JanusError, (e as JanusError).code); }',
  );
});

it('prints true, ok, detached, true 460 (three runs in a row)', async () => {
  for (let i = 0; i < 3; i++) {
    const { stdout, stderr } = await run(process.execPath, [join(app, 'quick-start.js')], {
      env: { ...process.env, NATS_URL: nats.url },
      timeout: 20_000,
    });
    expect(stderr).toBe('');
    expect(stdout).toBe('true\nok\ndetached\ntrue 460\n');
  }
});
