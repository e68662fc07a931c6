/**
 * The package as users get it: `npm pack` (which builds it), installed from the tarball with
 * `nats` and `typescript` from the npm registry into an empty project, imported at run time,
 * and a program using the API compiled with `tsc --strict --noEmit` (module NodeNext) against
 * the shipped declarations, without skipLibCheck.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { REPO } from '../../../test/support/processes.js';

const run = promisify(execFile);
const PACKAGE = join(REPO, 'packages/janus-nats-client');
/** The versions the repository uses (package-lock.json). */
const NATS_VERSION = '2.29.3';
const TYPESCRIPT_VERSION = '5.9.3';

const dir = mkdtempSync(join(tmpdir(), 'jnc-package-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROGRAM = `
import { connect, type NatsConnection } from 'nats';
import {
  JanusNats, Handle, JanusError, BridgeError, JanusNatsError, NoRespondersError, TimeoutError, HandleEndedError,
  subscribeEvents, consumeEvents, subscribeStatus, BRIDGE_ERRORS,
  type PluginHandle, type PluginHelper, type HandleEvent, type JanusEvent, type DurableEvent, type BridgeErrorName,
  type ServerInfo, type HandleEnd,
} from 'janus-nats-client';
import { BRIDGE_ERRORS as TABLE, type BridgeErrorName as Name } from 'janus-nats-client/errors-table';
import { EchoTest as PackagedEcho, VideoRoom } from 'janus-nats-client/plugins';

class EchoTest {
  static readonly plugin = 'janus.plugin.echotest';
  constructor(readonly handle: PluginHandle) {}
  async audio(on: boolean): Promise<string> {
    const { data } = await this.handle.message<{ result?: string; error_code?: number }>({ audio: on });
    if (data.error_code !== undefined) throw new Error('echotest refused: ' + data.error_code);
    return data.result ?? '';
  }
}
const helper: PluginHelper<EchoTest> = EchoTest;

export async function main(nc: NatsConnection): Promise<void> {
  const janus = new JanusNats(nc, 'local', { prefix: 'janus', timeout: 5000, events: 'auto' });
  const info: ServerInfo = await janus.info();
  const version: number = info.version;
  await janus.ping({ timeout: 1000 });
  const echo: Handle = await janus.attach('janus.plugin.echotest', { opaqueId: 'mine', timeout: 2000 });
  const typed: EchoTest = await janus.attach(helper);
  const again: EchoTest = await janus.handle(typed.handle.id, EchoTest);
  const picked: Handle = await janus.handle(echo.id);
  const packaged: PackagedEcho = await janus.attach(PackagedEcho);
  const room: VideoRoom = await janus.handle(1234, VideoRoom);
  void packaged; void room;
  const answer = await echo.message<{ result: string }>(
    { audio: true },
    { type: 'offer', sdp: 'v=0' },
    { timeout: 3000 },
  );
  const result: string = answer.data.result;
  await echo.trickle({ candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 });
  await echo.trickle([{ candidate: 'x' }, { completed: true }]);
  await echo.trickle(null);
  for await (const e of echo.events<{ result?: string }>()) {
    const event: HandleEvent<{ result?: string }> = e;
    const kind: string = event.janus;
    const r: string | undefined = event.data?.result;
    void kind; void r;
    break;
  }
  const end: HandleEnd = await picked.ended;
  if (end.reason === 'session-replaced' || end.reason === 'detached' || end.reason === 'closed') void end.detail;
  await echo.hangup();
  await echo.detach();
  const raw = await janus.request({ janus: 'keepalive' });
  void raw.janus;
  try {
    await janus.attach('janus.plugin.nope');
  } catch (e) {
    if (e instanceof BridgeError) {
      const name: BridgeErrorName | 'unknown_bridge_error' = e.name;
      const retry: boolean = e.retryable;
      void name; void retry; void e.code; void e.reason; void e.action;
    } else if (e instanceof JanusError) {
      const code: number = e.code;
      void code;
    } else if (e instanceof NoRespondersError || e instanceof TimeoutError || e instanceof HandleEndedError) {
      void e.message;
    } else if (e instanceof JanusNatsError) {
      void e.message;
    }
  }
  for await (const e of subscribeEvents(nc, { janusId: 'local', type: ['hangup', 'detached'] })) {
    const event: JanusEvent = e;
    const handle: number | undefined = event.headers.handle;
    void handle; void event.body.janus; void event.headers.msgId;
    break;
  }
  const consumer = await consumeEvents(nc, { stream: 'JANUS_EVENTS', durable: 'billing', janusId: 'local' });
  for await (const e of consumer) {
    const event: DurableEvent = e;
    event.ack();
    break;
  }
  await consumer.close();
  for await (const s of subscribeStatus(nc, { janusId: 'local' })) {
    if (s.state === 'session-replaced') void s.new_session_id;
    break;
  }
  const names: Name[] = Object.keys(TABLE) as Name[];
  void names; void BRIDGE_ERRORS.timeout.code; void version; void result; void again;
  await janus.close();
}

if (process.env.NEVER) await main(await connect());
declare const process: { env: Record<string, string | undefined> };
`;

it('npm pack ships only dist; installed, it loads and a strict NodeNext program compiles against it', async () => {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: PACKAGE,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [manifest] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const files = manifest!.files.map((f) => f.path).sort();
  expect(files).toContain('dist/index.js');
  expect(files).toContain('dist/index.d.ts');
  expect(files).toContain('dist/errors-table.js');
  expect(files).toContain('package.json');
  expect(files).toContain('README.md');
  expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md'].includes(f))).toEqual([]);
  expect(files.filter((f) => f.startsWith('dist/') && /\.test\.|\.map$/.test(f))).toEqual([]);

  const app = join(dir, 'app');
  await run('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--prefer-offline',
      join(dir, manifest!.filename),
      `nats@${NATS_VERSION}`,
      `typescript@${TYPESCRIPT_VERSION}`,
    ],
    { cwd: app, maxBuffer: 16 * 1024 * 1024 },
  );
  expect(readdirSync(join(app, 'node_modules')).sort()).toEqual(
    expect.arrayContaining(['janus-nats-client', 'nats', 'typescript']),
  );

  // Loads as ESM from the installed package, with its subpath export.
  const loaded = await run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const m = await import('janus-nats-client');
    const t = await import('janus-nats-client/errors-table');
    const p = await import('janus-nats-client/plugins');
    console.log(
      typeof m.JanusNats, typeof m.subscribeEvents, typeof m.consumeEvents,
      m.BRIDGE_ERRORS === t.BRIDGE_ERRORS, t.BRIDGE_ERRORS.timeout.code, p.VideoRoom.plugin,
    );
  `,
    ],
    { cwd: app },
  );
  expect(loaded.stdout.trim()).toBe('function function function true 610 janus.plugin.videoroom');

  writeFileSync(join(app, 'main.ts'), PROGRAM);
  const tsc = await run(
    process.execPath,
    [
      join(app, 'node_modules/typescript/bin/tsc'),
      '--strict',
      '--noEmit',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--target',
      'ES2022',
      'main.ts',
    ],
    { cwd: app },
  ).catch((e: { stdout: string; stderr: string }) => e);
  expect(`${tsc.stdout}${tsc.stderr}`).toBe('');

  // And the declarations do constrain: a wrong use is a compile error.
  writeFileSync(
    join(app, 'wrong.ts'),
    `
import { connect } from 'nats';
import { JanusNats } from 'janus-nats-client';
const janus = new JanusNats(await connect(), 'local');
const version: string = (await janus.info()).version;
await janus.attach(42);
`,
  );
  const wrong = await run(
    process.execPath,
    [
      join(app, 'node_modules/typescript/bin/tsc'),
      '--strict',
      '--noEmit',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--target',
      'ES2022',
      'wrong.ts',
    ],
    { cwd: app },
  ).then(
    () => ({ stdout: '' }),
    (e: { stdout: string }) => e,
  );
  expect(wrong.stdout).toContain('wrong.ts(5,7): error TS2322');
  expect(wrong.stdout).toContain('wrong.ts(6,20): error TS2769');
}, 90_000);
