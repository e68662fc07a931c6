/**
 * A NATS server that stops reading (SIGSTOP: its sockets stay open, it answers nothing)
 * while events flow. The bridge must notice within seconds, say not ready, move to another
 * server of the cluster, and keep the memory it gives to NATS within nats.maxPendingBytes.
 *
 * The Janus here is a FAKE (test/support/fake-janus.ts): a real Janus cannot be made to send
 * a steady stream of notifications at a chosen rate and size without media flowing.
 */
import { afterEach, expect, it } from 'vitest';
import { Client, eventually, startBridge, type TestBridge } from '../support/bridge.js';
import { startFakeJanus, type FakeJanus } from '../support/fake-janus.js';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';
import { startNats, type NatsServer } from '../support/processes.js';

const running: Array<{ stop(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

/** Sends `perSecond` notifications of about `bytes` each to the bridge, until stopped. */
function flood(fake: FakeJanus, perSecond: number, bytes: number): { sent: number; stop(): Promise<void> } {
  const pad = 'x'.repeat(bytes);
  const state = { sent: 0 };
  const perTick = Math.max(1, Math.round(perSecond / 100));
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      fake.sendRaw(
        '{"janus":"event","session_id":1001,"sender":7,' +
          `"plugindata":{"plugin":"janus.plugin.fake","data":{"n":${state.sent++},"pad":"${pad}"}}}`,
      );
    }
  }, 10);
  return {
    get sent() {
      return state.sent;
    },
    stop: async () => clearInterval(timer),
  };
}

async function readyStatus(bridge: TestBridge): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/readyz`, {
    signal: AbortSignal.timeout(1000),
  }).catch(() => undefined);
  return response?.status ?? 0;
}

/**
 * What the NATS client really holds in memory for the server: its own buffer and the socket's. Internals, for the
 * test's eyes only.
 */
function clientBufferedBytes(bridge: TestBridge): number {
  const protocol = (
    bridge.daemon.nc as unknown as {
      protocol: { outbound: { size(): number }; transport?: { socket?: { writableLength: number } } };
    }
  ).protocol;
  return protocol.outbound.size() + (protocol.transport?.socket?.writableLength ?? 0);
}

/** Samples `probe` every 100 ms until stopped; keeps the largest value. */
function sampler(probe: () => number | Promise<number>): { max: number; seen: Set<number>; stop(): Promise<void> } {
  const state = { max: 0, seen: new Set<number>() };
  let on = true;
  const loop = (async () => {
    while (on) {
      const value = await probe();
      state.max = Math.max(state.max, value);
      state.seen.add(value);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    get max() {
      return state.max;
    },
    seen: state.seen,
    stop: async () => {
      on = false;
      await loop;
    },
  };
}

// Not ready while it has no server: proved with a lone server below; here the other server is dialed at once.
it('leaves a stalled cluster server within seconds, dialing the other first, answering from it', async () => {
  const cluster: NatsCluster = await startNatsCluster({ size: 2 });
  running.push(cluster);
  const [stalled, healthy] = cluster.nodes as [NatsCluster['nodes'][0], NatsCluster['nodes'][0]];
  const fake = await startFakeJanus();
  running.push(fake);
  // Given only the first server, the bridge learns the second from the cluster.
  const bridge = await startBridge({
    nats: { servers: [stalled.url] },
    connections: [{ janus_id: 'st', janus_url: fake.url }],
  });
  running.push(bridge);
  const client = await Client.connect(healthy.url);
  running.push({ stop: () => client.close() });
  await eventually(
    async () =>
      (await client.request('janus.request.st', { janus: 'ping' }, 500).catch(() => undefined))?.json.janus === 'pong',
    10_000,
    'served through the route',
  );
  const events = client.collect('janus.event.st');
  const load = flood(fake, 500, 1024);
  running.push(load);
  await eventually(() => events.messages.length > 200, 5_000, 'events flowing');

  const readiness = sampler(() => readyStatus(bridge));
  const buffered = sampler(() => clientBufferedBytes(bridge));
  const pending = sampler(() => bridge.daemon.natsStats().pendingBytes);
  stalled.pause();
  const stoppedAt = performance.now();
  await eventually(
    async () =>
      (await client.request('janus.request.st', { janus: 'ping' }, 500).catch(() => undefined))?.json.janus === 'pong',
    20_000,
    'answered through the healthy server',
  );
  const answeredAfter = performance.now() - stoppedAt;
  const eventsBefore = events.messages.length;
  await eventually(() => events.messages.length > eventsBefore + 200, 5_000, 'events flowing again');
  await eventually(async () => (await readyStatus(bridge)) === 200, 5_000, 'ready again');
  await Promise.all([readiness.stop(), buffered.stop(), pending.stop()]);
  stalled.resume();

  console.log(
    `stall: requests answered through the other server ${answeredAfter.toFixed(0)} ms after SIGSTOP; readiness seen ` +
      `${[...readiness.seen].join(', ')}; ` +
      `client buffer at most ${(buffered.max / 1024).toFixed(0)} KiB, link pending at most ` +
      `${(pending.max / 1024).toFixed(0)} KiB; ` +
      `${bridge.daemon.natsStats().lostBytes} bytes lost with the stalled connection, ` +
      `${bridge.daemon.natsStats().dropped} messages dropped`,
  );
  expect(answeredAfter).toBeLessThan(bridge.config.nats.stallTimeout + 6_000);
  expect(bridge.daemon.natsStats().stalls).toBeGreaterThanOrEqual(1);
  const logs = bridge.logs();
  const stalledAt = logs.findIndex((l) => String(l.msg).startsWith('NATS server stalled'));
  expect(stalledAt).toBeGreaterThanOrEqual(0);
  // The server just left goes to the end of the client's list: it would hold the dial for its whole timeout.
  const dialed = logs.slice(stalledAt).find((l) => l.msg === 'NATS reconnecting');
  expect(dialed?.data).toBe(`127.0.0.1:${healthy.port}`);
  expect(bridge.daemon.nc.getServer()).toContain(String(healthy.port));
  expect(pending.max).toBeLessThanOrEqual(bridge.config.nats.maxPendingBytes);
}, 60_000);

it('holds at most nats.maxPendingBytes for a stalled lone server, counts drops, recovers with it', async () => {
  const nats: NatsServer = await startNats();
  running.push(nats);
  const fake = await startFakeJanus();
  running.push(fake);
  const limit = 4 * 1024 * 1024;
  const bridge = await startBridge({
    nats: { servers: [nats.url], maxPendingBytes: limit },
    connections: [{ janus_id: 'lone', janus_url: fake.url }],
  });
  running.push(bridge);
  const client = await Client.connect(nats.url, { maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  running.push({ stop: () => client.close() });
  await eventually(() => bridge.daemon.connectionStats('lone')?.state === 'ready', 10_000, 'ready');
  const load = flood(fake, 5_000, 2048);
  running.push(load);
  await new Promise((r) => setTimeout(r, 1_000));

  const rssBefore = process.memoryUsage().rss;
  const readiness = sampler(() => readyStatus(bridge));
  const buffered = sampler(() => clientBufferedBytes(bridge));
  const pending = sampler(() => bridge.daemon.natsStats().pendingBytes);
  const rss = sampler(() => process.memoryUsage().rss);
  nats.pause();
  const sentBefore = load.sent;
  await new Promise((r) => setTimeout(r, 12_000));
  const sentDuring = load.sent - sentBefore;
  await Promise.all([readiness.stop(), buffered.stop(), pending.stop(), rss.stop()]);
  nats.resume();
  await load.stop();
  await eventually(
    async () =>
      (await client.request('janus.request.lone', { janus: 'ping' }, 500).catch(() => undefined))?.json.janus ===
      'pong',
    20_000,
    'served after the server woke',
  );

  const totals = bridge.daemon.natsStats();
  console.log(
    `lone stall: ${sentDuring} events of 2 KiB in 12 s (${((sentDuring * 2) / 1024).toFixed(0)} MiB); client buffer ` +
      `at most ${(buffered.max / 1024 / 1024).toFixed(1)} MiB, ` +
      `link pending at most ${(pending.max / 1024 / 1024).toFixed(1)} MiB (limit 4), RSS ` +
      `+${((rss.max - rssBefore) / 1024 / 1024).toFixed(0)} MiB; ` +
      `${totals.stalls} stalls, ${totals.dropped} dropped, ${totals.lostBytes} bytes lost with the stalled ` +
      `connection; readiness seen ${[...readiness.seen].join(', ')}`,
  );
  expect(sentDuring * 2048).toBeGreaterThan(6 * limit);
  expect(totals.stalls).toBeGreaterThanOrEqual(1);
  expect(totals.dropped).toBeGreaterThan(0);
  expect(pending.max).toBeLessThanOrEqual(limit);
  // What the client itself holds: the bound plus what was handed over in the ticks before the stall was seen.
  expect(buffered.max).toBeLessThanOrEqual(limit + 1024 * 1024);
  expect(readiness.seen.has(503)).toBe(true);
  expect(bridge.logs().some((l) => String(l.msg).startsWith('NATS reconnected: '))).toBe(true);
}, 90_000);
