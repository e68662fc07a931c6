/**
 * The `janus-nats` command line, built (dist/cli/main.js) and run as a child process against a
 * real nats-server, a real Janus and the real daemon (in process): every command, its output
 * for people and with --json, its exit statuses, the NATS options and their environment
 * variables, and that no password is ever printed.
 *
 * Servers: one nats-server with JetStream carrying two plain bridges on prefix `janus`
 * (`local` and `other`, both on the one Janus: two replicas for admin.status) and one bridge
 * with ha.enabled on prefix `ha` (for admin.owners; its reloads fail on purpose); a second
 * nats-server that demands a user and password, with its own bridge; a TLS nats-server that
 * verifies client certificates. The Admin API commands use a fifth bridge on prefix `adm`
 * (`a1` with the Janus's admin WebSocket and its stock admin secret, `a2` without one).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { eventually, startBridge, type TestBridge } from '../../../test/support/bridge.js';
import { REPO, startJanus, startNats, type JanusServer, type NatsServer } from '../../../test/support/processes.js';
import { makeCertificates, type TestCertificates } from '../../../test/support/tls.js';
import { JanusNats } from '../src/index.js';
import { audioOffer } from './plugins/sdp.js';

const PACKAGE = join(REPO, 'packages/janus-nats-client');
const CLI = join(PACKAGE, 'dist/cli/main.js');
const PASSWORD = 'Sup3r-s3cret-pw';
const WRONG = 'Wr0ng-guess-pw';
/** The stock janus.jcfg's admin_secret (scripts/janus-local.sh keeps it). */
const ADMIN_SECRET = 'janusoverlord';

let nats: NatsServer;
let authNats: NatsServer;
let tlsNats: NatsServer;
let certs: TestCertificates;
let janusServer: JanusServer;
const bridges: TestBridge[] = [];
let nc: NatsConnection;
let janus: JanusNats;

/** The newest modification time under `dir` (files ending in .ts). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path));
    else if (entry.name.endsWith('.ts')) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

/** Builds the package unless dist/cli/main.js is newer than every source file (npm test builds first). */
async function buildIfStale(): Promise<void> {
  if (
    existsSync(CLI) &&
    statSync(CLI).mtimeMs >= Math.max(newest(join(PACKAGE, 'src')), statSync(join(PACKAGE, 'package.json')).mtimeMs)
  )
    return;
  const result = await runProcess('npm', ['run', 'build', '-w', 'janus-nats-client'], {});
  if (result.code !== 0) throw new Error(`the build failed:\n${result.stdout}\n${result.stderr}`);
}

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment without any NATS_* variable of the machine, plus `env`. */
function environment(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('NATS_')));
  return { ...clean, ...env };
}

function runProcess(command: string, args: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: REPO, env: environment(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Runs the built CLI against the main nats-server (NATS_URL) unless `env` says otherwise. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return runProcess(process.execPath, [CLI, ...args], { NATS_URL: nats.url, ...env });
}

/** A running `janus-nats sub …`: its stdout lines as they come. */
function startSub(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'sub', ...args], {
    cwd: REPO,
    env: environment({ NATS_URL: nats.url }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    lines: () => stdout.split('\n').filter(Boolean),
    stderr: () => stderr,
    listening: () => eventually(() => stderr.includes('listening'), 10_000, `sub listening (stderr: ${stderr})`),
  };
}

beforeAll(async () => {
  const built = buildIfStale();
  certs = makeCertificates();
  [nats, authNats, tlsNats, janusServer] = await Promise.all([
    startNats(undefined, ['-js', '-sd', mkdtempSync(join(tmpdir(), 'jnc-cli-js-'))]),
    startNats(undefined, ['--user', 'u', '--pass', PASSWORD]),
    startNats(undefined, [
      '--tls',
      '--tlscert',
      certs.serverCert,
      '--tlskey',
      certs.serverKey,
      '--tlscacert',
      certs.ca,
      '--tlsverify',
    ]),
    startJanus(),
  ]);
  const janusUrl = janusServer.url;
  bridges.push(
    ...(await Promise.all([
      startBridge({
        nats: { servers: [nats.url] },
        janus: { cmdTimeout: 5000 },
        connections: [{ janus_id: 'local', janus_url: janusUrl }],
      }),
      startBridge({ nats: { servers: [nats.url] }, connections: [{ janus_id: 'other', janus_url: janusUrl }] }),
      startBridge(
        {
          nats: { servers: [nats.url], subjectPrefix: 'ha' },
          connections: [{ janus_id: 'h1', janus_url: janusUrl }],
          ha: { enabled: true, replicaId: 'r1', leaseTtl: 3 },
        },
        { rereadConfig: () => ({ ok: false, problem: 'the test refuses every reload' }) },
      ),
      startBridge({
        nats: { servers: [authNats.url], user: 'u', password: PASSWORD },
        connections: [{ janus_id: 'local', janus_url: janusUrl }],
      }),
      // Its own prefix: status and reload on `janus` still see two replicas.
      startBridge({
        nats: { servers: [nats.url], subjectPrefix: 'adm' },
        connections: [
          {
            janus_id: 'a1',
            janus_url: janusUrl,
            janus_admin_url: `${janusServer.adminUrl}?admin_secret=${ADMIN_SECRET}`,
          },
          { janus_id: 'a2', janus_url: janusUrl },
        ],
      }),
    ])),
  );
  nc = await connect({ servers: nats.url });
  janus = new JanusNats(nc, 'local');
  const [local, other, ha, auth, adm] = bridges;
  await eventually(
    () =>
      local!.daemon.connectionStats('local')?.state === 'ready' &&
      adm!.daemon.connectionStats('a1')?.state === 'ready' &&
      adm!.daemon.connectionStats('a1')?.admin?.state === 'ready' &&
      adm!.daemon.connectionStats('a2')?.state === 'ready' &&
      other!.daemon.connectionStats('other')?.state === 'ready' &&
      ha!.daemon.connectionStats('h1')?.state === 'ready' &&
      ha!.logs().some((l) => l.msg === 'serving') &&
      auth!.daemon.connectionStats('local')?.state === 'ready',
    15_000,
    'every bridge serving',
  );
  await built;
}, 60_000);

afterAll(async () => {
  await janus?.close();
  await nc?.close();
  // Teardown: a bridge that fails to stop must not keep the others (and the servers) running.
  for (const bridge of bridges.splice(0)) await bridge.stop().catch(() => undefined);
  await Promise.all([janusServer?.stop(), nats?.stop(), authNats?.stop(), tlsNats?.stop()]);
});

describe('the command', () => {
  it('is node_modules/.bin/janus-nats, executable; --help shows commands, options, env, exit statuses', async () => {
    const bin = join(REPO, 'node_modules/.bin/janus-nats');
    expect(existsSync(bin)).toBe(true);
    const [version, help] = await Promise.all([
      runProcess(bin, ['--version'], {}),
      cli(['--help'], { NATS_PASSWORD: PASSWORD }),
    ]);
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    expect(help.code).toBe(0);
    for (const word of [
      'request <janus_id> <json>',
      'attach <janus_id> <plugin>',
      'message <janus_id> <handle_id> <body>',
      'detach',
      'ping',
      'sub [janus_id]',
      'status',
      'owners',
      'reload',
      '--server',
      'NATS_URL',
      'NATS_CREDS',
      'NATS_NKEY',
      'NATS_USER',
      'NATS_PASSWORD',
      'NATS_TOKEN',
      'NATS_CERT',
      'NATS_KEY',
      'NATS_CA',
      'NATS_TIMEOUT',
      '--prefix',
      '--json',
      'Exit status',
    ]) {
      expect(help.stdout).toContain(word);
    }
    expect(help.stdout).toMatch(/^ {2}4 {2}no responders/m);
    expect(help.stdout + help.stderr).not.toContain(PASSWORD);
  });

  it('the library does not reach the CLI: nothing its exports import leads to src/cli or commander', () => {
    const seen = new Set<string>();
    const specifiers: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        specifiers.push(specifier!);
        if (specifier!.startsWith('.')) visit(join(dirname(file), specifier!.replace(/\.js$/, '.ts')));
      }
    };
    for (const entry of ['index.ts', 'errors-table.ts', 'plugins/index.ts']) visit(join(PACKAGE, 'src', entry));
    expect(seen.size).toBeGreaterThan(5);
    expect([...seen].filter((file) => file.startsWith(join(PACKAGE, 'src', 'cli', '/')))).toEqual([]);
    expect([...seen]).toContain(join(PACKAGE, 'src', 'client.ts'));
    expect(specifiers.filter((s) => !s.startsWith('.'))).not.toContain('commander');
  });

  it('usage errors exit 1 with the reason: bad JSON, non-object, bad id, unknown command, no argument', async () => {
    const [badJson, notObject, noVerb, badHandle, unknown, missing, asJson, badTimeout] = await Promise.all([
      cli(['request', 'local', '{"janus":']),
      cli(['message', 'local', '1', '[1,2]']),
      cli(['request', 'local', '{"transaction":"x"}']),
      cli(['detach', 'local', '12abc']),
      cli(['frobnicate']),
      cli(['attach', 'local']),
      cli(['--json', 'request', 'local', '{nope}']),
      cli(['ping', 'local', '--timeout', 'soon']),
    ]);
    for (const r of [badJson, notObject, noVerb, badHandle, unknown, missing, asJson, badTimeout]) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
    }
    expect(badJson.stderr).toContain('error: the request is not valid JSON (it ends too early)');
    expect(notObject.stderr).toContain('the message body must be a JSON object');
    expect(notObject.stderr).toContain('got an array');
    expect(noVerb.stderr).toContain('the request needs a "janus" verb');
    expect(badHandle.stderr).toContain('handle_id must be a positive whole number');
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(missing.stderr).toContain("missing required argument 'plugin'");
    expect(JSON.parse(asJson.stderr)).toEqual({
      error: {
        class: 'UsageError',
        reason: 'the request is not valid JSON (at character 2); quote it for the shell, e.g. \'{"janus":"info"}\'',
        exit: 1,
      },
    });
    expect(badTimeout.stderr).toContain("option '--timeout <duration>' argument 'soon' is invalid");
  });
});

describe('Janus requests', () => {
  it('ping prints the round trip in ms; --json as an object', async () => {
    const [human, machine] = await Promise.all([cli(['ping', 'local']), cli(['ping', 'local', '--json'])]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^pong from local in \d+\.\d\d ms\n$/);
    expect(machine.code, machine.stderr).toBe(0);
    const parsed = JSON.parse(machine.stdout) as { janus_id: string; rtt_ms: number };
    expect(parsed.janus_id).toBe('local');
    expect(parsed.rtt_ms).toBeGreaterThan(0);
    expect(parsed.rtt_ms).toBeLessThan(2000);
  });

  it('attach echotest, message {audio:true} answers ok, detach; the handle is then Janus 459 (exit 2)', async () => {
    const attached = await cli(['attach', 'local', 'echotest', '--opaque-id', 'cli-test']);
    expect(attached.code, attached.stderr).toBe(0);
    expect(attached.stdout).toMatch(/^\d+\n$/);
    const handle = attached.stdout.trim();

    const message = await cli(['message', 'local', handle, '{"audio":true}']);
    expect(message.code, message.stderr).toBe(0);
    expect(JSON.parse(message.stdout)).toEqual({ data: { echotest: 'event', result: 'ok' } });
    expect(message.stdout.split('\n').length).toBeGreaterThan(2); // indented for people

    // --jsep: an offer gets the plugin's answer and Janus's SDP;
    // a JSEP Janus's core cannot parse is its JanusError 465.
    const [withJsep, badJsep] = await Promise.all([
      cli(['--json', 'message', 'local', handle, '{"audio":true}', '--jsep', JSON.stringify(audioOffer())]),
      cli(['--json', 'message', 'local', handle, '{"audio":true}', '--jsep', '{"type":"offer","sdp":"v=0"}']),
    ]);
    expect(withJsep.code, withJsep.stderr).toBe(0);
    expect(withJsep.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(withJsep.stdout)).toMatchObject({
      data: { echotest: 'event', result: 'ok' },
      jsep: { type: 'answer', sdp: expect.stringContaining('m=audio') as string },
    });
    expect(badJsep.code).toBe(2);
    expect(badJsep.stdout).toBe('');
    expect(JSON.parse(badJsep.stderr)).toMatchObject({ error: { exit: 2, class: 'JanusError', code: 465 } });

    const detached = await cli(['detach', 'local', handle]);
    expect(detached.code, detached.stderr).toBe(0);
    expect(detached.stdout).toBe(`handle ${handle} detached\n`);

    const gone = await cli(['message', 'local', handle, '{"audio":true}']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/^error: JanusError 459: No such handle/);
  });

  it("attach --json gives the handle and session; request prints Janus's reply", async () => {
    const [attached, info] = await Promise.all([
      cli(['--json', 'attach', 'local', 'janus.plugin.echotest']),
      cli(['request', 'local', '{"janus":"info"}']),
    ]);
    expect(attached.code, attached.stderr).toBe(0);
    const parsed = JSON.parse(attached.stdout) as {
      janus_id: string;
      plugin: string;
      handle_id: number;
      session_id: number;
    };
    expect(parsed).toMatchObject({
      janus_id: 'local',
      plugin: 'janus.plugin.echotest',
      session_id: bridges[0]!.daemon.connectionStats('local')!.sessionId,
    });
    expect(Number.isSafeInteger(parsed.handle_id)).toBe(true);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ janus: 'server_info', name: expect.any(String) as string });
    expect((await cli(['detach', 'local', String(parsed.handle_id)])).code).toBe(0);
  });

  it('a refused verb is BridgeError 604: exit 3, class, code, name, reason on stderr (JSON with --json)', async () => {
    const [human, machine] = await Promise.all([
      cli(['request', 'local', '{"janus":"create"}']),
      cli(['request', 'local', '{"janus":"destroy"}', '--json']),
    ]);
    expect(human.code).toBe(3);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/^error: BridgeError 604 verb_refused: .*create.*\(what to do: drop the verb/);
    expect(machine.code).toBe(3);
    const error = (JSON.parse(machine.stderr) as { error: Record<string, unknown> }).error;
    expect(error).toMatchObject({ exit: 3, class: 'BridgeError', code: 604, name: 'verb_refused', retryable: false });
    expect(typeof error.reason).toBe('string');
  });

  it('an unknown plugin is JanusError 460: exit 2', async () => {
    const r = await cli(['attach', 'local', 'janus.plugin.nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: JanusError 460: /);
  });

  it('a janus_id nobody serves is NoRespondersError: exit 4, at once', async () => {
    const r = await cli(['ping', 'nobody']);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      'error: NoRespondersError: no bridge serves janus_id "nobody" (no responders on janus.request.nobody)\n',
    );
  });

  it('a frozen Janus: with --timeout 800 the bridge answers 610 before the client gives up (exit 3)', async () => {
    janusServer.pause();
    let r: Result;
    try {
      r = await cli(['ping', 'local', '--timeout', '800']);
    } finally {
      janusServer.resume();
    }
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^error: BridgeError 610 timeout: .*800 ms/);
    expect(r.ms).toBeGreaterThanOrEqual(800);
    expect(r.ms).toBeLessThan(1800 + 1500); // the client would give up at 1800 ms; node's start-up on top
    await eventually(
      async () =>
        await janus.ping().then(
          () => true,
          () => false,
        ),
      10_000,
      'Janus answers again',
    );
  });

  it('a silent responder: TimeoutError after --timeout + 1 s (exit 5); NATS_TIMEOUT sets Janus-Timeout', async () => {
    const seen: string[] = [];
    const silent = nc.subscribe('janus.request.silent', {
      callback: (_err, msg) => {
        seen.push(msg.headers?.get('Janus-Timeout') ?? '');
      },
    });
    await nc.flush();
    try {
      const [flag, env] = await Promise.all([
        cli(['ping', 'silent', '--timeout', '300']),
        cli(['ping', 'silent', '--json'], { NATS_TIMEOUT: '0.4s' }),
      ]);
      expect(flag.code, flag.stderr).toBe(5);
      expect(flag.stderr).toBe('error: TimeoutError: no reply on janus.request.silent within 1300 ms\n');
      expect(env.code, env.stderr).toBe(5);
      expect(JSON.parse(env.stderr)).toEqual({
        error: { exit: 5, class: 'TimeoutError', reason: 'no reply on janus.request.silent within 1400 ms' },
      });
      expect(seen.sort()).toEqual(['300', '400']);
    } finally {
      silent.unsubscribe();
    }
  });
});

describe('events', () => {
  it('sub prints an event (detached) with its subject and --headers, and stops on SIGTERM with exit 0', async () => {
    const sub = startSub(['local', '--headers']);
    await sub.listening();
    const echo = await janus.attach('janus.plugin.echotest');
    await echo.detach();
    await eventually(
      () => sub.lines().some((l) => l.includes('"janus":"detached"')),
      5000,
      'the detached event printed',
    );
    const line = sub.lines().find((l) => l.includes('"janus":"detached"'))!;
    const match = /^\[janus\.event\.local\] (\{.*?\}) (\{.*\})$/.exec(line);
    expect(match, line).not.toBeNull();
    expect(JSON.parse(match![1]!)).toMatchObject({
      type: 'detached',
      handle: echo.id,
      msgId: expect.any(String) as string,
    });
    expect(JSON.parse(match![2]!)).toMatchObject({ janus: 'detached', sender: echo.id });
    sub.child.kill('SIGTERM');
    expect(await sub.exited).toEqual({ code: 0, signal: null });
    expect(sub.stderr()).toBe('listening on janus.event.local, janus.event.local.> (Ctrl-C to stop)\n');
  });

  it('sub --json --type detached: one JSON object per line, only that type; SIGINT stops it too', async () => {
    const sub = startSub(['local', '--json', '--type', 'detached']);
    await sub.listening();
    const echo = await janus.attach('janus.plugin.echotest');
    await echo.message({ audio: true });
    await echo.detach();
    await eventually(() => sub.lines().length > 0, 5000, 'an event printed');
    await new Promise((r) => setTimeout(r, 200));
    const objects = sub.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objects).toEqual([
      {
        subject: 'janus.event.local',
        janus_id: 'local',
        janus_url: expect.any(String) as string,
        body: expect.objectContaining({ janus: 'detached', sender: echo.id }) as unknown,
      },
    ]);
    sub.child.kill('SIGINT');
    expect(await sub.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(sub.stderr())).toEqual({ listening: ['janus.event.local', 'janus.event.local.>'] });
  });
});

describe('admin subjects', () => {
  it('status gathers the answer of every replica, sorted by replica (two bridges on one NATS)', async () => {
    const [human, machine] = await Promise.all([cli(['status']), cli(['status', '--json'])]);
    expect(machine.code, machine.stderr).toBe(0);
    const answers = JSON.parse(machine.stdout) as Array<{
      replica: string;
      instance: string;
      connections: Array<{ janus_id: string; state: string }>;
    }>;
    expect(answers).toHaveLength(2);
    expect(answers.map((a) => a.connections.map((c) => `${c.janus_id}:${c.state}`)).sort()).toEqual([
      ['local:ready'],
      ['other:ready'],
    ]);
    expect(new Set(answers.map((a) => a.instance)).size).toBe(2);
    const keys = answers.map((a) => `${a.replica} ${a.instance}`);
    expect(keys).toEqual([...keys].sort((a, b) => a.localeCompare(b)));
    expect(human.code, human.stderr).toBe(0);
    for (const a of answers) expect(human.stdout).toContain(`instance ${a.instance}`);
    expect(human.stdout).toMatch(/^ {2}local +ready +session \d+/m);
    expect(human.stdout).toMatch(/^ {2}other +ready +session \d+/m);
    expect(human.stdout).toContain('2 replicas answered');
  });

  it('owners prints the ownership table (ha.enabled); without HA nobody answers (exit 4)', async () => {
    const [human, machine, none] = await Promise.all([
      cli(['owners', '--prefix', 'ha']),
      cli(['owners', '--prefix', 'ha', '--json']),
      cli(['owners']),
    ]);
    expect(machine.code, machine.stderr).toBe(0);
    expect(JSON.parse(machine.stdout)).toMatchObject({
      bucket: 'ha_owners',
      replicas: [{ replica: 'r1' }],
      owners: [{ janus_id: 'h1', replica: 'r1', state: 'serving' }],
    });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('bucket ha_owners');
    expect(human.stdout).toMatch(/^ {2}h1 +r1 +serving +\d+/m);
    expect(none.code).toBe(4);
    expect(none.stderr).toBe(
      'error: NoRespondersError: nobody answers janus.admin.owners ' +
        '(no bridge with ha.enabled runs with prefix "janus")\n',
    );
  });

  it("reload prints every replica's summary; a refused reload exits 7; a prefix nobody serves exits 4", async () => {
    const human = await cli(['reload']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('unchanged: local');
    expect(human.stdout).toContain('unchanged: other');
    const machine = await cli(['reload', '--json']);
    expect(machine.code, machine.stderr).toBe(0);
    const summaries = JSON.parse(machine.stdout) as Array<{ ok: boolean; unchanged: string[] }>;
    expect(summaries.map((s) => [s.ok, s.unchanged]).sort()).toEqual([
      [true, ['local']],
      [true, ['other']],
    ]);
    const [failed, nobody] = await Promise.all([
      cli(['reload', '--prefix', 'ha']),
      cli(['status', '--prefix', 'nobody']),
    ]);
    expect(failed.code).toBe(7);
    expect(failed.stdout).toContain('reload FAILED');
    expect(failed.stdout).toContain('invalid-config: the test refuses every reload');
    expect(nobody.code).toBe(4);
    expect(nobody.stderr).toContain('nobody answers nobody.admin.status');
  });
});

describe('Janus Admin API (<prefix>.adminapi.<janus_id>)', () => {
  const adm = (args: string[], env: Record<string, string> = {}) => cli(['--prefix', 'adm', ...args], env);
  const bridgeSession = (id: string): number => bridges[4]!.daemon.connectionStats(id)!.sessionId!;

  it('--help lists admin, sessions, handles and handle-info, and the 608/609 bridge errors under exit 3', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const word of [
      'admin <janus_id> <json>',
      'sessions <janus_id>',
      'handles <janus_id>',
      'handle-info <janus_id> <handle_id>',
      '608 Admin API verb refused',
      '609 no janus_admin_url',
    ]) {
      expect(help.stdout).toContain(word);
    }
    const sub = await cli(['handle-info', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('--session <id>');
    expect(sub.stdout).toContain('admin.status');
  });

  it("handle-info prints a handle's info (session from admin.status or --session); --json: Janus's reply", async () => {
    const attached = await adm(['attach', 'a1', 'echotest', '--opaque-id', 'cli-admin']);
    expect(attached.code, attached.stderr).toBe(0);
    const handle = Number(attached.stdout.trim());
    const session = bridgeSession('a1');
    try {
      const [human, machine, explicit] = await Promise.all([
        adm(['handle-info', 'a1', String(handle)]),
        adm(['handle-info', 'a1', String(handle), '--json']),
        adm(['handle-info', 'a1', String(handle), '--session', String(session), '--json']),
      ]);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stderr).toBe('');
      const info = JSON.parse(human.stdout) as Record<string, unknown>;
      expect(info).toMatchObject({
        session_id: session,
        handle_id: handle,
        opaque_id: 'cli-admin',
        plugin: 'janus.plugin.echotest',
      });
      expect(human.stdout.split('\n').length).toBeGreaterThan(5); // indented for people
      expect(machine.code, machine.stderr).toBe(0);
      expect(machine.stdout.trim().split('\n')).toHaveLength(1);
      const answer = JSON.parse(machine.stdout) as Record<string, unknown>;
      expect(answer).toMatchObject({
        janus: 'success',
        session_id: session,
        handle_id: handle,
        info: { handle_id: handle, plugin: 'janus.plugin.echotest' },
      });
      expect(answer).not.toHaveProperty('admin_secret');
      expect(machine.stdout).not.toContain(ADMIN_SECRET);
      expect(explicit.code, explicit.stderr).toBe(0);
      expect(JSON.parse(explicit.stdout)).toMatchObject({ janus: 'success', session_id: session, handle_id: handle });

      // handles lists it on the bridge's session; sessions lists that session.
      const [handles, sessions, sessionsJson] = await Promise.all([
        adm(['handles', 'a1']),
        adm(['sessions', 'a1']),
        adm(['sessions', 'a1', '--json']),
      ]);
      expect(handles.code, handles.stderr).toBe(0);
      expect(handles.stdout.trim().split('\n').map(Number)).toContain(handle);
      expect(sessions.code, sessions.stderr).toBe(0);
      expect(sessions.stdout).toMatch(/^(\d+\n)+$/);
      expect(sessions.stdout.trim().split('\n').map(Number)).toContain(session);
      expect(sessionsJson.code, sessionsJson.stderr).toBe(0);
      expect(JSON.parse(sessionsJson.stdout)).toMatchObject({
        janus: 'success',
        sessions: expect.arrayContaining([session]) as unknown,
      });
    } finally {
      expect((await adm(['detach', 'a1', String(handle)])).code).toBe(0);
    }
    // Gone: Janus's own error (459 No such handle, below 600) is exit 2.
    const gone = await adm(['handle-info', 'a1', String(handle)]);
    expect(gone.code, gone.stderr).toBe(2);
    expect(gone.stdout).toBe('');
    expect(gone.stderr).toMatch(/^error: JanusError 459: /);
  });

  it("admin passes a read-only verb and prints Janus's answer; Janus's admin errors (458) exit 2", async () => {
    const [status, machine, noSession] = await Promise.all([
      adm(['admin', 'a1', '{"janus":"get_status","transaction":"mine"}']),
      adm(['admin', 'a1', '{"janus":"list_sessions"}', '--json']),
      adm(['admin', 'a1', '{"janus":"list_handles","session_id":1}', '--json']),
    ]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      janus: 'success',
      transaction: 'mine',
      status: expect.any(Object) as unknown,
    });
    expect(machine.code, machine.stderr).toBe(0);
    expect(JSON.parse(machine.stdout)).toMatchObject({
      janus: 'success',
      sessions: expect.arrayContaining([bridgeSession('a1')]) as unknown,
    });
    expect(noSession.code, noSession.stderr).toBe(2);
    expect(noSession.stdout).toBe('');
    expect(JSON.parse(noSession.stderr)).toMatchObject({ error: { exit: 2, class: 'JanusError', code: 458 } });
  });

  it('a changing verb (destroy_session) is BridgeError 608: exit 3, nothing sent, the session lives on', async () => {
    const session = bridgeSession('a1');
    const body = JSON.stringify({ janus: 'destroy_session', session_id: session });
    const [human, machine] = await Promise.all([adm(['admin', 'a1', body]), adm(['admin', 'a1', body, '--json'])]);
    expect(human.code, human.stderr).toBe(3);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/^error: BridgeError 608 admin_verb_refused: .*\(what to do: use a read-only verb/);
    expect(machine.code).toBe(3);
    expect(JSON.parse(machine.stderr)).toMatchObject({
      error: { exit: 3, class: 'BridgeError', code: 608, name: 'admin_verb_refused', retryable: false },
    });
    const sessions = await adm(['sessions', 'a1']);
    expect(sessions.stdout.trim().split('\n').map(Number)).toContain(session);
    expect(bridgeSession('a1')).toBe(session);
    expect((await adm(['ping', 'a1'])).code).toBe(0);
  });

  it('a connection without janus_admin_url is BridgeError 609: exit 3 (admin, sessions, handle-info)', async () => {
    const [admin, sessions, info] = await Promise.all([
      adm(['admin', 'a2', '{"janus":"list_sessions"}']),
      adm(['sessions', 'a2', '--json']),
      adm(['handle-info', 'a2', '1']),
    ]);
    for (const r of [admin, sessions, info]) {
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout).toBe('');
    }
    expect(admin.stderr).toMatch(/^error: BridgeError 609 admin_not_configured: .*\(what to do: set janus_admin_url/);
    expect(JSON.parse(sessions.stderr)).toMatchObject({
      error: { exit: 3, class: 'BridgeError', code: 609, name: 'admin_not_configured' },
    });
    expect(info.stderr).toMatch(/^error: BridgeError 609 /);
  });

  it('nobody serves the janus_id: exit 4 (admin at once; handle-info via admin.status or --session)', async () => {
    const [admin, info, withSession, noPrefix] = await Promise.all([
      adm(['admin', 'nobody', '{"janus":"list_sessions"}']),
      adm(['handle-info', 'nobody', '1']),
      adm(['handle-info', 'nobody', '1', '--session', '2']),
      cli(['handle-info', 'a1', '1', '--prefix', 'nobody']),
    ]);
    expect(admin.code, admin.stderr).toBe(4);
    expect(admin.stderr).toBe(
      'error: NoRespondersError: no bridge serves janus_id "nobody" (no responders on adm.adminapi.nobody)\n',
    );
    expect(info.code, info.stderr).toBe(4);
    expect(info.stderr).toBe(
      'error: NoRespondersError: no bridge serves janus_id "nobody" ' +
        '(1 replica answered adm.admin.status, none lists it)\n',
    );
    expect(withSession.code, withSession.stderr).toBe(4);
    expect(withSession.stderr).toContain('no responders on adm.adminapi.nobody');
    expect(noPrefix.code, noPrefix.stderr).toBe(4);
    expect(noPrefix.stderr).toContain('nobody answers nobody.admin.status');
  });

  it('usage errors exit 1 before anything is sent: bad JSON, no verb, a bad handle or session id', async () => {
    const results = await Promise.all([
      adm(['admin', 'a1', '{"janus":']),
      adm(['admin', 'a1', '{"session_id":1}']),
      adm(['admin', 'a1', '[]']),
      adm(['handle-info', 'a1', 'x1']),
      adm(['handle-info', 'a1', '1', '--session', '0']),
      adm(['handles', 'a1', '--session', '9007199254740993']),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
    }
    const [badJson, noVerb, notObject, badHandle, badSession, bigSession] = results.map((r) => r.stderr);
    expect(badJson).toContain('the Admin API request is not valid JSON');
    expect(noVerb).toContain('the Admin API request needs a "janus" verb');
    expect(notObject).toContain('must be a JSON object');
    expect(badHandle).toContain('handle_id must be a positive whole number');
    expect(badSession).toContain('--session must be a positive whole number');
    expect(bigSession).toContain('--session must be a positive whole number');
  });

  it('--timeout travels as Janus-Timeout; no answer is TimeoutError after --timeout + 1 s (exit 5)', async () => {
    const seen: string[] = [];
    const silent = nc.subscribe('janus.adminapi.silent', {
      callback: (_err, msg) => {
        seen.push(msg.headers?.get('Janus-Timeout') ?? '');
      },
    });
    await nc.flush();
    try {
      const r = await cli(['admin', 'silent', '{"janus":"ping"}', '--timeout', '300']);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toBe('error: TimeoutError: no reply on janus.adminapi.silent within 1300 ms\n');
      expect(seen).toEqual(['300']);
    } finally {
      silent.unsubscribe();
    }
  });
});

describe('NATS options', () => {
  it('user/password: flags or NATS_USER/NATS_PASSWORD (flags win); a wrong one exits 6; never printed', async () => {
    const server = { NATS_URL: authNats.url };
    const results = await Promise.all([
      cli(['ping', 'local', '--user', 'u', '--password', PASSWORD], server),
      cli(['ping', 'local'], { ...server, NATS_USER: 'u', NATS_PASSWORD: PASSWORD }),
      cli(['ping', 'local', '--password', PASSWORD], { ...server, NATS_USER: 'u', NATS_PASSWORD: WRONG }),
      cli(['ping', 'local', '--user', 'u', '--password', WRONG], server),
      cli(['ping', 'local', '--json'], { ...server, NATS_USER: 'u', NATS_PASSWORD: WRONG }),
      cli(['ping', 'local', '-s', authNats.url.replace('nats://', `nats://u:${WRONG}@`)], {}),
      cli(['ping', 'local'], server),
    ]);
    const [flags, env, flagWins, wrong, wrongJson, inUrl, none] = results;
    for (const ok of [flags, env, flagWins]) {
      expect(ok!.code, ok!.stderr).toBe(0);
      expect(ok!.stdout).toMatch(/^pong from local in /);
    }
    for (const failed of [wrong, wrongJson, inUrl, none]) expect(failed!.code, failed!.stderr).toBe(6);
    expect(wrong!.stderr).toMatch(
      /^error: NatsError AUTHORIZATION_VIOLATION: cannot connect to nats:\/\/127\.0\.0\.1:\d+: /,
    );
    expect(JSON.parse(wrongJson!.stderr)).toMatchObject({
      error: { exit: 6, class: 'NatsError', code: 'AUTHORIZATION_VIOLATION' },
    });
    expect(inUrl!.stderr).toContain('nats://***@127.0.0.1');
    for (const r of results) {
      expect(r.stdout + r.stderr).not.toContain(PASSWORD);
      expect(r.stdout + r.stderr).not.toContain(WRONG);
    }
  });

  it('TLS: --tlsca and a client cert (flags or NATS_CERT/NATS_KEY) connects; without the cert exit 6', async () => {
    const server = { NATS_URL: tlsNats.url };
    const [flags, env, noCert] = await Promise.all([
      cli(
        [
          'status',
          '--prefix',
          'nobody',
          '--tlsca',
          certs.ca,
          '--tlscert',
          certs.clientCert,
          '--tlskey',
          certs.clientKey,
        ],
        server,
      ),
      cli(['status', '--prefix', 'nobody'], {
        ...server,
        NATS_CA: certs.ca,
        NATS_CERT: certs.clientCert,
        NATS_KEY: certs.clientKey,
      }),
      // nats.js reports a refused client certificate only as the connection attempt's timeout (here 1 s).
      cli(['status', '--prefix', 'nobody', '--tlsca', certs.ca, '--timeout', '1000'], server),
    ]);
    // Connected: nobody answers on that prefix (4), not a connection failure (6).
    expect(flags.code, flags.stderr).toBe(4);
    expect(env.code, env.stderr).toBe(4);
    expect(noCert.code, noCert.stderr).toBe(6);
    expect(noCert.stderr).toMatch(/^error: NatsError \S+: cannot connect to tls:\/\/127\.0\.0\.1:\d+: /);
  });

  it('a server nobody listens on exits 6; an unreadable --creds file is a usage error (1)', async () => {
    const [refused, creds] = await Promise.all([
      cli(['ping', 'local', '-s', 'nats://127.0.0.1:1']),
      cli(['ping', 'local', '--creds', '/nonexistent/user.creds']),
    ]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toBe(
      'error: NatsError CONNECTION_REFUSED: cannot connect to nats://127.0.0.1:1: CONNECTION_REFUSED\n',
    );
    expect(creds.code).toBe(1);
    expect(creds.stderr).toBe('error: UsageError: --creds: cannot read /nonexistent/user.creds: ENOENT\n');
  });
});
