/**
 * Operations against a real Janus and nats-server: Prometheus metrics, readiness with
 * http.readyShare, NATS service discovery (checked with the client's own service client,
 * as `nats micro` reads it), and <prefix>.admin.status.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { eventually, natsPerFile, startBridge } from '../support/bridge.js';
import { startJanus, type JanusServer } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
let janus: JanusServer;

beforeAll(async () => {
  janus = await startJanus();
});

afterAll(async () => {
  await janus?.stop();
});

async function metricsOf(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('/metrics', () => {
  it('counts outcomes, durations, events, states, reconnects, replacements; drops removed series', async () => {
    const restartable = await startJanus();
    scope.running.push(restartable);
    const dir = mkdtempSync(join(tmpdir(), 'jnb-ops-'));
    const file = join(dir, 'config.json');
    const values = {
      nats: { servers: [scope.nats.url] },
      janus: { cmdTimeout: 500, reconnect: { minDelay: 50, maxDelay: 200 } },
      connections: [
        { janus_id: 'm1', janus_url: janus.url },
        { janus_id: 'm2', janus_url: restartable.url },
      ],
      http: { host: '127.0.0.1', port: 0 },
    };
    writeFileSync(file, JSON.stringify(values));
    const bridge = await startBridge(values, { rereadConfig: () => loadConfig({ file, env: {} }) });
    scope.running.push(bridge);
    await eventually(
      () => ['m1', 'm2'].every((id) => bridge.daemon.connectionStats(id)?.state === 'ready'),
      5000,
      'ready',
    );
    const request = (id: string, body: unknown) => scope.client.request(`janus.request.${id}`, body);

    for (let i = 0; i < 3; i++) await request('m1', { janus: 'ping' });
    await request('m1', { janus: 'message', handle_id: 4242, body: {} });
    await request('m1', { janus: 'create' });
    await request('m1', '[]');
    const handle = (
      (await request('m1', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as { id: number }
    ).id;
    await request('m1', { janus: 'detach', handle_id: handle });
    await scope.client.request('janus.request.m1', { janus: 'ping' });
    janus.pause();
    try {
      expect((await request('m1', { janus: 'ping' })).json).toMatchObject({ error: { code: 610 } });
    } finally {
      janus.resume();
    }

    await restartable.kill();
    await eventually(() => bridge.daemon.connectionStats('m2')!.state !== 'ready', 2000, 'm2 down');
    expect((await request('m2', { janus: 'ping' })).json).toMatchObject({ error: { code: 611 } });
    let text = await metricsOf(bridge.daemon.httpPort);
    expect(sample(text, 'janus_bridge_requests_total', { janus_id: 'm1', outcome: 'ok' })).toBe(6);
    expect(sample(text, 'janus_bridge_requests_total', { janus_id: 'm1', outcome: 'janus_error' })).toBe(1);
    expect(sample(text, 'janus_bridge_requests_total', { janus_id: 'm1', outcome: 'rejected' })).toBe(2);
    expect(sample(text, 'janus_bridge_requests_total', { janus_id: 'm1', outcome: 'timeout' })).toBe(1);
    expect(sample(text, 'janus_bridge_requests_total', { janus_id: 'm2', outcome: 'unavailable' })).toBe(1);
    expect(sample(text, 'janus_bridge_request_duration_seconds_count', { janus_id: 'm1' })).toBe(10);
    expect(sample(text, 'janus_bridge_request_duration_seconds_bucket', { janus_id: 'm1', le: '0.25' })).toBe(9);
    await eventually(
      async () =>
        (sample(await metricsOf(bridge.daemon.httpPort), 'janus_bridge_events_published_total', { janus_id: 'm1' }) ??
          0) >= 2,
      3000,
      'events counted',
    );
    expect(sample(text, 'janus_bridge_connection_state', { janus_id: 'm1', state: 'ready' })).toBe(1);
    expect(sample(text, 'janus_bridge_connection_state', { janus_id: 'm1', state: 'disconnected' })).toBe(0);
    expect(sample(text, 'janus_bridge_connection_state', { janus_id: 'm2', state: 'ready' })).toBe(0);
    expect(sample(text, 'janus_bridge_pending_requests', { janus_id: 'm1' })).toBe(0);
    expect(sample(text, 'janus_bridge_reconnects_total', { janus_id: 'm2' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'janus_bridge_nats_connected')).toBe(1);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeDefined();

    const back = await restartable.restart();
    scope.running.push(back);
    await eventually(
      async () =>
        sample(await metricsOf(bridge.daemon.httpPort), 'janus_bridge_session_replacements_total', {
          janus_id: 'm2',
        }) === 1,
      5000,
      'replacement counted',
    );

    writeFileSync(file, JSON.stringify({ ...values, connections: [values.connections[0]] }));
    expect((await bridge.daemon.reload('test')).ok).toBe(true);
    text = await metricsOf(bridge.daemon.httpPort);
    expect(text).not.toContain('janus_id="m2"');
    expect(text).toContain('janus_id="m1"');
  }, 30_000);
});

describe('/readyz', () => {
  it('follows http.readyShare', async () => {
    const values = (readyShare: number) => ({
      nats: { servers: [scope.nats.url] },
      http: { host: '127.0.0.1', port: 0, readyShare },
      connections: [
        { janus_id: 'r1', janus_url: janus.url },
        { janus_id: 'r2', janus_url: 'ws://127.0.0.1:9/' },
      ],
    });
    const half = await startBridge(values(0.5));
    scope.running.push(half);
    await eventually(() => half.daemon.connectionStats('r1')?.state === 'ready', 5000, 'r1 ready');
    expect((await fetch(`http://127.0.0.1:${half.daemon.httpPort}/readyz`)).status).toBe(200);
    const all = await startBridge(values(1));
    scope.running.push(all);
    await eventually(() => all.daemon.connectionStats('r1')?.state === 'ready', 5000, 'r1 ready');
    const res = await fetch(`http://127.0.0.1:${all.daemon.httpPort}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'not ready',
      reasons: ['1 of 2 Janus connections ready, http.readyShare needs 2'],
    });
    expect((await fetch(`http://127.0.0.1:${all.daemon.httpPort}/healthz`)).status).toBe(200);
  });
});

describe('service discovery and admin status', () => {
  it('shows the NATS service client the bridge, its version, one endpoint per janus_id with stats', async () => {
    const bridge = await startBridge({
      nats: { servers: [scope.nats.url] },
      connections: [
        { janus_id: 's1', janus_url: janus.url },
        { janus_id: 's2', janus_url: janus.url },
      ],
    });
    scope.running.push(bridge);
    await eventually(() => bridge.daemon.connectionStats('s1')?.state === 'ready', 5000, 'ready');
    await scope.client.request('janus.request.s1', { janus: 'ping' });
    await scope.client.request('janus.request.s1', { janus: 'create' });
    const services = scope.client.nc.services.client();
    const pings = [];
    for await (const ping of await services.ping('janus-nats-bridge')) pings.push(ping);
    expect(pings.map((p) => p.id)).toContain(bridge.daemon.discovery.id);
    const infos = [];
    for await (const info of await services.info('janus-nats-bridge', bridge.daemon.discovery.id)) infos.push(info);
    expect(infos).toHaveLength(1);
    expect(infos[0]).toMatchObject({
      name: 'janus-nats-bridge',
      version: '0.1.0',
      type: 'io.nats.micro.v1.info_response',
    });
    expect(infos[0]!.endpoints.map((e) => [e.name, e.subject, e.queue_group])).toEqual([
      ['s1', 'janus.request.s1', 'janus-nats-bridge'],
      ['s2', 'janus.request.s2', 'janus-nats-bridge'],
    ]);
    const stats = [];
    for await (const stat of await services.stats('janus-nats-bridge', bridge.daemon.discovery.id)) stats.push(stat);
    const s1 = stats[0]!.endpoints!.find((e) => e.name === 's1')!;
    expect(s1).toMatchObject({ num_requests: 2, num_errors: 1 });
    expect(s1.last_error).toContain('604');
    expect(s1.processing_time).toBeGreaterThan(0);
  });

  it('answers <prefix>.admin.status with every served connection', async () => {
    const bridge = await startBridge({
      nats: { servers: [scope.nats.url] },
      connections: [
        { janus_id: 'a1', janus_url: `${janus.url}?apisecret=hidden-one` },
        { janus_id: 'a2', janus_url: 'ws://127.0.0.1:9/' },
      ],
    });
    scope.running.push(bridge);
    await eventually(() => bridge.daemon.connectionStats('a1')?.state === 'ready', 5000, 'ready');
    const reply = await scope.client.request('janus.admin.status', '');
    const body = reply.json as { connections: Array<Record<string, unknown>>; version: string; instance: string };
    expect(body.version).toBe('0.1.0');
    expect(body.instance).toBe(bridge.daemon.discovery.id);
    expect(body.connections).toHaveLength(2);
    expect(body.connections[0]).toMatchObject({
      janus_id: 'a1',
      janus_url: `ws://127.0.0.1:${janus.wsPort}/janus`,
      state: 'ready',
      session_id: bridge.daemon.connectionStats('a1')!.sessionId,
      pending: 0,
    });
    expect(Date.parse(String(body.connections[0]!.since))).toBeLessThanOrEqual(Date.now());
    expect(body.connections[1]).toMatchObject({ janus_id: 'a2', session_id: null });
    expect(['disconnected', 'connecting']).toContain(body.connections[1]!.state);
    expect(JSON.stringify(body)).not.toContain('hidden-one');
  });
});
