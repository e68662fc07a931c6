/**
 * The faults the bridge must survive, each against a real Janus and a real nats-server
 * (a fake Janus only where a real one cannot produce the fault: malformed frames).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionStats } from '../../src/bridge/bridged-connection.js';
import { eventually, natsPerFile, startBridge, type Collector, type TestBridge } from '../support/bridge.js';
import { startFakeJanus } from '../support/fake-janus.js';
import { listSessions } from '../support/janus-admin.js';
import { startJanus, type JanusOptions, type JanusServer } from '../support/processes.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });

interface Setup {
  janus: JanusServer;
  bridge: TestBridge;
  status: Collector;
  events: Collector;
  connection(): ConnectionStats;
}

async function setup(
  id: string,
  janusConfig: Record<string, unknown>,
  janusOptions: JanusOptions = {},
  url?: (janus: JanusServer) => Promise<string>,
): Promise<Setup> {
  const janus = await startJanus(janusOptions);
  scope.running.push(janus);
  const status = scope.client.collect(`janus.status.${id}`);
  const events = scope.client.collect(`janus.event.${id}`);
  await scope.client.nc.flush();
  const bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: janusConfig,
    connections: [{ janus_id: id, janus_url: url ? await url(janus) : janus.url }],
  });
  scope.running.push({
    stop: async () => {
      status.stop();
      events.stop();
      await bridge.stop();
    },
  });
  await status.waitFor((m) => m.state === 'connected');
  return { janus, bridge, status, events, connection: () => bridge.daemon.connectionStats(id)! };
}

function request(id: string, body: Record<string, unknown>, timeout = 10_000) {
  return scope.client.request(`janus.request.${id}`, body, timeout);
}

describe('1. Janus frozen (SIGSTOP)', () => {
  it('answers 610 at cmdTimeout (±10%), publishes late answers as events, and recovers after SIGCONT', async () => {
    const { janus, events } = await setup('f1', { cmdTimeout: 1000 });
    janus.pause();
    try {
      const replies = await Promise.all(
        [1, 2, 3].map((i) => request('f1', { janus: 'info', transaction: `late-${i}` })),
      );
      for (const [i, reply] of replies.entries()) {
        expect(reply.json).toMatchObject({ janus: 'error', transaction: `late-${i + 1}`, error: { code: 610 } });
        expect(reply.ms).toBeGreaterThanOrEqual(900);
        expect(reply.ms).toBeLessThanOrEqual(1100);
      }
    } finally {
      janus.resume();
    }
    for (const i of [1, 2, 3]) {
      const late = await events.waitFor((m) => (m.janus_body as { transaction?: string }).transaction === `late-${i}`);
      expect(late.janus_body).toMatchObject({ janus: 'server_info' });
    }
    expect((await request('f1', { janus: 'ping' })).json).toEqual({ janus: 'pong' });
  });
});

describe('2. Janus killed with 20 requests in flight', () => {
  it('answers all with an error within 500 ms, says disconnected, fails requests in < 100 ms while down', async () => {
    const { janus, status, connection } = await setup('f2', { pingInterval: 30 });
    janus.pause();
    const inFlight = Array.from({ length: 20 }, (_, i) => request('f2', { janus: 'info', transaction: `k-${i}` }));
    await eventually(() => connection().pendingRequests === 20, 2000, '20 requests in flight');
    const killedAt = performance.now();
    await janus.kill();
    const replies = await Promise.all(inFlight);
    const answeredWithin = performance.now() - killedAt;
    for (const [i, reply] of replies.entries())
      expect(reply.json).toMatchObject({ transaction: `k-${i}`, error: { code: 612 } });
    expect(answeredWithin).toBeLessThan(500);
    expect(await status.waitFor((m) => m.state === 'disconnected')).toMatchObject({ failed_requests: 20 });
    const down = await Promise.all([1, 2, 3, 4, 5].map(() => request('f2', { janus: 'ping' })));
    for (const reply of down) {
      expect(reply.json).toMatchObject({ error: { code: 611 } });
      expect(reply.ms).toBeLessThan(100);
    }
    console.log(
      `fault 2: 20 in-flight requests answered ${answeredWithin.toFixed(0)} ms after the kill; down: ` +
        `${down.map((r) => r.ms.toFixed(1)).join(', ')} ms`,
    );
  });
});

describe('3. Janus restarted', () => {
  it('serves again within 2 s of the port opening, without a daemon restart', async () => {
    const { janus } = await setup('f3', {});
    await janus.kill();
    // Long enough for the backoff to reach its cap.
    await new Promise((r) => setTimeout(r, 4000));
    const restarted = await janus.restart();
    scope.running.push(restarted);
    const portOpen = performance.now();
    await eventually(async () => (await request('f3', { janus: 'ping' })).json.janus === 'pong', 5000, 'ping answered');
    const recovery = performance.now() - portOpen;
    console.log(`fault 3: requests served ${recovery.toFixed(0)} ms after Janus's port opened`);
    expect(recovery).toBeLessThan(2000);
  }, 20_000);
});

describe('4. WebSocket cut while Janus stays up', () => {
  it('with reclaim_session_timeout, claims the session back: an earlier handle works, no replacement', async () => {
    let proxyPort = 0;
    let cut: () => Promise<void> = async () => {};
    let open: () => Promise<void> = async () => {};
    const { status, connection, janus } = await setup(
      'f4',
      { reconnect: { minDelay: 50, maxDelay: 200 } },
      { reclaimTimeout: 10 },
      async (j) => {
        const proxy = await startTcpProxy(j.wsPort);
        scope.running.push(proxy);
        proxyPort = proxy.port;
        cut = proxy.cut;
        open = proxy.open;
        return `janusws://127.0.0.1:${proxyPort}/janus`;
      },
    );
    const session = connection().sessionId;
    const handle = (
      (await request('f4', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as { id: number }
    ).id;
    await cut();
    await status.waitFor((m) => m.state === 'disconnected');
    await open();
    const back = await status.waitFor((m) => m.state === 'connected' && m.resumed === true, 5000);
    expect(back.session_id).toBe(session);
    const reply = await request('f4', {
      janus: 'message',
      handle_id: handle,
      body: { audio: true },
      transaction: 'after-cut',
    });
    expect(reply.json).toMatchObject({ janus: 'event', sender: handle, transaction: 'after-cut', session_id: session });
    expect(status.messages.filter((m) => m.json.state === 'session-replaced')).toEqual([]);
    expect(await listSessions(janus.adminUrl)).toEqual([session]);
  });

  it('without reclaim_session_timeout, creates a new session and says session-replaced (old handle gone)', async () => {
    let cut: () => Promise<void> = async () => {};
    let open: () => Promise<void> = async () => {};
    const { status, connection } = await setup('f4b', { reconnect: { minDelay: 50, maxDelay: 200 } }, {}, async (j) => {
      const proxy = await startTcpProxy(j.wsPort);
      scope.running.push(proxy);
      cut = proxy.cut;
      open = proxy.open;
      return `janusws://127.0.0.1:${proxy.port}/janus`;
    });
    const session = connection().sessionId;
    const handle = (
      (await request('f4b', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as { id: number }
    ).id;
    await cut();
    await new Promise((r) => setTimeout(r, 300));
    await open();
    const replaced = await status.waitFor((m) => m.state === 'session-replaced', 5000);
    expect(replaced).toMatchObject({ old_session_id: session, new_session_id: connection().sessionId });
    expect(String(replaced.reason)).toContain(`claim of session ${session} failed`);
    const reply = await request('f4b', { janus: 'message', handle_id: handle, body: { audio: true } });
    expect(reply.json).toMatchObject({ janus: 'error', error: { code: 459 } });
  });
});

describe('5. NATS restarted', () => {
  it('reconnects, resubscribes, serves within 5 s, and counts the events published while NATS was away', async () => {
    const { janus, bridge } = await setup('f5', { pingInterval: 30 });
    const handle = (
      (await request('f5', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as { id: number }
    ).id;
    // Fire-and-forget messages sent while Janus is frozen: their answers become events,
    // and they arrive once Janus thaws, while NATS is down.
    janus.pause();
    for (let i = 0; i < 5; i++)
      scope.client.publish('janus.request.f5', {
        janus: 'message',
        handle_id: handle,
        body: { audio: true },
        transaction: `away-${i}`,
      });
    await scope.client.nc.flush();
    await eventually(() => bridge.daemon.connectionStats('f5')!.clientFramesSent >= 6, 2000, 'frames sent');
    await scope.nats.kill();
    await eventually(() => !bridge.daemon.natsStats().connected, 5000, 'bridge sees NATS down');
    janus.resume();
    await eventually(() => bridge.daemon.natsStats().buffered >= 5, 5000, 'events published during the outage counted');
    const restarted = await scope.nats.restart();
    scope.nats = restarted;
    const backAt = performance.now();
    await eventually(
      async () => {
        const reply = await scope.client.request('janus.request.f5', { janus: 'ping' }, 500).catch(() => undefined);
        return reply?.json.janus === 'pong';
      },
      10_000,
      'requests served after NATS restart',
    );
    const recovery = performance.now() - backAt;
    console.log(
      `fault 5: requests served ${recovery.toFixed(0)} ms after nats-server restarted; ` +
        `${bridge.daemon.natsStats().buffered} events buffered during the outage`,
    );
    expect(recovery).toBeLessThan(5000);
    await eventually(
      () => bridge.logs().some((l) => String(l.msg).startsWith('NATS reconnected: ') && Number(l.buffered_sent) >= 5),
      5000,
      'outage count logged',
    );
  }, 30_000);
});

describe('7. malformed input from Janus (a FAKE Janus: a real one never sends these)', () => {
  it('drops non-JSON, non-object, verb-less and binary frames, resets on an oversize one, never crashes', async () => {
    const fake = await startFakeJanus();
    scope.running.push(fake);
    const status = scope.client.collect('janus.status.fake');
    await scope.client.nc.flush();
    const bridge = await startBridge({
      nats: { servers: [scope.nats.url] },
      janus: { maxMessageBytes: 4096, reconnect: { minDelay: 50, maxDelay: 200 } },
      connections: [{ janus_id: 'fake', janus_url: fake.url }],
    });
    scope.running.push({
      stop: async () => {
        status.stop();
        await bridge.stop();
      },
    });
    await status.waitFor((m) => m.state === 'connected');
    fake.sendRaw('this is not JSON');
    fake.sendRaw('[1, 2, 3]');
    fake.sendRaw('"a string"');
    fake.sendRaw('{"no": "janus field"}');
    fake.sendRaw(Buffer.from([0, 1, 2, 3]), { binary: true });
    await eventually(
      () => bridge.logs().filter((l) => l.msg === 'frame from Janus dropped').length === 5,
      3000,
      'five drop log lines',
    );
    expect(
      bridge
        .logs()
        .filter((l) => l.msg === 'frame from Janus dropped')
        .map((l) => l.reason),
    ).toEqual([
      'frame is not JSON',
      'frame is not a JSON object',
      'frame is not a JSON object',
      'frame has no string "janus" field',
      'binary frame',
    ]);
    expect((await scope.client.request('janus.request.fake', { janus: 'ping' })).json).toEqual({ janus: 'pong' });
    expect(fake.connections).toBe(1);

    fake.sendRaw(JSON.stringify({ janus: 'event', pad: 'x'.repeat(8000) }));
    const down = await status.waitFor((m) => m.state === 'disconnected');
    expect(String(down.reason)).toContain('janus.maxMessageBytes');
    await status.waitFor((m) => m.state === 'session-replaced');
    expect(fake.connections).toBe(2);
    expect((await scope.client.request('janus.request.fake', { janus: 'ping' })).json).toEqual({ janus: 'pong' });
  });
});
