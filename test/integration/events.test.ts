/**
 * Events consumers can rely on: headers, typed subjects, client transactions restored,
 * and durable capture in JetStream (order, restart, back-pressure). Real Janus, own
 * nats-server with JetStream.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, DiscardPolicy, StorageType, type MsgHdrs } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, eventually, startBridge, type Collector, type TestBridge } from '../support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

let nats: NatsServer;
let janus: JanusServer;
let client: Client;
const running: Array<{ stop(): Promise<unknown> }> = [];

beforeAll(async () => {
  [nats, janus] = await Promise.all([
    startNats(undefined, ['-js', '-sd', mkdtempSync(join(tmpdir(), 'jnb-js-'))]),
    startJanus(),
  ]);
  client = await Client.connect(nats.url);
});

afterAll(async () => {
  for (const item of running.reverse()) await item.stop();
  await client?.close();
  await Promise.all([janus?.stop(), nats?.stop()]);
});

async function bridge(id: string, values: Record<string, unknown> = {}): Promise<TestBridge> {
  const started = await startBridge({
    nats: { servers: [nats.url] },
    connections: [{ janus_id: id, janus_url: janus.url }],
    ...values,
  });
  running.push(started);
  await eventually(() => started.daemon.connectionStats(id)?.state === 'ready', 5000, `${id} ready`);
  return started;
}

async function attach(id: string, plugin: string): Promise<number> {
  return ((await client.request(`janus.request.${id}`, { janus: 'attach', plugin })).json.data as { id: number }).id;
}

function headerMap(headers: MsgHdrs | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const key of headers?.keys() ?? []) map[key] = headers!.get(key);
  return map;
}

async function collect(subject: string): Promise<Collector> {
  const collector = client.collect(subject);
  await client.nc.flush();
  return collector;
}

describe('headers', () => {
  it('on an asynchronous plugin event, a detached notification and a late answer', async () => {
    const events = await collect('janus.event.h1');
    const bridged = await bridge('h1', { janus: { cmdTimeout: 500 } });
    const session = bridged.daemon.connectionStats('h1')!.sessionId;
    const handle = await attach('h1', 'janus.plugin.echotest');

    client.publish('janus.request.h1', {
      janus: 'message',
      handle_id: handle,
      body: { audio: true },
      transaction: 'ff-h',
    });
    const pluginEvent = await events.waitForMessage(
      (m) => (m.json.janus_body as { transaction?: string }).transaction === 'ff-h',
    );
    const h = headerMap(pluginEvent.headers);
    expect(h).toMatchObject({
      'Janus-Id': 'h1',
      'Janus-Type': 'event',
      'Janus-Session': String(session),
      'Janus-Handle': String(handle),
      'Janus-Plugin': 'janus.plugin.echotest',
      'Janus-Transaction': 'ff-h',
    });
    expect(h['Nats-Msg-Id']).toMatch(/-h1-/);

    await client.request('janus.request.h1', { janus: 'detach', handle_id: handle });
    const detached = headerMap(
      (await events.waitForMessage((m) => (m.json.janus_body as { janus: string }).janus === 'detached')).headers,
    );
    expect(detached).toMatchObject({
      'Janus-Id': 'h1',
      'Janus-Type': 'detached',
      'Janus-Session': String(session),
      'Janus-Handle': String(handle),
    });
    expect(detached).not.toHaveProperty('Janus-Plugin');
    expect(detached).not.toHaveProperty('Janus-Transaction');

    janus.pause();
    try {
      expect((await client.request('janus.request.h1', { janus: 'info', transaction: 'late-h' })).json).toMatchObject({
        error: { code: 610 },
      });
    } finally {
      janus.resume();
    }
    const late = await events.waitForMessage((m) => (m.json.janus_body as { janus: string }).janus === 'server_info');
    expect((late.json.janus_body as { transaction: string }).transaction).toBe('late-h');
    expect(headerMap(late.headers)).toMatchObject({ 'Janus-Type': 'server_info', 'Janus-Transaction': 'late-h' });

    const ids = events.messages.map((m) => m.headers?.get('Nats-Msg-Id'));
    expect(new Set(ids).size).toBe(ids.length);
    events.stop();
  });

  it("on the SIP plugin's registration_failed, a notification without a transaction", async () => {
    const sip = createSocket('udp4');
    await new Promise<void>((r) => sip.bind(0, '127.0.0.1', () => r()));
    const port = sip.address().port;
    // Answer every REGISTER with 403, echoing the headers a SIP response must carry.
    sip.on('message', (packet, from) => {
      const text = packet.toString();
      if (!text.startsWith('REGISTER')) return;
      const keep = text.split('\r\n').filter((line) => /^(Via|From|To|Call-ID|CSeq):/i.test(line));
      sip.send(
        Buffer.from(['SIP/2.0 403 Forbidden', ...keep, 'Content-Length: 0', '', ''].join('\r\n')),
        from.port,
        from.address,
      );
    });
    running.push({ stop: () => new Promise<void>((r) => sip.close(() => r())) });
    const events = await collect('janus.event.sip1');
    await bridge('sip1');
    const handle = await attach('sip1', 'janus.plugin.sip');
    const registering = await client.request('janus.request.sip1', {
      janus: 'message',
      handle_id: handle,
      transaction: 'reg-1',
      body: { request: 'register', username: 'sip:alice@127.0.0.1', secret: 'x', proxy: `sip:127.0.0.1:${port}` },
    });
    expect(registering.json).toMatchObject({ janus: 'event', transaction: 'reg-1' });
    const failed = await events.waitForMessage((m) => JSON.stringify(m.json).includes('registration_failed'));
    const h = headerMap(failed.headers);
    expect(h).toMatchObject({
      'Janus-Id': 'sip1',
      'Janus-Type': 'event',
      'Janus-Handle': String(handle),
      'Janus-Plugin': 'janus.plugin.sip',
    });
    expect(h).not.toHaveProperty('Janus-Transaction');
    events.stop();
  });
});

describe('typed subjects', () => {
  it('puts each type on its own subject, plugin events under .plugin.<name>', async () => {
    const events = await collect('janus.event.ty1.>');
    await bridge('ty1', { events: { subjects: 'typed' } });
    const handle = await attach('ty1', 'janus.plugin.echotest');
    client.publish('janus.request.ty1', {
      janus: 'message',
      handle_id: handle,
      body: { audio: true },
      transaction: 'typed-1',
    });
    const pluginEvent = await events.waitForMessage(
      (m) => (m.json.janus_body as { transaction?: string }).transaction === 'typed-1',
    );
    expect(pluginEvent.subject).toBe('janus.event.ty1.plugin.janus_plugin_echotest');
    await client.request('janus.request.ty1', { janus: 'detach', handle_id: handle });
    const detached = await events.waitForMessage((m) => (m.json.janus_body as { janus: string }).janus === 'detached');
    expect(detached.subject).toBe('janus.event.ty1.detached');
    events.stop();
  });
});

describe('subjects by handle', () => {
  it("routes a handle's events to its own subject, so a subscriber of one handle gets none of another's", async () => {
    await bridge('hs1', { events: { subjects: 'handle' } });
    const [first, second] = [
      await attach('hs1', 'janus.plugin.echotest'),
      await attach('hs1', 'janus.plugin.echotest'),
    ];
    const ofFirst = await collect(`janus.event.hs1.handle.${first}`);
    const everything = await collect('janus.event.hs1.>');
    const flat = await collect('janus.event.hs1');
    for (const [handle, tag] of [
      [first, 'one'],
      [second, 'two'],
    ] as const) {
      client.publish('janus.request.hs1', {
        janus: 'message',
        handle_id: handle,
        body: { audio: true },
        transaction: `hs-${tag}`,
      });
    }
    client.publish('janus.request.hs1', { janus: 'ping', transaction: 'hs-session' });
    await everything.waitForMessage((m) => (m.json.janus_body as { transaction?: string }).transaction === 'hs-two');
    const sessionLevel = await everything.waitForMessage(
      (m) => (m.json.janus_body as { transaction?: string }).transaction === 'hs-session',
    );
    expect(sessionLevel.subject).toBe('janus.event.hs1.session');
    const own = await ofFirst.waitForMessage(
      (m) => (m.json.janus_body as { transaction?: string }).transaction === 'hs-one',
    );
    expect(own.headers?.get('Janus-Handle')).toBe(String(first));
    await client.request('janus.request.hs1', { janus: 'detach', handle_id: first });
    const detached = await ofFirst.waitForMessage((m) => (m.json.janus_body as { janus: string }).janus === 'detached');
    expect(detached.subject).toBe(`janus.event.hs1.handle.${first}`);
    await client.nc.flush();
    expect(ofFirst.messages.every((m) => m.headers?.get('Janus-Handle') === String(first))).toBe(true);
    expect(ofFirst.messages.some((m) => (m.json.janus_body as { transaction?: string }).transaction === 'hs-two')).toBe(
      false,
    );
    expect(flat.messages).toHaveLength(0);
    for (const c of [ofFirst, everything, flat]) c.stop();
  });
});

describe('JetStream capture', () => {
  it('captures status messages when asked: a service that was away learns its session was replaced', async () => {
    const b = await startBridge({
      nats: { servers: [nats.url], subjectPrefix: 'cs' },
      connections: [{ janus_id: 'cs1', janus_url: janus.url }],
      events: { stream: { enabled: true, name: 'STATUS_CAPTURE_TEST', storage: 'memory', captureStatus: true } },
    });
    running.push(b);
    await eventually(() => b.daemon.connectionStats('cs1')?.state === 'ready', 10_000, 'ready');
    const jsm = await client.nc.jetstreamManager();
    const info = await jsm.streams.info('STATUS_CAPTURE_TEST');
    expect(info.config.subjects).toEqual(['cs.event.>', 'cs.status.>']);
    await eventually(
      async () => (await jsm.streams.info('STATUS_CAPTURE_TEST')).state.messages >= 1,
      5_000,
      'status stored',
    );
    const stored = await jsm.streams.getMessage('STATUS_CAPTURE_TEST', { last_by_subj: 'cs.status.cs1' });
    expect(stored.json<{ janus_id: string; state: string }>()).toMatchObject({ janus_id: 'cs1', state: 'connected' });
  });

  it('a durable consumer away across a daemon restart gets all 1,000 events, in order, none twice', async () => {
    const config = {
      events: { stream: { enabled: true, name: 'DURABLE_TEST', storage: 'memory' as const } },
      nats: { servers: [nats.url], subjectPrefix: 'dur' },
    };
    const live = await collect('dur.event.d1');
    const jsm = await client.nc.jetstreamManager();
    const produce = async (b: TestBridge, from: number, to: number): Promise<void> => {
      const handle = (
        (await client.request('dur.request.d1', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as {
          id: number;
        }
      ).id;
      for (let i = from; i < to; i++) {
        client.publish('dur.request.d1', {
          janus: 'message',
          handle_id: handle,
          body: { audio: true },
          transaction: `d-${i}`,
        });
        if (i % 50 === 49) await client.nc.flush();
      }
      await eventually(
        () => live.messages.filter((m) => String(m.headers?.get('Janus-Transaction')).startsWith('d-')).length >= to,
        15_000,
        `${to} events published`,
      );
      void b;
    };
    const first = await startBridge({ ...config, connections: [{ janus_id: 'd1', janus_url: janus.url }] });
    await eventually(() => first.daemon.connectionStats('d1')?.state === 'ready', 5000, 'ready');
    await eventually(
      async () => (await jsm.streams.info('DURABLE_TEST').catch(() => undefined)) !== undefined,
      5000,
      'stream created',
    );
    // The consumer exists, then goes away (nothing pulls) while the events are produced.
    await jsm.consumers.add('DURABLE_TEST', { durable_name: 'billing', ack_policy: AckPolicy.Explicit });
    await produce(first, 0, 500);
    await first.stop();
    const second = await startBridge({ ...config, connections: [{ janus_id: 'd1', janus_url: janus.url }] });
    running.push(second);
    await eventually(() => second.daemon.connectionStats('d1')?.state === 'ready', 5000, 'ready again');
    await produce(second, 500, 1000);
    await second.daemon.events.flush(5000);

    const consumer = await client.nc.jetstream().consumers.get('DURABLE_TEST', 'billing');
    const received: string[] = [];
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
      let count = 0;
      for await (const msg of batch) {
        count++;
        const transaction = msg.headers?.get('Janus-Transaction') ?? '';
        if (transaction.startsWith('d-')) received.push(transaction);
        msg.ack();
      }
      if (count === 0) break;
    }
    const publishedOrder = live.messages
      .map((m) => m.headers?.get('Janus-Transaction') ?? '')
      .filter((t) => t.startsWith('d-'));
    console.log(`durable: ${received.length} events received by the durable consumer`);
    expect(received).toHaveLength(1000);
    expect(new Set(received).size).toBe(1000);
    expect(received).toEqual(publishedOrder);
    live.stop();
  }, 60_000);

  it('counts events a full stream refuses; requests keep their latency; the configuration is reported', async () => {
    const jsm = await client.nc.jetstreamManager();
    await jsm.streams.add({
      name: 'SMALL_TEST',
      subjects: ['bp.event.>'],
      max_bytes: 8 * 1024,
      discard: DiscardPolicy.New,
      storage: StorageType.Memory,
    });
    const bridged = await startBridge({
      nats: { servers: [nats.url], subjectPrefix: 'bp' },
      events: { stream: { enabled: true, name: 'SMALL_TEST', storage: 'memory' } },
      connections: [{ janus_id: 'bp1', janus_url: janus.url }],
    });
    running.push(bridged);
    await eventually(() => bridged.daemon.connectionStats('bp1')?.state === 'ready', 5000, 'ready');
    await eventually(
      () => bridged.logs().some((l) => String(l.msg).includes('exists with another configuration')),
      5000,
      'difference reported',
    );
    const report = bridged.logs().find((l) => String(l.msg).includes('exists with another configuration'))!;
    expect(JSON.stringify(report.differences)).toContain('max_bytes 8192');

    const ping = async (): Promise<number> => (await client.request('bp.request.bp1', { janus: 'ping' })).ms;
    const baseline: number[] = [];
    for (let i = 0; i < 100; i++) baseline.push(await ping());
    const handle = (
      (await client.request('bp.request.bp1', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as {
        id: number;
      }
    ).id;
    const produced = 300;
    const during: number[] = [];
    for (let i = 0; i < produced; i++) {
      client.publish('bp.request.bp1', {
        janus: 'message',
        handle_id: handle,
        body: { audio: true },
        transaction: `bp-${i}`,
      });
      if (i % 3 === 0) during.push(await ping());
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(
      `back-pressure: ping p50 ${median(baseline).toFixed(2)} ms before, ${median(during).toFixed(2)} ms while ` +
        `JetStream refuses events`,
    );
    expect(median(during)).toBeLessThan(Math.max(median(baseline) * 3, median(baseline) + 5));
    const sink = bridged.daemon.events;
    await eventually(
      () => sink.stats().published! + sink.stats().refused! >= produced,
      10_000,
      'every event accounted for',
    );
    expect(sink.stats().refused).toBeGreaterThan(0);
    const metrics = await (await fetch(`http://127.0.0.1:${bridged.daemon.httpPort}/metrics`)).text();
    const refusedLine = metrics
      .split('\n')
      .find((l) => l.startsWith('janus_bridge_events_dropped_total') && l.includes('reason="refused"'));
    expect(Number(refusedLine?.split(' ').pop())).toBe(sink.stats().refused);
    await eventually(
      () => bridged.logs().some((l) => String(l.msg).includes('refused by the event stream')),
      7000,
      'refusals logged',
    );
  }, 30_000);

  it('without JetStream, events wait in a bounded buffer, the overflow is counted, requests are served', async () => {
    const plain = await startNats();
    running.push(plain);
    const plainClient = await Client.connect(plain.url);
    running.push({ stop: () => plainClient.close() });
    const bridged = await startBridge({
      nats: { servers: [plain.url], subjectPrefix: 'nojs' },
      events: { stream: { enabled: true, name: 'NOJS', bufferSize: 20 } },
      connections: [{ janus_id: 'n1', janus_url: janus.url }],
    });
    running.push(bridged);
    await eventually(() => bridged.daemon.connectionStats('n1')?.state === 'ready', 5000, 'ready');
    const handle = (
      (await plainClient.request('nojs.request.n1', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json
        .data as { id: number }
    ).id;
    for (let i = 0; i < 50; i++)
      plainClient.publish('nojs.request.n1', { janus: 'message', handle_id: handle, body: { audio: true } });
    await plainClient.nc.flush();
    await eventually(() => bridged.daemon.events.stats().dropped! >= 30, 5000, 'overflow counted');
    const reply = await plainClient.request('nojs.request.n1', { janus: 'ping' });
    expect(reply.json).toEqual({ janus: 'pong' });
    expect(reply.ms).toBeLessThan(100);
    await eventually(
      () => bridged.logs().some((l) => String(l.msg).includes('events dropped: JetStream is too slow or away')),
      7000,
      'drops logged',
    );
  }, 20_000);
});
