/**
 * Credentials: every NATS authentication the daemon offers against a nats-server that
 * demands it, Janus's API secret against a Janus started with one, and a full run of the
 * daemon whose output, events, status and admin answers are searched for every secret.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nkeys, type ConnectionOptions } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, eventually, startBridge } from '../support/bridge.js';
import { freePort, startJanus, startNats, type JanusServer } from '../support/processes.js';
import { makeCertificates } from '../support/tls.js';

const API_SECRET = 'janus-api-secret-7Qx';
const dir = mkdtempSync(join(tmpdir(), 'jnb-security-'));
const secretFile = (name: string, content: string): string => {
  const file = join(dir, name);
  writeFileSync(file, content + '\n');
  return file;
};
let janus: JanusServer;

beforeAll(async () => {
  janus = await startJanus({ apiSecret: API_SECRET });
});

afterAll(async () => {
  await janus?.stop();
});

async function bridgedPing(
  natsArgs: string[],
  natsConfig: Record<string, unknown>,
  clientOptions: ConnectionOptions,
  scheme = 'nats',
): Promise<void> {
  const nats = await startNats(undefined, natsArgs);
  const url = `${scheme}://127.0.0.1:${nats.port}`;
  try {
    const bridge = await startBridge({
      nats: { servers: [url], ...natsConfig },
      connections: [{ janus_id: 'sec', janus_url: `${janus.url}?apisecret=${API_SECRET}` }],
    });
    const client = await Client.connect(url, clientOptions);
    try {
      await eventually(() => bridge.daemon.connectionStats('sec')?.state === 'ready', 5000, 'ready');
      const attached = await client.request('janus.request.sec', { janus: 'attach', plugin: 'janus.plugin.echotest' });
      expect(attached.json.janus).toBe('success');
    } finally {
      await client.close();
      await bridge.stop();
    }
  } finally {
    await nats.stop();
  }
}

describe('NATS authentication', () => {
  it('user and password (from a file)', async () => {
    await bridgedPing(
      ['--user', 'bridge', '--pass', 'nats-pass-Zr8'],
      { user: 'bridge', passwordFile: secretFile('nats-pass', 'nats-pass-Zr8') },
      { user: 'bridge', pass: 'nats-pass-Zr8' },
    );
  });

  it('token (from a file)', async () => {
    await bridgedPing(
      ['--auth', 'nats-token-Lm2'],
      { tokenFile: secretFile('nats-token', 'nats-token-Lm2') },
      { token: 'nats-token-Lm2' },
    );
  });

  it('NKey seed (from a file)', async () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const conf = join(dir, 'nkey.conf');
    writeFileSync(conf, `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
    const { nkeyAuthenticator } = await import('nats');
    await bridgedPing(
      ['-c', conf],
      { nkeySeedFile: secretFile('nkey-seed', seed) },
      { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) },
    );
  });

  it('TLS with a client certificate the server verifies', async () => {
    const certs = makeCertificates();
    const tls = { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey };
    await bridgedPing(
      ['--tls', '--tlscert', certs.serverCert, '--tlskey', certs.serverKey, '--tlscacert', certs.ca, '--tlsverify'],
      { tls },
      { tls },
      'tls',
    );
  });
});

describe('Janus API secret', () => {
  it('is put on every request from the URL or janus.apiSecretFile; without it Janus refuses the session', async () => {
    const nats = await startNats();
    try {
      const bridge = await startBridge({
        nats: { servers: [nats.url] },
        janus: { apiSecretFile: secretFile('janus-secret', API_SECRET) },
        connections: [
          { janus_id: 'from-file', janus_url: janus.url },
          { janus_id: 'from-url', janus_url: `${janus.url}?apisecret=${API_SECRET}` },
        ],
      });
      const wrong = await startBridge({
        nats: { servers: [nats.url] },
        connections: [{ janus_id: 'wrong', janus_url: `${janus.url}?apisecret=nope` }],
      });
      const client = await Client.connect(nats.url);
      try {
        for (const id of ['from-file', 'from-url']) {
          await eventually(() => bridge.daemon.connectionStats(id)?.state === 'ready', 5000, `${id} ready`);
          // A client's own apisecret is replaced by the bridge's.
          const reply = await client.request(`janus.request.${id}`, {
            janus: 'attach',
            plugin: 'janus.plugin.echotest',
            apisecret: 'client-guess',
          });
          expect(reply.json.janus).toBe('success');
        }
        await eventually(
          () => wrong.logs().some((l) => String(l.reason ?? '').includes('403')),
          5000,
          'create refused with 403',
        );
        expect(wrong.daemon.connectionStats('wrong')!.state).not.toBe('ready');
      } finally {
        await client.close();
        await bridge.stop();
        await wrong.stop();
      }
    } finally {
      await nats.stop();
    }
  });
});

describe('secrets never leak', () => {
  it('at log level trace: no secret in its output, events, status, admin answers, metrics or errors', async () => {
    const natsPassword = 'leak-check-nats-pw-9Tq';
    const natsToken = 'leak-check-token-4Hs';
    const nats = await startNats(undefined, ['--user', 'bridge', '--pass', natsPassword]);
    const httpPort = await freePort();
    const config = join(dir, 'leak.json');
    writeFileSync(
      config,
      JSON.stringify({
        nats: { servers: [nats.url], user: 'bridge' },
        connections: [
          { janus_id: 'l1', janus_url: `${janus.url}?apisecret=${API_SECRET}&room=1` },
          { janus_id: 'l2', janus_url: `ws://admin:basic-auth-pw-3Kd@127.0.0.1:${janus.wsPort}/janus` },
        ],
        http: { host: '127.0.0.1', port: httpPort },
        log: { level: 'trace' },
      }),
    );
    const daemon = spawn(process.execPath, [resolve(import.meta.dirname, '../../dist/main.js'), '--config', config], {
      env: { PATH: process.env.PATH, JNB_NATS_PASSWORD: natsPassword, JNB_JANUS_TOKEN: natsToken },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    daemon.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    daemon.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((done) => daemon.once('exit', (code) => done(code)));
    const client = await Client.connect(nats.url, { user: 'bridge', pass: natsPassword });
    // What the bridge publishes (the requests themselves are the test's own words).
    const seen = client.collect('janus.*.l1');
    const seenL2 = client.collect('janus.*.l2');
    try {
      await eventually(
        async () =>
          (await client.request('janus.request.l1', { janus: 'ping' }, 1000).catch(() => undefined))?.json.janus ===
          'pong',
        10_000,
        'l1 answers',
      );
      const answers: unknown[] = [];
      const attached = (await client.request('janus.request.l1', { janus: 'attach', plugin: 'janus.plugin.echotest' }))
        .json;
      answers.push(
        attached,
        (await client.request('janus.request.l1', { janus: 'detach', handle_id: (attached.data as { id: number }).id }))
          .json,
      );
      answers.push((await client.request('janus.request.l1', { janus: 'attach', plugin: 'janus.plugin.nope' })).json);
      answers.push((await client.request('janus.request.l1', { janus: 'create', apisecret: API_SECRET })).json);
      answers.push((await client.request('janus.request.l1', '{"janus": "message", "apisecret": "x"')).json);
      answers.push((await client.request('janus.request.l2', { janus: 'ping' })).json);
      answers.push((await client.request('janus.admin.status', '')).json);
      answers.push((await client.request('janus.admin.reload', '')).json);
      await eventually(() => seen.messages.some((m) => m.subject === 'janus.event.l1'), 3000, 'detached event');
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const ready = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).text();
      daemon.kill('SIGTERM');
      expect(await exited).toBe(0);
      const published = [...seen.messages, ...seenL2.messages].filter((m) => !m.subject.startsWith('janus.request.'));
      const everything = [output, JSON.stringify(answers), JSON.stringify(published), metrics, ready].join('\n');
      expect(output).toContain('session open');
      expect(published.filter((m) => m.subject.startsWith('janus.status.')).length).toBeGreaterThanOrEqual(2);
      expect(published.some((m) => m.subject === 'janus.event.l1')).toBe(true);
      for (const secret of [natsPassword, natsToken, API_SECRET, 'basic-auth-pw-3Kd']) {
        expect(everything.includes(secret), `secret ${secret} leaked`).toBe(false);
      }
    } finally {
      seen.stop();
      seenL2.stop();
      daemon.kill('SIGKILL');
      await client.close();
      await nats.stop();
    }
  }, 30_000);
});
