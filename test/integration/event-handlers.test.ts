/**
 * Janus's WebSocket event handler (wsevh) to NATS: real Janus processes with wsevh enabled
 * (scripts/janus-local.sh, JANUS_EVH_BACKEND) dialling the daemon's endpoint, a real
 * nats-server with JetStream, the daemon in-process. Malformed messages come from a fake
 * sender (a plain `ws` client): Janus never sends them. Local processes only (a container's
 * Janus would dial its own loopback).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { selected } from '../support/environment.js';
import {
  Client,
  eventually,
  logStory,
  startBridge,
  testConfig,
  type Collector,
  type TestBridge,
} from '../support/bridge.js';
import { freePort, startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

const SECRET = 'evh-s3cret+/=';
const EMITTER = 'MyJanusInstance';

let nats: NatsServer;
let client: Client;
const running: Array<{ stop(): Promise<unknown> }> = [];

beforeAll(async () => {
  if (selected() === 'containers') return;
  nats = await startNats(undefined, ['-js', '-sd', mkdtempSync(join(tmpdir(), 'jnb-evh-js-'))]);
  client = await Client.connect(nats.url);
});

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

afterAll(async () => {
  await client?.close();
  await nats?.stop();
});

interface Ports {
  evh: number;
  ws: number;
  admin: number;
}

async function ports(): Promise<Ports> {
  return { evh: await freePort(), ws: await freePort(), admin: await freePort() };
}

/** wsevh's `backend`: the secret (none for null) in the query, as the daemon expects it. */
function backend(port: number, path: string, secret: string | null = SECRET): string {
  return `ws://127.0.0.1:${port}/${path}${secret === null ? '' : `?secret=${encodeURIComponent(secret)}`}`;
}

async function bridge(ids: string[], p: Ports, values: Record<string, unknown> = {}): Promise<TestBridge> {
  const { eventHandler, ...rest } = values as { eventHandler?: Record<string, unknown> };
  const started = await startBridge({
    nats: { servers: [nats.url] },
    connections: ids.map((id) => ({ janus_id: id, janus_url: `janusws://127.0.0.1:${p.ws}/janus` })),
    eventHandler: { port: p.evh, host: '127.0.0.1', secret: SECRET, ...eventHandler },
    ...rest,
  });
  running.push(started);
  return started;
}

async function janusFor(p: Ports, eventHandlerBackend: string): Promise<JanusServer> {
  const janus = await startJanus({ wsPort: p.ws, adminPort: p.admin, eventHandlerBackend });
  running.push(janus);
  return janus;
}

async function collect(subject: string): Promise<Collector> {
  const collector = client.collect(subject);
  await client.nc.flush();
  running.push({ stop: async () => collector.stop() });
  return collector;
}

function headerMap(headers: MsgHdrs | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const key of headers?.keys() ?? []) map[key] = headers!.get(key);
  return map;
}

type Message = Collector['messages'][number];
const body = (m: Message): { type: number; session_id?: number; handle_id?: number; event: Record<string, unknown> } =>
  m.json as never;

async function metricsText(bridged: TestBridge): Promise<string> {
  return (await fetch(`http://127.0.0.1:${bridged.daemon.httpPort}/metrics`)).text();
}

function refusedLines(bridged: TestBridge): Array<Record<string, unknown>> {
  return bridged.logs().filter((l) => String(l.msg).startsWith('event-handler connection refused'));
}

/** The HTTP status a WebSocket upgrade gets (101 when it opens). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'janus-event-handlers');
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

/** A fake wsevh sender: opens the link like wsevh does. */
async function fakeSender(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, 'janus-event-handlers');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  running.push({ stop: async () => ws.terminate() });
  return ws;
}

/** A plain Janus API client on Janus's own WebSocket (what happens while no bridge runs). */
async function janusApi(
  url: string,
): Promise<{ request(body: Record<string, unknown>): Promise<Record<string, unknown>>; close(): void }> {
  const ws = new WebSocket(url.replace(/^janusws:/, 'ws:'), 'janus-protocol');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const waiting = new Map<string, (answer: Record<string, unknown>) => void>();
  ws.on('message', (data) => {
    const answer = JSON.parse(data.toString()) as Record<string, unknown>;
    waiting.get(String(answer.transaction))?.(answer);
  });
  let n = 0;
  return {
    request: (request) =>
      new Promise((resolve) => {
        const transaction = `t${++n}`;
        waiting.set(transaction, resolve);
        ws.send(JSON.stringify({ ...request, transaction }));
      }),
    close: () => ws.close(),
  };
}

describe.skipIf(selected() === 'containers')('Janus event handlers (wsevh) to NATS', () => {
  it('core at Janus start, session and handle on create/attach/detach, with headers, a message per event', async () => {
    const p = await ports();
    const events = await collect('janus.evh.evh1.>');
    const bridged = await bridge(['evh1'], p);
    const janus = await janusFor(p, backend(p.evh, 'evh1'));

    const core = await events.waitForMessage(
      (m) => m.subject === 'janus.evh.evh1.core' && body(m).event.status === 'started',
      15_000,
    );
    expect(body(core)).toMatchObject({
      emitter: EMITTER,
      type: 256,
      subtype: 1,
      event: { status: 'started', info: { janus: 'server_info' } },
    });
    const coreHeaders = headerMap(core.headers);
    expect(coreHeaders).toMatchObject({ 'Janus-Id': 'evh1', 'Janus-Evh-Type': 'core', 'Janus-Emitter': EMITTER });
    expect(coreHeaders['Janus-Session']).toBeUndefined();
    expect(coreHeaders['Nats-Msg-Id']).toMatch(/^[0-9a-f]{12}-evh1-[0-9a-z]+$/);
    // Compact JSON, whatever layout Janus used (its Debian default is indented): each element re-serialised.
    expect(core.json).toEqual(JSON.parse(JSON.stringify(core.json)));

    // The bridge creates its own session: Janus reports it (create itself is refused to clients, 604).
    await eventually(() => bridged.daemon.connectionStats('evh1')?.state === 'ready', 15_000, 'evh1 ready');
    const sessionId = bridged.daemon.connectionStats('evh1')!.sessionId!;
    const created = await events.waitForMessage(
      (m) =>
        m.subject === 'janus.evh.evh1.session' && body(m).session_id === sessionId && body(m).event.name === 'created',
    );
    expect(headerMap(created.headers)).toMatchObject({
      'Janus-Id': 'evh1',
      'Janus-Evh-Type': 'session',
      'Janus-Session': String(sessionId),
      'Janus-Emitter': EMITTER,
    });
    expect(headerMap(created.headers)['Janus-Handle']).toBeUndefined();

    const attached = await client.request('janus.request.evh1', { janus: 'attach', plugin: 'janus.plugin.echotest' });
    const handleId = (attached.json.data as { id: number }).id;
    const attachEvent = await events.waitForMessage(
      (m) =>
        m.subject === 'janus.evh.evh1.handle' && body(m).handle_id === handleId && body(m).event.name === 'attached',
    );
    expect(body(attachEvent)).toMatchObject({
      type: 2,
      session_id: sessionId,
      event: { plugin: 'janus.plugin.echotest' },
    });
    expect(headerMap(attachEvent.headers)).toMatchObject({
      'Janus-Evh-Type': 'handle',
      'Janus-Session': String(sessionId),
      'Janus-Handle': String(handleId),
    });

    await client.request('janus.request.evh1', { janus: 'detach', handle_id: handleId });
    const detachEvent = await events.waitForMessage(
      (m) =>
        m.subject === 'janus.evh.evh1.handle' && body(m).handle_id === handleId && body(m).event.name === 'detached',
    );
    expect(headerMap(detachEvent.headers)['Janus-Handle']).toBe(String(handleId));

    // Every subject matches the body's type, and every message id is unique.
    const names: Record<number, string> = {
      1: 'session',
      2: 'handle',
      4: 'external',
      8: 'jsep',
      16: 'webrtc',
      32: 'media',
      64: 'plugin',
      128: 'transport',
      256: 'core',
    };
    for (const m of events.messages) expect(m.subject).toBe(`janus.evh.evh1.${names[body(m).type] ?? 'other'}`);
    const ids = events.messages.map((m) => m.headers?.get('Nats-Msg-Id'));
    expect(new Set(ids).size).toBe(ids.length);

    const tally = bridged.daemon.eventHandlers!.tallies.of('evh1');
    await eventually(
      () => tally.published === tally.received && tally.published >= events.messages.length,
      5000,
      'all published',
    );
    expect(tally.links).toBe(1);
    const text = await metricsText(bridged);
    expect(text).toMatch(/^janus_bridge_evh_links\{janus_id="evh1"\} 1$/m);
    expect(text).toMatch(
      new RegExp(`^janus_bridge_evh_events_published_total\\{janus_id="evh1"\\} ${tally.published}$`, 'm'),
    );
    expect(text).toMatch(
      new RegExp(`^janus_bridge_evh_events_received_total\\{janus_id="evh1"\\} ${tally.received}$`, 'm'),
    );
    expect(text).toMatch(/^janus_bridge_evh_events_dropped_total\{janus_id="evh1",reason="malformed"\} 0$/m);
    console.log(
      `[evh] Janus ${janus.pid}: ${events.messages.length} events on NATS ` +
        `(${[...new Set(events.messages.map((m) => m.subject.split('.').pop()))].join(', ')})`,
    );
  });

  it('refuses an unknown janus_id (404), a wrong secret (401): counted each time, logged once, no secret', async () => {
    const p = await ports();
    const wrong = await ports();
    const unknown = await ports();
    const bridged = await bridge(['evh2', 'evh2b', 'evh2c'], p);
    // Two real Janus: one with a wrong secret, one naming an id not in the list; wsevh retries after 1, 2, 4, 8 s.
    await Promise.all([
      startJanus({
        wsPort: wrong.ws,
        adminPort: wrong.admin,
        eventHandlerBackend: backend(p.evh, 'evh2', 'not-the-secret'),
      }).then((j) => running.push(j)),
      startJanus({ wsPort: unknown.ws, adminPort: unknown.admin, eventHandlerBackend: backend(p.evh, 'nope') }).then(
        (j) => running.push(j),
      ),
    ]);
    const { refusals } = bridged.daemon.eventHandlers!.tallies;
    await eventually(
      () => refusals.unauthorized >= 2 && refusals.unknown_janus_id >= 2,
      10_000,
      'two attempts of each refused',
    );
    expect(bridged.daemon.eventHandlers!.endpoint.linkCount).toBe(0);
    const lines = refusedLines(bridged);
    expect(lines.filter((l) => l.reason === 'unauthorized')).toHaveLength(1);
    expect(lines.filter((l) => l.reason === 'unknown_janus_id')).toHaveLength(1);
    expect(lines.find((l) => l.reason === 'unknown_janus_id')).toMatchObject({
      status: 404,
      janus_id: 'nope',
      path: '/nope',
    });
    expect(lines.find((l) => l.reason === 'unauthorized')).toMatchObject({ status: 401, path: '/evh2' });
    expect(JSON.stringify(bridged.logs())).not.toContain('not-the-secret');
    expect(JSON.stringify(bridged.logs())).not.toContain(encodeURIComponent(SECRET));

    // The exact answers, from a plain client.
    const url = (path: string, secret: string | null = SECRET): string => backend(p.evh, path, secret);
    expect(await upgradeStatus(url('evh2b', null))).toBe(401);
    expect(await upgradeStatus(url('evh2b', ''))).toBe(401);
    expect(await upgradeStatus(url('nope2'))).toBe(404);
    expect(await upgradeStatus(url('evh2b/extra'))).toBe(404);
    expect(await upgradeStatus(url('evh2c'))).toBe(101);
    const plain = await fetch(`http://127.0.0.1:${p.evh}/evh2b`);
    expect(plain.status).toBe(426);

    const text = await metricsText(bridged);
    expect(
      Number(/^janus_bridge_evh_refused_total\{reason="unauthorized"\} (\d+)$/m.exec(text)?.[1]),
    ).toBeGreaterThanOrEqual(4);
    expect(
      Number(/^janus_bridge_evh_refused_total\{reason="unknown_janus_id"\} (\d+)$/m.exec(text)?.[1]),
    ).toBeGreaterThanOrEqual(4);
  });

  it('with JetStream capture, stores each event once, in the order Janus sent them', async () => {
    const p = await ports();
    const stream = 'EVH_CAPTURE_TEST';
    const events = await collect('janus.evh.evh3.>');
    const bridged = await bridge(['evh3'], p, {
      eventHandler: { stream: { enabled: true, name: stream, storage: 'memory' } },
    });
    await janusFor(p, backend(p.evh, 'evh3'));
    await eventually(() => bridged.daemon.connectionStats('evh3')?.state === 'ready', 15_000, 'evh3 ready');
    for (let i = 0; i < 20; i++) {
      const handleId = (
        (await client.request('janus.request.evh3', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json
          .data as { id: number }
      ).id;
      await client.request('janus.request.evh3', { janus: 'detach', handle_id: handleId });
    }
    const tally = bridged.daemon.eventHandlers!.tallies.of('evh3');
    await eventually(
      () => events.messages.filter((m) => body(m).event.name === 'detached').length === 20,
      10_000,
      '20 detached events',
    );
    await eventually(() => tally.published === tally.received, 10_000, 'every event acknowledged');

    const jsm = await client.nc.jetstreamManager();
    const info = await jsm.streams.info(stream);
    expect(info.config.subjects).toEqual(['janus.evh.>']);
    expect(info.state.messages).toBe(tally.published);
    const stored: Array<{ subject: string; id: string; type: number }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      stored.push({ subject: m.subject, id: m.header.get('Nats-Msg-Id'), type: (m.json() as { type: number }).type });
    }
    const ids = stored.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    // One link: the message ids' sequence is the order Janus sent the events in.
    const sequence = ids.map((id) => parseInt(id.slice(id.lastIndexOf('-') + 1), 36));
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    expect(sequence[0]).toBe(1);
    expect(sequence.at(-1)).toBe(stored.length);
    // Plain subscribers saw the same events, in the same order.
    expect(events.messages.map((m) => m.headers?.get('Nats-Msg-Id'))).toEqual(ids);

    // The same Nats-Msg-Id again (what the sink sends after a lost acknowledgement) is not stored twice.
    const first = await jsm.streams.getMessage(stream, { seq: info.state.first_seq });
    const h = natsHeaders();
    h.set('Nats-Msg-Id', ids[0]!);
    const ack = await client.nc.jetstream().publish(first.subject, first.data, { msgID: ids[0]!, headers: h });
    expect(ack.duplicate).toBe(true);
    expect((await jsm.streams.info(stream)).state.messages).toBe(stored.length);
  });

  it('drops and counts malformed messages from a fake sender; the link and the daemon stay up', async () => {
    const p = await ports();
    const events = await collect('janus.evh.evh4.>');
    const bridged = await bridge(['evh4'], p, { eventHandler: { maxMessageBytes: 4096 } });
    const ws = await fakeSender(backend(p.evh, 'evh4'));
    const event = (name: string) => ({ emitter: 'fake', type: 1, timestamp: 1, session_id: 77, event: { name } });
    ws.send('not json');
    ws.send('42');
    ws.send(JSON.stringify([event('first'), 7, 'x', event('second')]));
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    ws.send(JSON.stringify(event('single')));
    ws.send(JSON.stringify({ type: 'weird', event: {} }));
    await events.waitFor((json) => (json.event as { name?: string } | undefined)?.name === 'single');
    await eventually(() => events.messages.length === 4, 5000, 'four events');
    expect(events.messages.map((m) => m.subject)).toEqual([
      'janus.evh.evh4.session',
      'janus.evh.evh4.session',
      'janus.evh.evh4.session',
      'janus.evh.evh4.other',
    ]);
    const tally = bridged.daemon.eventHandlers!.tallies.of('evh4');
    expect(tally).toMatchObject({ received: 9, published: 4, links: 1, dropped: { malformed: 5 } });
    const warnings = bridged
      .logs()
      .filter((l) => String(l.msg).includes('malformed') || String(l.msg).includes('not a JSON event'));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(warnings)).not.toContain('not json');

    // Larger than eventHandler.maxMessageBytes: the link is closed (1009), the daemon goes on.
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify([{ type: 1, event: { name: 'x'.repeat(5000) } }]));
    expect(await closed).toBe(1009);
    await eventually(() => tally.links === 0, 5000, 'link gone');
    const again = await fakeSender(backend(p.evh, 'evh4'));
    again.send(JSON.stringify([event('after')]));
    await events.waitFor((json) => (json.event as { name?: string } | undefined)?.name === 'after');
    const status = await client.request('janus.admin.status', '');
    expect(status.json).toHaveProperty('connections');
    expect(await metricsText(bridged)).toMatch(
      /^janus_bridge_evh_events_dropped_total\{janus_id="evh4",reason="malformed"\} 5$/m,
    );
  });

  it('a burst far beyond what NATS may hold unconfirmed: the links wait, nothing is dropped, order kept', async () => {
    const p = await ports();
    const events = await collect('janus.evh.evh8.>');
    // 256 KiB unconfirmed at most, confirmed every 100 ms (a quarter of the stall timeout).
    const bridged = await bridge(['evh8'], p, {
      nats: { servers: [nats.url], maxPendingBytes: 262144, stallTimeout: 400 },
    });
    const ws = await fakeSender(backend(p.evh, 'evh8'));
    const total = 2000;
    for (let i = 0; i < total / 100; i++) {
      ws.send(
        JSON.stringify(
          Array.from({ length: 100 }, (_, j) => ({
            type: 32,
            subtype: 3,
            session_id: 1,
            handle_id: 2,
            event: { n: i * 100 + j, pad: 'x'.repeat(400) },
          })),
          null,
          3,
        ),
      );
    }
    await eventually(() => events.messages.length === total, 30_000, `${total} events`);
    const tally = bridged.daemon.eventHandlers!.tallies.of('evh8');
    expect(tally).toMatchObject({ received: total, published: total, dropped: { nats_unavailable: 0, malformed: 0 } });
    expect(bridged.daemon.eventHandlers!.endpoint.pauses).toBeGreaterThan(0);
    expect(events.messages.map((m) => (body(m).event as { n: number }).n)).toEqual(
      Array.from({ length: total }, (_, n) => n),
    );
    const bytes = events.messages.reduce((sum, m) => sum + JSON.stringify(m.json).length, 0);
    console.log(
      `[evh] ${total} events, ${Math.round(bytes / 1024)} KiB of bodies against a 256 KiB bound: the links were ` +
        `paused ${bridged.daemon.eventHandlers!.endpoint.pauses} times, nothing dropped`,
    );
  });

  it('a daemon restarted while Janus runs: Janus reconnects by itself and sends what happened meanwhile', async () => {
    const p = await ports();
    const events = await collect('janus.evh.evh5.>');
    const first = await bridge(['evh5'], p);
    const janus = await janusFor(p, backend(p.evh, 'evh5'));
    await eventually(() => first.daemon.connectionStats('evh5')?.state === 'ready', 15_000, 'evh5 ready');
    const oldSession = first.daemon.connectionStats('evh5')!.sessionId!;
    await events.waitForMessage((m) => body(m).session_id === oldSession && body(m).event.name === 'created');

    await first.stop();
    running.splice(running.indexOf(first), 1);
    const closeLine = first.logs().find((l) => l.msg === 'event-handler link closed');
    expect(closeLine).toMatchObject({ janus_id: 'evh5' });

    // While no bridge listens: a session created on Janus directly. wsevh keeps its events.
    const direct = await janusApi(janus.url);
    const made = await direct.request({ janus: 'create' });
    const meanwhile = (made.data as { id: number }).id;
    await new Promise((r) => setTimeout(r, 500));

    const restartedAt = Date.now();
    const second = await bridge(['evh5'], p);
    const tally = second.daemon.eventHandlers!.tallies.of('evh5');
    await eventually(() => tally.links === 1, 20_000, 'Janus reconnected');
    const reconnectMs = Date.now() - restartedAt;
    // What happened while no bridge listened: the old session destroyed by the first daemon's shutdown, the one created
    // meanwhile.
    const destroyed = await events.waitForMessage(
      (m) => body(m).session_id === oldSession && body(m).event.name === 'destroyed',
      10_000,
    );
    const createdMeanwhile = await events.waitForMessage(
      (m) => body(m).session_id === meanwhile && body(m).event.name === 'created',
      10_000,
    );
    const secondLink = createdMeanwhile.headers!.get('Nats-Msg-Id').split('-')[0];
    // And what happens now flows too.
    await eventually(() => second.daemon.connectionStats('evh5')?.state === 'ready', 15_000, 'evh5 ready again');
    const handleId = (
      (await client.request('janus.request.evh5', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as {
        id: number;
      }
    ).id;
    await events.waitForMessage((m) => body(m).handle_id === handleId && body(m).event.name === 'attached');
    await direct.request({ janus: 'destroy', session_id: meanwhile });
    direct.close();
    const via =
      destroyed.headers!.get('Nats-Msg-Id').split('-')[0] === secondLink
        ? 'the new link'
        : 'the old link, before it closed';
    console.log(
      `[evh] Janus reconnected its event handler ${reconnectMs} ms after the new daemon started (old link closed ` +
        `with ${String(closeLine?.code)}); the old session's "destroyed" came through ${via}`,
    );
  });

  it('a janus_id a reload removes: its link is closed, its series go, it is refused from then on', async () => {
    const p = await ports();
    const listOf = (ids: string[]) =>
      ids.map((id) => ({ janus_id: id, janus_url: `janusws://127.0.0.1:${p.ws}/janus` }));
    let ids = ['evh7', 'evh7b'];
    const values = () => ({
      nats: { servers: [nats.url] },
      connections: listOf(ids),
      eventHandler: { port: p.evh, host: '127.0.0.1', secret: SECRET },
    });
    const bridged = await startBridge(values(), { rereadConfig: () => ({ ok: true, config: testConfig(values()) }) });
    running.push(bridged);
    const ws = await fakeSender(backend(p.evh, 'evh7'));
    ws.send(JSON.stringify([{ type: 256, event: { status: 'started' } }]));
    await eventually(
      async () => /janus_bridge_evh_links\{janus_id="evh7"\} 1/.test(await metricsText(bridged)),
      5000,
      'evh7 link counted',
    );
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ids = ['evh7b'];
    expect(await bridged.daemon.reload('test')).toMatchObject({ ok: true, removed: ['evh7'] });
    expect(await closed).toBe(1008);
    expect(await metricsText(bridged)).not.toContain('janus_id="evh7"');
    expect(await upgradeStatus(backend(p.evh, 'evh7'))).toBe(404);
    expect(await upgradeStatus(backend(p.evh, 'evh7b'))).toBe(101);
  });

  it('any replica takes the link: one that does not serve the connection still publishes its events', async () => {
    const p = await ports();
    const other = await ports();
    const events = await collect('jr.evh.evh6.>');
    // The default lease TTL: what this proves is the link, and a replica fenced by a loaded machine (0.7 TTL
    // without a heartbeat) would stop serving between two steps.
    const values = (replicaId: string) => ({
      nats: { servers: [nats.url], subjectPrefix: 'jr' },
      ha: { enabled: true, replicaId, handoverTimeout: 1 },
    });
    const owner = await bridge(['evh6'], other, values('owner'));
    const replicas: Record<string, TestBridge> = { owner };
    onTestFailed(() => {
      for (const [name, replica] of Object.entries(replicas)) console.log(`[${name}]\n${logStory(replica)}`);
    });
    await eventually(() => owner.daemon.connectionStats('evh6') !== undefined, 15_000, 'owner holds the lease');
    // The second replica's endpoint is the one Janus dials: it owns nothing.
    const listener = await bridge(['evh6'], { ...p, ws: other.ws }, values('listener'));
    replicas.listener = listener;
    await janusFor({ ...p, ws: other.ws, admin: other.admin }, backend(p.evh, 'evh6'));
    await eventually(() => owner.daemon.connectionStats('evh6')?.state === 'ready', 15_000, 'owner serving');
    await events.waitForMessage((m) => m.subject === 'jr.evh.evh6.core', 15_000);
    expect(listener.daemon.connectionStats('evh6')).toBeUndefined();
    expect(listener.daemon.eventHandlers!.endpoint.linkCount).toBe(1);
    const handleId = (
      (await client.request('jr.request.evh6', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as {
        id: number;
      }
    ).id;
    await events.waitForMessage((m) => body(m).handle_id === handleId && body(m).event.name === 'attached');
  });
});
