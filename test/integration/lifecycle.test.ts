/**
 * The connection's life through NATS: status messages, keepalive past a short Janus
 * session_timeout, timeouts while Janus is frozen, fail-fast while it is down, and
 * a new session after a restart. Real Janus, real nats-server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, natsPerFile, startBridge, testConfig } from '../support/bridge.js';
import { listSessions } from '../support/janus-admin.js';
import { startJanus } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
const running = scope.running;

async function setup(janusOptions: Parameters<typeof startJanus>[0], janusConfig: Record<string, unknown>, id: string) {
  const janus = await startJanus(janusOptions);
  running.push(janus);
  const status = scope.client.collect(`janus.status.${id}`);
  const events = scope.client.collect(`janus.event.${id}`);
  await scope.client.nc.flush();
  const bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: janusConfig,
    connections: [{ janus_id: id, janus_url: janus.url }],
  });
  running.push({
    stop: async () => {
      status.stop();
      events.stop();
      await bridge.stop();
    },
  });
  const connected = await status.waitFor((m) => m.state === 'connected');
  return { janus, bridge, status, events, connected, connection: () => bridge.daemon.connectionStats(id)! };
}

describe('status subject', () => {
  it('announces the session on connect, with id and redacted url', async () => {
    const { connected, connection, janus } = await setup({}, {}, 'st1');
    expect(connected).toMatchObject({
      janus_id: 'st1',
      janus_url: `ws://127.0.0.1:${janus.wsPort}/janus`,
      state: 'connected',
    });
    expect(connected.session_id).toBe(connection().sessionId);
    expect(typeof connected.at).toBe('string');
    expect(await listSessions(janus.adminUrl)).toEqual([connection().sessionId]);
  });
});

describe('keepalive', () => {
  it('keeps the session past a short Janus session_timeout', async () => {
    const { connection, status, janus } = await setup({ sessionTimeout: 2 }, { pingInterval: 0.5 }, 'ka1');
    const session = connection().sessionId;
    await new Promise((r) => setTimeout(r, 5000));
    expect(connection().sessionId).toBe(session);
    expect(await listSessions(janus.adminUrl)).toEqual([session]);
    const reply = await scope.client.request('janus.request.ka1', { janus: 'attach', plugin: 'janus.plugin.echotest' });
    expect(reply.json).toMatchObject({ janus: 'success', session_id: session });
    expect(status.messages.filter((m) => m.json.state !== 'connected')).toEqual([]);
  }, 20_000);

  it('without keepalives Janus expires the session, and the bridge gets a new one and says so', async () => {
    // A ping interval longer than Janus's session_timeout: the failure the keepalive prevents.
    const { connection, status, events } = await setup({ sessionTimeout: 1 }, { pingInterval: 4 }, 'ka2');
    const first = connection().sessionId;
    const replaced = await status.waitFor((m) => m.state === 'session-replaced', 10_000);
    expect(replaced).toMatchObject({ old_session_id: first, new_session_id: connection().sessionId });
    expect(connection().sessionId).not.toBe(first);
    expect(await events.waitFor((m) => (m.janus_body as { janus: string }).janus === 'timeout')).toMatchObject({
      janus_body: { session_id: first },
    });
    const reply = await scope.client.request('janus.request.ka2', { janus: 'attach', plugin: 'janus.plugin.echotest' });
    expect(reply.json).toMatchObject({ janus: 'success', session_id: connection().sessionId });
  }, 20_000);
});

describe('faults', () => {
  it('fails pending requests when Janus dies, fails fast while it is down, reconnects with a new session', async () => {
    const { janus, status, connection } = await setup(
      {},
      { cmdTimeout: 5000, pingInterval: 30, reconnect: { minDelay: 50, maxDelay: 300 } },
      'k1',
    );
    const oldSession = connection().sessionId;
    janus.pause();
    const inFlight = Array.from({ length: 20 }, (_, i) =>
      scope.client.request('janus.request.k1', { janus: 'info', transaction: `f-${i}` }),
    );
    await eventually(() => connection().pendingRequests === 20, 2000, '20 pending requests');
    const killedAt = performance.now();
    await janus.kill();
    const replies = await Promise.all(inFlight);
    for (const [i, reply] of replies.entries()) {
      expect(reply.json).toMatchObject({ janus: 'error', transaction: `f-${i}`, error: { code: 612 } });
    }
    expect(performance.now() - killedAt).toBeLessThan(500);
    expect(connection().pendingRequests).toBe(0);
    expect(await status.waitFor((m) => m.state === 'disconnected')).toMatchObject({ failed_requests: 20 });

    const whileDown = await scope.client.request('janus.request.k1', { janus: 'ping', transaction: 'down' });
    expect(whileDown.json).toMatchObject({ transaction: 'down', error: { code: 611 } });
    expect(whileDown.ms).toBeLessThan(100);
    await status.waitFor((m) => m.state === 'reconnecting');

    const restarted = await janus.restart();
    running.push(restarted);
    const replaced = await status.waitFor((m) => m.state === 'session-replaced', 5000);
    expect(replaced.old_session_id).toBe(oldSession);
    expect(replaced.new_session_id).toBe(connection().sessionId);
    const after = await scope.client.request('janus.request.k1', { janus: 'attach', plugin: 'janus.plugin.echotest' });
    expect(after.json).toMatchObject({ janus: 'success', session_id: connection().sessionId });
  }, 30_000);

  it('keeps one connection serving while another Janus is down', async () => {
    const janus = await startJanus();
    running.push(janus);
    const bridge = await startBridge({
      nats: { servers: [scope.nats.url] },
      connections: [
        { janus_id: 'up', janus_url: janus.url },
        { janus_id: 'blackhole', janus_url: 'ws://127.0.0.1:9/' },
      ],
    });
    running.push(bridge);
    await eventually(() => bridge.daemon.connectionStats('up')?.state === 'ready', 5000, 'up ready');
    const reply = await scope.client.request('janus.request.up', { janus: 'ping' });
    expect(reply.json).toEqual({ janus: 'pong' });
    expect(reply.ms).toBeLessThan(200);
    const down = await scope.client.request('janus.request.blackhole', { janus: 'ping' });
    expect(down.json).toMatchObject({ error: { code: 611 } });
  });
});

describe('shutting down after a fire-and-forget request', () => {
  it('waits a second after the last one, so its event is still published with its transaction', async () => {
    const { bridge, connection, events } = await setup({}, {}, 'ff1');
    const attached = await scope.client.request('janus.request.ff1', {
      janus: 'attach',
      plugin: 'janus.plugin.echotest',
    });
    const handle = (attached.json.data as { id: number }).id;
    const before = connection().clientFramesSent;
    scope.client.publish('janus.request.ff1', {
      janus: 'message',
      handle_id: handle,
      body: { audio: true },
      transaction: 'last-words',
    });
    await eventually(() => connection().clientFramesSent > before, 5000, 'the message sent to Janus');
    const started = performance.now();
    await bridge.daemon.shutdown('test');
    const took = performance.now() - started;
    expect(took).toBeGreaterThan(900);
    expect(took).toBeLessThan(3000);
    expect(events.messages.map((m) => (m.json.janus_body as { transaction?: string }).transaction)).toContain(
      'last-words',
    );
  }, 20_000);

  it('does not wait when no fire-and-forget request went out for a second', async () => {
    const { bridge } = await setup({}, {}, 'ff2');
    const started = performance.now();
    await bridge.daemon.shutdown('test');
    expect(performance.now() - started).toBeLessThan(900);
  }, 20_000);
});

describe('a connection stopped without a grace', () => {
  it('answers the requests already on their way with 613 (removed by a reload): none is left to time out', async () => {
    const janus = await startJanus({});
    running.push(janus);
    let ids = ['rf1', 'rf2'];
    const values = () => ({
      nats: { servers: [scope.nats.url] },
      connections: ids.map((id) => ({
        janus_id: id,
        janus_url: janus.url,
        janus_admin_url: `${janus.adminUrl}?admin_secret=janusoverlord`,
      })),
    });
    const bridge = await startBridge(values(), { rereadConfig: () => ({ ok: true, config: testConfig(values()) }) });
    running.push(bridge);
    const rf1 = () => bridge.daemon.connectionStats('rf1');
    await eventually(() => rf1()?.state === 'ready' && rf1()?.admin?.state === 'ready', 10_000, 'rf1 ready');
    // A burst on both subjects, then the reload at once: most of it is still between the NATS server and the daemon.
    const burst = (subject: string, payload: unknown, answered: (json: Record<string, unknown>) => boolean) =>
      Array.from({ length: 500 }, () =>
        scope.client.request(subject, payload, 3000).then(
          (reply) => (answered(reply.json) ? 'answered' : String((reply.json.error as { code: number }).code)),
          (error: { code?: string }) => String(error.code),
        ),
      );
    const requests = burst('janus.request.rf1', { janus: 'ping' }, (json) => json.janus === 'pong');
    const adminRequests = burst('janus.adminapi.rf1', { janus: 'list_sessions' }, (json) => json.janus === 'success');
    for (let i = 0; i < 200; i++) scope.client.publish('janus.request.rf1', { janus: 'ping' });
    ids = ['rf2'];
    expect(await bridge.daemon.reload('test')).toMatchObject({ ok: true, removed: ['rf1'] });
    const tally = async (outcomes: Array<Promise<string>>) => {
      const counts: Record<string, number> = {};
      for (const outcome of await Promise.all(outcomes)) counts[outcome] = (counts[outcome] ?? 0) + 1;
      return counts;
    };
    const [requestTally, adminTally] = [await tally(requests), await tally(adminRequests)];
    for (const counts of [requestTally, adminTally]) {
      // answered before the reload; 613: taken, refused; 503: sent after the server forgot the subscription.
      expect(Object.keys(counts).filter((code) => !['answered', '613', '503'].includes(code))).toEqual([]);
      expect(counts['613']).toBeGreaterThan(0);
    }
    // Fire-and-forget messages refused the same way are expected, not a warning each.
    await scope.client.nc.flush();
    await eventually(() => bridge.daemon.connectionStats('rf1') === undefined, 5000, 'rf1 stopped');
    const notSent = bridge.logs().filter((line) => line.msg === 'fire-and-forget request not sent');
    expect(notSent.filter((line) => line.level !== 'debug')).toEqual([]);
    expect(notSent.length).toBeGreaterThan(0);
    expect(notSent.every((line) => line.code === 613)).toBe(true);
    console.log(
      `[stop] bursts of 500 requests and 500 Admin API requests over a reload that removed their janus_id: ` +
        `${JSON.stringify(requestTally)}, ${JSON.stringify(adminTally)}; ${notSent.length} of 200 fire-and-forget ` +
        `refused (613, at debug)`,
    );
  }, 20_000);
});
