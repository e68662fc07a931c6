/** The daemon as users run it: `node dist/main.js`, its exit codes, environment variables and SIGTERM. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createDatabase } from '../support/databases.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, eventually } from '../support/bridge.js';
import { listSessions } from '../support/janus-admin.js';
import { freePort, startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');

function writeConfig(values: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'jnb-process-')), 'config.json');
  writeFileSync(file, typeof values === 'string' ? values : JSON.stringify(values));
  return file;
}

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH, ...env },
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
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, exit, stdout: () => stdout, stderr: () => stderr };
}

describe('configuration errors stop start-up with one line naming the key', () => {
  const cases: Array<[string, unknown, Record<string, string>, string]> = [
    ['an unknown key', { janus: { cmdTimeOut: 5 } }, {}, 'janus.cmdTimeOut'],
    ['a wrong type', { janus: { cmdTimeout: 'soon' } }, {}, 'janus.cmdTimeout'],
    ['a bad URL', { connections: [{ janus_id: 'a', janus_url: 'http://x:1' }] }, {}, 'connections'],
    ['a bad environment value', {}, { JNB_JANUS_PING_INTERVAL: '-3' }, 'janus.pingInterval'],
    ['a file that is not JSON', '{ nats: ', {}, 'not valid JSON'],
  ];
  it.each(cases)('%s', async (_name, values, env, mention) => {
    const started = performance.now();
    const daemon = run(['--config', writeConfig(values)], env);
    expect(await daemon.exit).toBe(2);
    expect(performance.now() - started).toBeLessThan(5000);
    const lines = daemon.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('configuration error');
    expect(lines[0]).toContain(mention);
    expect(daemon.stdout()).toBe('');
  });
});

describe('operator commands', () => {
  it('--version prints the version and the Node.js version, exit 0', async () => {
    const cli = run(['--version']);
    expect(await cli.exit).toBe(0);
    expect(cli.stdout()).toMatch(/^janus-nats-bridge \d+\.\d+\.\d+ \(Node\.js \d+\.\d+\.\d+\)\n$/);
  });

  it('--check-config prints the effective configuration with sources and masked secrets, exit 0', async () => {
    const file = writeConfig({
      nats: { user: 'u', password: 'pw-secret' },
      connections: [{ janus_id: 'a', janus_url: 'ws://127.0.0.1:1/janus' }],
    });
    const cli = run(['--check-config', file], { JNB_LOG_LEVEL: 'debug' });
    expect(await cli.exit).toBe(0);
    expect(cli.stdout()).toContain(`# ${file}: valid`);
    expect(cli.stdout()).toMatch(/^nats\.password +=  ?"\*\*\*" {2}\(file\)$/m);
    expect(cli.stdout()).toMatch(/^log\.level +=  ?"debug" {2}\(env JNB_LOG_LEVEL\)$/m);
    expect(cli.stdout()).toMatch(/^janus\.cmdTimeout +=  ?5000 {2}\(default\)$/m);
    expect(cli.stdout()).not.toContain('pw-secret');
  });

  it('--check-config refuses an invalid file with one line, exit 2, and starts nothing', async () => {
    const cli = run(['--check-config', writeConfig({ janus: { cmdTimeout: 'soon' } })]);
    expect(await cli.exit).toBe(2);
    expect(cli.stderr().trim().split('\n')).toHaveLength(1);
    expect(cli.stderr()).toContain('janus.cmdTimeout');
    expect(cli.stdout()).toBe('');
  });
});

describe('a running daemon', () => {
  let nats: NatsServer;
  let janus: JanusServer;
  let client: Client;

  beforeAll(async () => {
    [nats, janus] = await Promise.all([startNats(), startJanus()]);
    client = await Client.connect(nats.url);
  });

  afterAll(async () => {
    await client?.close();
    await Promise.all([janus?.stop(), nats?.stop()]);
  });

  it('prefers env variables to the file; on SIGTERM finishes requests, destroys its session, exits 0', async () => {
    const httpPort = await freePort();
    const config = writeConfig({
      nats: { servers: ['nats://127.0.0.1:1'] },
      connections: [],
      http: { host: '127.0.0.1', port: httpPort },
    });
    const status = client.collect('janus.status.p1');
    await client.nc.flush();
    const daemon = run(['--config', config], {
      JNB_NATS_SERVERS: nats.url,
      JNB_CONNECTIONS: JSON.stringify([{ janus_id: 'p1', janus_url: janus.url }]),
      JNB_LOG_LEVEL: 'debug',
    });
    try {
      const connected = await status.waitFor((m) => m.state === 'connected');
      await eventually(
        async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.status === 200,
        5000,
        'ready',
      );
      expect((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200);
      expect(await listSessions(janus.adminUrl)).toEqual([connected.session_id]);

      // Freeze Janus so a request is in flight when SIGTERM arrives; thaw it shortly after.
      janus.pause();
      const inFlight = client.request('janus.request.p1', { janus: 'ping', transaction: 'in-flight' });
      await new Promise((r) => setTimeout(r, 200));
      daemon.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      janus.resume();
      expect((await inFlight).json).toEqual({ janus: 'pong', transaction: 'in-flight' });
      expect(await daemon.exit).toBe(0);
      expect(await listSessions(janus.adminUrl)).toEqual([]);
      await status.waitFor((m) => m.state === 'stopped');
      const after = await client
        .request('janus.request.p1', { janus: 'ping' })
        .catch((e: Error & { code?: string }) => e.code);
      expect(after).toBe('503');
    } finally {
      janus.resume();
      daemon.child.kill('SIGKILL');
      status.stop();
    }
  });

  it("reloads the config file's connections on SIGHUP", async () => {
    const connections = [{ janus_id: 'h1', janus_url: janus.url }];
    const values = { nats: { servers: [nats.url] }, connections, http: { host: '127.0.0.1', port: 0 } };
    const config = writeConfig(values);
    const daemon = run(['--config', config]);
    try {
      await eventually(
        async () =>
          (await client.request('janus.request.h1', { janus: 'ping' }).catch(() => undefined))?.json.janus === 'pong',
        5000,
        'h1 answers',
      );
      writeFileSync(
        config,
        JSON.stringify({ ...values, connections: [...connections, { janus_id: 'h2', janus_url: janus.url }] }),
      );
      daemon.child.kill('SIGHUP');
      await eventually(
        async () =>
          (await client.request('janus.request.h2', { janus: 'ping' }).catch(() => undefined))?.json.janus === 'pong',
        5000,
        'h2 answers after SIGHUP',
      );
      // A file broken since start-up: the reload fails, the running list stays.
      writeFileSync(config, '{ "connections": [ { "janus_id": "h3" } ] }');
      daemon.child.kill('SIGHUP');
      await eventually(() => daemon.stdout().includes('reload failed'), 5000, 'reload failure logged');
      expect((await client.request('janus.request.h2', { janus: 'ping' })).json).toEqual({ janus: 'pong' });
    } finally {
      daemon.child.kill('SIGKILL');
    }
  });

  it('reloads the SQL table on SIGHUP: adds, removes and changes', async () => {
    const db = await createDatabase('postgres');
    const insert = (id: number, janusId: string, url: string) =>
      db.exec('INSERT INTO janus (id, janus_id, janus_url) VALUES ($1, $2, $3)', [id, janusId, url]);
    await insert(1, 'sql-gone', janus.url);
    await insert(2, 'sql-moved', janus.url);
    const status = client.collect('janus.status.sql-moved');
    await client.nc.flush();
    const daemon = run([], {
      JNB_NATS_SERVERS: nats.url,
      JNB_DB_URL: db.url(),
      JNB_HTTP_PORT: '0',
      JNB_HTTP_HOST: '127.0.0.1',
    });
    const pong = (id: string) => async () =>
      (await client.request(`janus.request.${id}`, { janus: 'ping' }).catch(() => undefined))?.json.janus === 'pong';
    try {
      await eventually(pong('sql-gone'), 5000, 'sql-gone answers');
      const before = await status.waitFor((m) => m.state === 'connected');
      await insert(3, 'sql-new', janus.url);
      await db.exec('DELETE FROM janus WHERE id = 1');
      await db.exec('UPDATE janus SET janus_url = $1 WHERE id = 2', [`${janus.url}?room=2`]);
      daemon.child.kill('SIGHUP');
      await eventually(pong('sql-new'), 5000, 'sql-new answers after SIGHUP');
      await eventually(
        async () =>
          (await client
            .request('janus.request.sql-gone', { janus: 'ping' })
            .catch((e: { code?: string }) => e.code)) === '503',
        5000,
        'sql-gone removed',
      );
      const after = await status.waitFor((m) => m.state === 'connected' && m.session_id !== before.session_id);
      expect(after.janus_url).toBe(`ws://127.0.0.1:${janus.wsPort}/janus?room=2`);
      expect(status.messages.map((m) => m.json.state)).toContain('stopped');
      const replaced = await status.waitFor((m) => m.state === 'session-replaced');
      expect(replaced).toMatchObject({
        old_session_id: before.session_id,
        new_session_id: after.session_id,
        reason: 'janus_url changed',
      });
      expect(daemon.stdout()).toContain('"trigger":"SIGHUP"');
    } finally {
      status.stop();
      daemon.child.kill('SIGKILL');
      await daemon.exit;
      await db.drop();
    }
  });

  it('exits 2 with one clear line when the table version is wrong', async () => {
    const db = await createDatabase('mysql');
    await db.exec("UPDATE version SET table_version = 3 WHERE table_name = 'janus'");
    try {
      const daemon = run([], {
        JNB_NATS_SERVERS: nats.url,
        JNB_DB_URL: db.url(),
        JNB_HTTP_PORT: '0',
        JNB_HTTP_HOST: '127.0.0.1',
      });
      expect(await daemon.exit).toBe(2);
      const lines = daemon.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('table "janus": the version table has table_version 3, expected table_version 1');
    } finally {
      await db.drop();
    }
  });
});

describe('ha.enabled against a NATS without JetStream', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('stops at start-up with one line saying JetStream does not answer, exit 1', async () => {
    const started = performance.now();
    const daemon = run([], {
      JNB_NATS_SERVERS: nats.url,
      JNB_HA_ENABLED: 'true',
      JNB_HTTP_PORT: '0',
      JNB_HTTP_HOST: '127.0.0.1',
      JNB_LOG_LEVEL: 'silent',
    });
    expect(await daemon.exit).toBe(1);
    expect(performance.now() - started).toBeLessThan(10_000);
    const lines = daemon.stderr().trim().split('\n');
    expect(lines).toEqual([
      'janus-nats-bridge: ha.enabled needs the JetStream KV bucket "janus_owners": JetStream does not answer on this ' +
        'NATS server (no responders on $JS.API: is it enabled, and this account allowed to use it?)',
    ]);
  });
});
