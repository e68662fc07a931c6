/** The Admin API rules (pure) and the Admin API link against a local WebSocket server standing in for Janus. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { freePort } from '../support/processes.js';
import { explainConfig, formatExplained } from '../../src/config/explain.js';
import { loadConfig } from '../../src/config/load.js';
import { AdminLink } from '../../src/janus/admin-link.js';
import {
  ADMIN_VERB,
  adminVerbRefusal,
  allowedVerbs,
  answeredTransaction,
  checkAdminRequest,
  READ_ONLY_ADMIN_VERBS,
  toAdminWire,
} from '../../src/janus/admin-protocol.js';
import type { JanusMessage } from '../../src/janus/protocol.js';
import { parseJanusUrl } from '../../src/janus/url.js';
import { createLogger } from '../../src/log.js';

const NONE: ReadonlySet<string> = new Set();
const MAX = 64 * 1024;
const check = (payload: string, allow: ReadonlySet<string> = NONE, configured = true) =>
  checkAdminRequest(payload, MAX, { configured, allowVerbs: allow });

describe('which admin verbs pass', () => {
  it.each([...READ_ONLY_ADMIN_VERBS])('passes the read-only verb %s without any allow-list', (verb) => {
    expect(adminVerbRefusal(verb, NONE)).toBeUndefined();
  });

  it.each([
    'destroy_session',
    'set_log_level',
    'set_session_timeout',
    'hangup_webrtc',
    'detach_handle',
    'start_pcap',
    'stop_pcap',
    'start_text2pcap',
    'stop_text2pcap',
    'accept_new_sessions',
    'add_token',
    'allow_token',
    'disallow_token',
    'remove_token',
    'list_tokens',
    'message_plugin',
    'query_transport',
    'query_eventhandler',
    'query_logger',
    'custom_event',
    'custom_logline',
    'resolve_address',
    'test_stun',
    'set_locking_debug',
    'set_refcount_debug',
    'set_log_timestamps',
    'set_log_colors',
    'set_min_nack_queue',
    'set_nack_optimizations',
    'set_no_media_timer',
    'set_slowlink_threshold',
    'some_future_verb',
    // Janus API verbs mean nothing on the Admin API: refused as unknown, not with the session rule (604).
    'create',
    'destroy',
    'claim',
    'attach',
  ])('refuses %s unless it is allowed (608), and passes it when it is', (verb) => {
    expect(adminVerbRefusal(verb, NONE)).toMatchObject({
      code: 608,
      name: 'admin_verb_refused',
      reason: expect.stringContaining(`"${verb}"`),
    });
    expect(adminVerbRefusal(verb, allowedVerbs([verb]))).toBeUndefined();
  });

  it('reads verbs in any case, as Janus does: "Destroy_Session" is refused too; the allow-list is case-blind', () => {
    const parsed = check('{"janus":"Destroy_Session","session_id":1}');
    expect(parsed).toMatchObject({ ok: false, error: { code: 608 } });
    expect(check('{"janus":"Destroy_Session","session_id":1}', allowedVerbs(['DESTROY_SESSION']))).toMatchObject({
      ok: true,
      message: { janus: 'destroy_session' },
    });
    expect(check('{"janus":"LIST_SESSIONS"}')).toMatchObject({ ok: true, message: { janus: 'list_sessions' } });
  });

  it('never quotes a verb that is not a plain name in its reason', () => {
    const odd = `x\r\n${'y'.repeat(500)}`;
    const refusal = adminVerbRefusal(odd, NONE)!;
    expect(refusal.reason).not.toContain('yyy');
    expect(refusal.reason).toContain('a verb of 503 characters');
    expect(ADMIN_VERB.test('set_log_level')).toBe(true);
  });
});

describe('checkAdminRequest', () => {
  it("applies the rules of every request first (600–606), with the client's transaction kept for the error", () => {
    expect(check('{nope')).toMatchObject({ ok: false, error: { code: 600 } });
    expect(check('[1]')).toMatchObject({ ok: false, error: { code: 601 } });
    expect(check('{"transaction":"t"}')).toMatchObject({ ok: false, error: { code: 602 }, clientTransaction: 't' });
    expect(check('{"janus":"list_sessions","x":"\\u0000"}')).toMatchObject({ ok: false, error: { code: 606 } });
    expect(
      checkAdminRequest('{"janus":"ping","pad":"' + 'x'.repeat(100) + '"}', 50, { configured: true, allowVerbs: NONE }),
    ).toMatchObject({ ok: false, error: { code: 603 } });
  });

  it('takes session_id and handle_id from the client (the admin names its target), and checks both are ids', () => {
    expect(check('{"janus":"handle_info","session_id":12,"handle_id":34}')).toMatchObject({
      ok: true,
      message: { session_id: 12, handle_id: 34 },
    });
    expect(check('{"janus":"list_handles","session_id":"12","transaction":"t"}')).toMatchObject({
      ok: false,
      error: { code: 605, reason: expect.stringContaining('"session_id"') },
      clientTransaction: 't',
    });
    expect(check('{"janus":"handle_info","session_id":12,"handle_id":-1}')).toMatchObject({
      ok: false,
      error: { code: 605, reason: expect.stringContaining('"handle_id"') },
    });
    expect(check('{"janus":"list_handles","session_id":9007199254740993}')).toMatchObject({
      ok: false,
      error: { code: 605 },
    });
  });

  it('answers 609 for a connection without an Admin API, read-only verb or not, once the request is valid', () => {
    expect(check('{"janus":"list_sessions","transaction":"t"}', NONE, false)).toMatchObject({
      ok: false,
      error: { code: 609, name: 'admin_not_configured' },
      clientTransaction: 't',
    });
    expect(check('{"janus":"destroy_session","session_id":1}', NONE, false)).toMatchObject({
      ok: false,
      error: { code: 609 },
    });
    expect(check('{bad', NONE, false)).toMatchObject({ ok: false, error: { code: 600 } });
  });
});

describe('toAdminWire', () => {
  it("puts the bridge's transaction and admin secret on the request in place of the client's, keeps the rest", () => {
    const message: JanusMessage = {
      janus: 'handle_info',
      transaction: 'mine',
      admin_secret: 'guess',
      session_id: 1,
      handle_id: 2,
      plugin_only: true,
    };
    expect(toAdminWire(message, 'ours-1', 's3cret')).toEqual({
      janus: 'handle_info',
      transaction: 'ours-1',
      admin_secret: 's3cret',
      session_id: 1,
      handle_id: 2,
      plugin_only: true,
    });
  });

  it("removes a client's admin_secret when the bridge has none: the right comes from the bridge's config", () => {
    expect(toAdminWire({ janus: 'list_sessions', admin_secret: 'guess' }, 't', undefined)).toEqual({
      janus: 'list_sessions',
      transaction: 't',
    });
    expect(toAdminWire({ janus: 'list_sessions', admin_secret: 'guess' }, 't', '')).toEqual({
      janus: 'list_sessions',
      transaction: 't',
    });
  });
});

describe('answeredTransaction', () => {
  it('says a message with a transaction answers it, whatever its type (the Admin API answers once per request)', () => {
    for (const janus of ['success', 'error', 'pong', 'server_info'])
      expect(answeredTransaction({ janus, transaction: 'x' })).toBe('x');
    expect(
      answeredTransaction({ janus: 'error', error: { code: 456, reason: 'Missing mandatory element (transaction)' } }),
    ).toBeUndefined();
  });
});

describe('AdminLink', () => {
  let server: WebSocketServer | undefined;
  let link: AdminLink | undefined;

  afterEach(async () => {
    await link?.stop('test over');
    const closing = server;
    server = undefined;
    if (closing) {
      for (const client of closing.clients) client.terminate();
      await new Promise<void>((done) => closing.close(() => done()));
    }
  });

  /**
   * A stand-in for Janus's Admin WebSocket: records what arrives and answers with `answer` (undefined: stays silent).
   */
  async function fakeAdmin(
    answer: (request: Record<string, unknown>) => Record<string, unknown> | undefined,
    port = 0,
  ) {
    const received: Array<{ protocol: string; request: Record<string, unknown> }> = [];
    server = new WebSocketServer({
      host: '127.0.0.1',
      port,
      handleProtocols: (protocols) => (protocols.has('janus-admin-protocol') ? 'janus-admin-protocol' : false),
    });
    server.on('connection', (peer: WebSocket) => {
      peer.on('message', (data) => {
        const request = JSON.parse(data.toString()) as Record<string, unknown>;
        received.push({ protocol: peer.protocol, request });
        const reply = answer(request);
        // Indented, as Janus writes by default.
        if (reply)
          peer.send(JSON.stringify({ janus: reply.janus, transaction: request.transaction, ...reply }, null, 3));
      });
    });
    await new Promise((listening) => server!.once('listening', listening));
    return { port: (server.address() as { port: number }).port, received };
  }

  function startLink(port: number, options: { secret?: string; cmdTimeoutMs?: number } = {}): AdminLink {
    const parsed = parseJanusUrl(`janusws://127.0.0.1:${port}/admin`, 'admin');
    if (!parsed.ok) throw new Error(parsed.reason);
    link = new AdminLink(
      {
        url: parsed.url,
        adminSecret: options.secret,
        cmdTimeoutMs: options.cmdTimeoutMs ?? 2000,
        sendTimeoutMs: 1000,
        pingIntervalMs: 60_000,
        maxMessageBytes: 1 << 20,
        reconnect: { minDelay: 20, maxDelay: 50 },
      },
      createLogger('silent'),
    );
    link.start();
    return link;
  }

  async function until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what} not within 5 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("speaks janus-admin-protocol with secret and transaction; gives Janus's text back with the client's", async () => {
    const admin = await fakeAdmin(() => ({ janus: 'success', sessions: [1, 2] }));
    const l = startLink(admin.port, { secret: 'overlord' });
    await until(() => l.state === 'ready', 'ready');
    const outcome = await l.request({ janus: 'list_sessions', admin_secret: 'client-guess' }, 'client-t');
    expect(admin.received).toHaveLength(1);
    expect(admin.received[0]!.protocol).toBe('janus-admin-protocol');
    expect(admin.received[0]!.request).toMatchObject({ janus: 'list_sessions', admin_secret: 'overlord' });
    expect(admin.received[0]!.request.transaction).not.toBe('client-t');
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.answer).toEqual({ janus: 'success', transaction: 'client-t', sessions: [1, 2] });
    // Janus's own text, indentation and all, with only the transaction's value changed.
    expect(outcome.text).toContain('\n');
    expect(JSON.parse(outcome.text)).toEqual({ janus: 'success', transaction: 'client-t', sessions: [1, 2] });
    expect(l.stats().framesSent).toBe(1);
  });

  it('answers 611 at once while not connected, 610 at the deadline, 612 on a socket drop; reconnects', async () => {
    const port = await freePort();
    const l = startLink(port, { cmdTimeoutMs: 300 });
    // Nothing listens yet: refused at once, and retried with backoff until something does.
    const refused = performance.now();
    expect(await l.request({ janus: 'ping' }, 'early')).toMatchObject({
      ok: false,
      error: { code: 611, reason: expect.stringContaining('Admin API link') },
    });
    expect(performance.now() - refused).toBeLessThan(50);
    await new Promise((r) => setTimeout(r, 150));
    expect(l.state).not.toBe('ready');
    await fakeAdmin((request) => (request.janus === 'ping' ? { janus: 'pong' } : undefined), port);
    await until(() => l.state === 'ready', 'ready');
    const late = await l.request({ janus: 'get_status' }, 't1');
    expect(late).toMatchObject({ ok: false, error: { code: 610 } });
    const short = performance.now();
    expect(await l.request({ janus: 'get_status' }, 't1', 100)).toMatchObject({
      ok: false,
      error: { code: 610, reason: expect.stringContaining('Janus-Timeout') },
    });
    expect(performance.now() - short).toBeLessThan(280);
    const waiting = l.request({ janus: 'get_status' }, 't2');
    await until(() => l.stats().pendingRequests === 1, 'pending');
    for (const client of server!.clients) client.terminate();
    expect(await waiting).toMatchObject({ ok: false, error: { code: 612 } });
    await until(() => l.state === 'ready', 'reconnected');
    expect(await l.request({ janus: 'ping' }, undefined)).toMatchObject({ ok: true, answer: { janus: 'pong' } });
  });

  it('fails what waits, and what comes after, with 613 when stopped; never connects again', async () => {
    const admin = await fakeAdmin(() => undefined);
    const l = startLink(admin.port);
    await until(() => l.state === 'ready', 'ready');
    const waiting = l.request({ janus: 'get_status' }, 'x');
    await l.stop('removed from the connection list');
    expect(await waiting).toMatchObject({ ok: false, error: { code: 613 } });
    expect(l.state).toBe('stopped');
    expect(await l.request({ janus: 'ping' }, undefined)).toMatchObject({
      ok: false,
      error: { code: 613, reason: expect.stringContaining('removed from the connection list') as unknown },
    });
  });
});

describe('the admin secret in the effective configuration (--check-config)', () => {
  it('is masked as a key and taken out of every janus_admin_url shown', () => {
    const values = {
      janus: { adminSecret: 'overlord-key-1' },
      connections: [
        {
          janus_id: 'a',
          janus_url: 'janusws://h:8188/janus',
          janus_admin_url: 'janusws://h:7188/admin?admin_secret=overlord-url-2',
        },
      ],
    };
    const file = join(mkdtempSync(join(tmpdir(), 'jnb-admin-')), 'c.json');
    writeFileSync(file, JSON.stringify(values));
    const loaded = loadConfig({ file, env: {} });
    if (!loaded.ok) throw new Error(loaded.problem);
    const keys = explainConfig(loaded.config, values, {});
    const text = formatExplained(keys);
    expect(text).not.toContain('overlord');
    expect(keys.find((k) => k.key === 'janus.adminSecret')!.value).toBe('***');
    expect(keys.find((k) => k.key === 'connections')!.value).toEqual([
      { janus_id: 'a', janus_url: 'ws://h:8188/janus', janus_admin_url: 'ws://h:7188/admin' },
    ]);
  });
});
