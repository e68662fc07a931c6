/**
 * Janus's Admin API over NATS (`<prefix>.adminapi.<janus_id>`): real Janus servers with their
 * Admin WebSocket (admin_secret `janusoverlord`, the stock janus.jcfg's), a real NATS, the
 * daemon in-process. Janus A serves only `adm`, so its list_sessions is the bridge's session
 * alone; Janus B serves `noadm` (no janus_admin_url) and `wrong` (a wrong admin secret).
 * The tests run in order: the last one kills Janus A.
 */
import { headers } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, natsPerFile, startBridge, type TestBridge } from '../support/bridge.js';
import { adminRequest, listSessions } from '../support/janus-admin.js';
import { freePort, startJanus, type JanusServer } from '../support/processes.js';

const SECRET = 'janusoverlord';
const WRONG = 'not-the-admin-secret-4711';
const scope = natsPerFile({ beforeAll, afterEach: () => {}, afterAll });
let janusA: JanusServer;
let janusB: JanusServer;
let bridge: TestBridge;

const adminUrl = (janus: JanusServer, secret?: string): string =>
  `janusws://127.0.0.1:${janus.adminPort}/admin${secret ? `?admin_secret=${secret}` : ''}`;

beforeAll(async () => {
  [janusA, janusB] = await Promise.all([startJanus(), startJanus()]);
  bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: { reconnect: { minDelay: 100, maxDelay: 500 } },
    adminApi: { allowVerbs: ['set_log_level'] },
    connections: [
      { janus_id: 'adm', janus_url: janusA.url, janus_admin_url: adminUrl(janusA, SECRET) },
      { janus_id: 'noadm', janus_url: janusB.url },
      { janus_id: 'wrong', janus_url: janusB.url, janus_admin_url: adminUrl(janusB, WRONG) },
    ],
  });
  await eventually(
    () => ['adm', 'noadm', 'wrong'].every((id) => bridge.daemon.connectionStats(id)?.state === 'ready'),
    10_000,
    'connections ready',
  );
  await eventually(
    () => ['adm', 'wrong'].every((id) => bridge.daemon.connectionStats(id)?.admin?.state === 'ready'),
    10_000,
    'admin links open',
  );
}, 30_000);

afterAll(async () => {
  await bridge?.stop();
  await Promise.all([janusA?.stop(), janusB?.stop()]);
});

type Answer = { janus: string; transaction?: string; error?: { code: number; reason: string }; [key: string]: unknown };

async function admin(id: string, body: unknown, options: { timeoutHeader?: string; timeout?: number } = {}) {
  const h = headers();
  if (options.timeoutHeader !== undefined) h.set('Janus-Timeout', options.timeoutHeader);
  const started = performance.now();
  const msg = await scope.client.nc.request(
    `janus.adminapi.${id}`,
    typeof body === 'string' ? body : JSON.stringify(body),
    {
      timeout: options.timeout ?? 8000,
      ...(options.timeoutHeader !== undefined ? { headers: h } : {}),
    },
  );
  return {
    json: JSON.parse(msg.string()) as Answer,
    headers: msg.headers,
    text: msg.string(),
    ms: performance.now() - started,
  };
}

const link = (id: string) => bridge.daemon.connectionStats(id)!.admin!;
const sessionOf = (id: string): number => bridge.daemon.connectionStats(id)!.sessionId!;

async function metric(line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found ? Number(found.split(' ').pop()) : 0;
}

describe('read-only verbs', () => {
  it("list_sessions shows exactly the bridge's session, with the client's transaction restored", async () => {
    const reply = await admin('adm', { janus: 'list_sessions', transaction: 'ls-1' });
    expect(reply.json).toEqual({ janus: 'success', transaction: 'ls-1', sessions: [sessionOf('adm')] });
    expect(reply.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
    // Without a transaction, none comes back (the bridge's own is never shown).
    const bare = await admin('adm', { janus: 'LIST_SESSIONS' });
    expect(bare.json).toEqual({ janus: 'success', sessions: [sessionOf('adm')] });
  });

  it('handle_info and list_handles show a handle attached through <prefix>.request.<janus_id>', async () => {
    const attached = await scope.client.request('janus.request.adm', {
      janus: 'attach',
      plugin: 'janus.plugin.echotest',
      opaque_id: 'admin-test',
    });
    const handle = (attached.json.data as { id: number }).id;
    const session = sessionOf('adm');
    const handles = await admin('adm', { janus: 'list_handles', session_id: session, transaction: 'lh' });
    expect(handles.json).toMatchObject({ janus: 'success', transaction: 'lh', session_id: session, handles: [handle] });
    const info = await admin('adm', {
      janus: 'handle_info',
      session_id: session,
      handle_id: handle,
      transaction: 'hi',
    });
    expect(info.json).toMatchObject({
      janus: 'success',
      transaction: 'hi',
      session_id: session,
      handle_id: handle,
      info: { session_id: session, handle_id: handle, opaque_id: 'admin-test', plugin: 'janus.plugin.echotest' },
    });
    await scope.client.request('janus.request.adm', { janus: 'detach', handle_id: handle });
  });

  it('get_status, info and ping answer as Janus answers them', async () => {
    const status = await admin('adm', { janus: 'get_status', transaction: 'gs' });
    expect(status.json).toMatchObject({
      janus: 'success',
      transaction: 'gs',
      status: { session_timeout: expect.any(Number), log_level: expect.any(Number) },
    });
    expect((await admin('adm', { janus: 'info', transaction: 'i' })).json).toMatchObject({
      janus: 'server_info',
      transaction: 'i',
      version_string: expect.any(String),
    });
    expect((await admin('adm', { janus: 'ping', transaction: 'p' })).json).toEqual({ janus: 'pong', transaction: 'p' });
  });

  it("passes Janus's own errors through: an unknown session (458)", async () => {
    const reply = await admin('adm', { janus: 'list_handles', session_id: 12345, transaction: 'nope' });
    expect(reply.json).toMatchObject({ janus: 'error', transaction: 'nope', error: { code: 458 } });
    expect(reply.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
  });
});

describe('verbs that change Janus', () => {
  it('refuses destroy_session (any case) with 608, sends nothing, and the session lives on', async () => {
    const session = sessionOf('adm');
    const sent = link('adm').framesSent;
    for (const verb of ['destroy_session', 'Destroy_Session']) {
      const reply = await admin('adm', { janus: verb, session_id: session, transaction: 'd' });
      expect(reply.json).toMatchObject({
        janus: 'error',
        transaction: 'd',
        error: { code: 608, reason: expect.stringContaining('"destroy_session"') },
      });
      expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('608');
    }
    expect(link('adm').framesSent).toBe(sent);
    expect(await listSessions(janusA.adminUrl)).toEqual([session]);
    expect((await scope.client.request('janus.request.adm', { janus: 'keepalive' })).json).toMatchObject({
      janus: 'ack',
      session_id: session,
    });
    expect(bridge.logs()).toContainEqual(
      expect.objectContaining({ janus_id: 'adm', msg: 'Admin API verb refused', code: 608 }),
    );
  });

  it('passes a verb listed in adminApi.allowVerbs (set_log_level) and Janus applies it', async () => {
    const before = ((await admin('adm', { janus: 'get_status' })).json.status as { log_level: number }).log_level;
    const level = before === 4 ? 3 : 4;
    try {
      const reply = await admin('adm', { janus: 'Set_Log_Level', level, transaction: 'sl' });
      expect(reply.json).toEqual({ janus: 'success', transaction: 'sl', level });
      expect(
        ((await adminRequest(janusA.adminUrl, { janus: 'get_status' })).status as { log_level: number }).log_level,
      ).toBe(level);
    } finally {
      await adminRequest(janusA.adminUrl, { janus: 'set_log_level', level: before });
    }
  });
});

describe('connections without an Admin API, or with the wrong secret', () => {
  it('answers 609 at once for a connection without janus_admin_url', async () => {
    const reply = await admin('noadm', { janus: 'list_sessions', transaction: 'n' });
    expect(reply.json).toMatchObject({
      janus: 'error',
      transaction: 'n',
      error: { code: 609, reason: expect.stringContaining('janus_admin_url') },
    });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('609');
    expect(reply.ms).toBeLessThan(500);
  });

  it("passes Janus's 403 through when the admin secret is wrong", async () => {
    const reply = await admin('wrong', { janus: 'list_sessions', transaction: 'w' });
    expect(reply.json).toMatchObject({ janus: 'error', transaction: 'w', error: { code: 403 } });
    // info and ping need no secret.
    expect((await admin('wrong', { janus: 'ping' })).json).toEqual({ janus: 'pong' });
  });

  it("puts the bridge's secret in place of one the client sends", async () => {
    expect((await admin('wrong', { janus: 'list_sessions', admin_secret: SECRET })).json).toMatchObject({
      janus: 'error',
      error: { code: 403 },
    });
    expect((await admin('adm', { janus: 'list_sessions', admin_secret: WRONG })).json).toMatchObject({
      janus: 'success',
    });
  });
});

describe('status, metrics and secrets', () => {
  it('shows each Admin API link in <prefix>.admin.status and /metrics, without the secret', async () => {
    const reply = await scope.client.request('janus.admin.status', '');
    const connections = reply.json.connections as Array<{ janus_id: string; admin: Record<string, unknown> | null }>;
    const byId = new Map(connections.map((c) => [c.janus_id, c.admin]));
    expect(byId.get('adm')).toMatchObject({
      state: 'ready',
      janus_admin_url: `ws://127.0.0.1:${janusA.adminPort}/admin`,
      pending: 0,
      secret: true,
    });
    expect(byId.get('noadm')).toBeNull();
    expect(byId.get('wrong')).toMatchObject({ state: 'ready', secret: true });
    expect(await metric('janus_bridge_admin_connection_state{janus_id="adm",state="ready"}')).toBe(1);
    expect(await metric('janus_bridge_admin_connection_state{janus_id="adm",state="disconnected"}')).toBe(0);
    expect(await metric('janus_bridge_admin_requests_total{janus_id="adm",outcome="ok"}')).toBeGreaterThan(0);
    expect(await metric('janus_bridge_admin_requests_total{janus_id="adm",outcome="rejected"}')).toBeGreaterThan(0);
    const text = await (await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/metrics`)).text();
    expect(text).not.toContain('janus_bridge_admin_connection_state{janus_id="noadm"');
    for (const secret of [SECRET, WRONG]) {
      expect(JSON.stringify(reply.json)).not.toContain(secret);
      expect(text).not.toContain(secret);
    }
  });

  it('never writes an admin secret into a log line', () => {
    const logs = JSON.stringify(bridge.logs());
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain(WRONG);
    expect(bridge.logs()).toContainEqual(
      expect.objectContaining({
        janus_id: 'adm',
        msg: 'Janus Admin API link open',
        admin_url: `ws://127.0.0.1:${janusA.adminPort}/admin`,
      }),
    );
  });
});

describe('hostile input, as for requests', () => {
  it.each([
    ['not JSON', '{"janus":"list_sessions"', 600],
    ['an array', '[{"janus":"list_sessions"}]', 601],
    ['no verb', '{"transaction":"x"}', 602],
    ['a session_id that is not an id', '{"janus":"list_handles","session_id":"1"}', 605],
    ['a NUL character', '{"janus":"list_sessions","x":"\\u0000"}', 606],
  ])('answers %s with its error and sends nothing', async (_name, payload, code) => {
    const sent = link('adm').framesSent;
    const reply = await admin('adm', payload);
    expect(reply.json.error?.code).toBe(code);
    expect(link('adm').framesSent).toBe(sent);
  });

  it('publishes nothing on a reply subject under the prefix (nor sends anything to Janus), and counts it', async () => {
    const sent = link('adm').framesSent;
    const refused = await metric('janus_bridge_reply_subjects_refused_total{kind="adminapi"}');
    const watch = scope.client.collect('janus.>');
    await scope.client.nc.flush();
    scope.client.nc.publish('janus.adminapi.adm', JSON.stringify({ janus: 'list_sessions' }), {
      reply: 'janus.event.adm',
    });
    await scope.client.nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    watch.stop();
    expect(watch.messages.filter((m) => m.subject === 'janus.event.adm')).toEqual([]);
    expect(link('adm').framesSent).toBe(sent);
    expect(await metric('janus_bridge_reply_subjects_refused_total{kind="adminapi"}')).toBe(refused + 1);
  });

  it('sends nothing for a message without a reply subject: the Admin API is request/reply only', async () => {
    const sent = link('adm').framesSent;
    scope.client.nc.publish('janus.adminapi.adm', JSON.stringify({ janus: 'list_sessions' }));
    await scope.client.nc.flush();
    await eventually(
      () =>
        bridge
          .logs()
          .some((l) => l.janus_id === 'adm' && String(l.msg).startsWith('Admin API request without a reply subject')),
      2000,
      'logged',
    );
    expect(link('adm').framesSent).toBe(sent);
  });
});

describe('deadlines', () => {
  it('answers 607 for a malformed Janus-Timeout, and 610 at the Janus-Timeout when Janus is frozen', async () => {
    expect((await admin('adm', { janus: 'ping' }, { timeoutHeader: 'soon' })).json.error?.code).toBe(607);
    janusA.pause();
    try {
      const reply = await admin(
        'adm',
        { janus: 'list_sessions', transaction: 'slow' },
        { timeoutHeader: '500', timeout: 3000 },
      );
      expect(reply.json).toMatchObject({
        janus: 'error',
        transaction: 'slow',
        error: { code: 610, reason: expect.stringContaining('Janus-Timeout') },
      });
      expect(reply.ms).toBeGreaterThanOrEqual(480);
      expect(reply.ms).toBeLessThan(1500);
    } finally {
      janusA.resume();
    }
    // The late answer goes nowhere; the next request is answered as usual.
    expect((await admin('adm', { janus: 'list_sessions' })).json).toEqual({
      janus: 'success',
      sessions: [sessionOf('adm')],
    });
  });
});

describe('readiness', () => {
  it('with http.readyNeedsAdmin, is not ready while an Admin API link is down, and says so', async () => {
    const deadPort = await freePort();
    const strict = await startBridge({
      nats: { servers: [scope.nats.url], subjectPrefix: 'strict' },
      http: { readyNeedsAdmin: true },
      connections: [{ janus_id: 'a', janus_url: janusB.url, janus_admin_url: `janusws://127.0.0.1:${deadPort}/admin` }],
    });
    try {
      await eventually(() => strict.daemon.connectionStats('a')?.state === 'ready', 10_000, 'ready');
      const ready = await fetch(`http://127.0.0.1:${strict.daemon.httpPort}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reasons: string[] }).reasons).toContain(
        '0 of 1 Janus Admin API links open, http.readyNeedsAdmin needs all',
      );
    } finally {
      await strict.stop();
    }
    // Without it (the default), the same down link does not count.
    expect((await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/readyz`)).status).toBe(200);
  });
});

describe('Janus restarted', () => {
  it('the Admin API link reconnects by itself and answers again', async () => {
    await janusA.kill();
    await eventually(() => link('adm').state !== 'ready', 5000, 'link noticed the drop');
    const down = await admin('adm', { janus: 'get_status', transaction: 'down' });
    expect([611, 612]).toContain(down.json.error?.code);
    expect(down.ms).toBeLessThan(1000);
    janusA = await janusA.restart();
    await eventually(() => link('adm').state === 'ready', 10_000, 'admin link open again');
    await eventually(() => bridge.daemon.connectionStats('adm')?.state === 'ready', 10_000, 'connection ready again');
    expect((await admin('adm', { janus: 'list_sessions', transaction: 'back' })).json).toEqual({
      janus: 'success',
      transaction: 'back',
      sessions: [sessionOf('adm')],
    });
    expect(JSON.stringify(bridge.logs())).not.toContain(SECRET);
  }, 30_000);
});
