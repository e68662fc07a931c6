/**
 * JanusNats and Handle against a real Janus, a real nats-server and the real daemon (in process):
 * requests and their answers, errors as classes, the timeout header, handle events in flat and
 * per-handle mode, handles picked up by id from another instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import { eventually, startBridge, type TestBridge } from '../../../test/support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../../../test/support/processes.js';
import {
  BridgeError,
  Handle,
  HandleEndedError,
  JanusError,
  JanusNats,
  JanusNatsError,
  NoRespondersError,
  TimeoutError,
  type HandleEvent,
  type PluginHandle,
} from '../src/index.js';

let nats: NatsServer;
let janusServer: JanusServer;
let bridge: TestBridge;
let nc: NatsConnection;
let janus: JanusNats;

beforeAll(async () => {
  [nats, janusServer] = await Promise.all([startNats(), startJanus()]);
  bridge = await startBridge({
    nats: { servers: [nats.url] },
    janus: { cmdTimeout: 5000 },
    connections: [{ janus_id: 'local', janus_url: janusServer.url }],
  });
  nc = await connect({ servers: nats.url });
  janus = new JanusNats(nc, 'local');
  await eventually(
    () => bridge.daemon.connectionStats('local')?.state === 'ready',
    10_000,
    'bridge connected to Janus',
  );
});

afterAll(async () => {
  await nc?.close();
  await bridge?.stop();
  await Promise.all([janusServer?.stop(), nats?.stop()]);
});

/** The subjects this connection subscribes to now (nats.js internals, for counting only). */
function subscribedSubjects(conn: NatsConnection): string[] {
  const subs = (
    conn as unknown as { protocol: { subscriptions: { all(): Array<{ subject: string }> } } }
  ).protocol.subscriptions.all();
  return subs.map((s) => s.subject);
}

/** Collects a handle's events in the background. */
function collect<T>(iterable: AsyncIterable<HandleEvent<T>>): { events: Array<HandleEvent<T>>; done: Promise<void> } {
  const events: Array<HandleEvent<T>> = [];
  const done = (async () => {
    for await (const e of iterable) events.push(e);
  })();
  return { events, done };
}

/**
 * Makes Janus send `handle` an event no request waits for:
 * a fire-and-forget echotest message, answered on the event subject.
 */
function fireAndForget(handleId: number, transaction: string): void {
  nc.publish(
    'janus.request.local',
    JSON.stringify({ janus: 'message', handle_id: handleId, body: { audio: true }, transaction }),
  );
}

describe('requests', () => {
  it('info returns server_info as Janus sent it, ping resolves on pong', async () => {
    const info = await janus.info();
    expect(info.janus).toBe('server_info');
    expect(typeof info.version).toBe('number');
    expect(info.version_string).toMatch(/^\d+\.\d+\.\d+/);
    await expect(janus.ping()).resolves.toBeUndefined();
  });

  it('message resolves with plugindata.data from an asynchronous event answer (echotest)', async () => {
    const echo = await janus.attach('janus.plugin.echotest');
    expect(echo).toBeInstanceOf(Handle);
    expect(echo.plugin).toBe('janus.plugin.echotest');
    const answer = await echo.message({ audio: true });
    expect(answer.data).toMatchObject({ echotest: 'event', result: 'ok' });
    expect(answer.jsep).toBeUndefined();
    await echo.detach();
  });

  it('message resolves the same way from a synchronous success answer (videoroom exists)', async () => {
    const room = await janus.attach('janus.plugin.videoroom');
    const answer = await room.message<{ videoroom: string; exists: boolean; room: number }>({
      request: 'exists',
      room: 4242,
    });
    expect(answer.data).toEqual({ videoroom: 'success', room: 4242, exists: false });
    await room.detach();
  });

  it('a plugin-level error resolves with its data: the request reached the plugin, which answered', async () => {
    const room = await janus.attach('janus.plugin.videoroom');
    const answer = await room.message<{ error_code?: number; error?: string }>({ request: 'no-such-request' });
    expect(typeof answer.data.error_code).toBe('number');
    expect(answer.data.error).toBeTruthy();
    await room.detach();
  });

  it('trickle takes one candidate, several, and null for the end of them', async () => {
    const echo = await janus.attach('janus.plugin.echotest');
    const candidate = {
      candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
      sdpMid: '0',
      sdpMLineIndex: 0,
    };
    await expect(echo.trickle(candidate)).resolves.toBeUndefined();
    await expect(
      echo.trickle([candidate, { ...candidate, candidate: 'candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host' }]),
    ).resolves.toBeUndefined();
    await expect(echo.trickle(null)).resolves.toBeUndefined();
    await expect(echo.trickle({ completed: true })).resolves.toBeUndefined();
    await echo.detach();
  });

  it('hangup leaves the handle alive', async () => {
    const echo = await janus.attach('janus.plugin.echotest');
    await echo.hangup();
    expect(echo.isEnded).toBe(false);
    expect((await echo.message({ audio: true })).data.result).toBe('ok');
    await echo.detach();
  });

  it('attach(PluginClass) wraps the handle in the helper', async () => {
    class Echo {
      static readonly plugin = 'janus.plugin.echotest';
      constructor(readonly handle: PluginHandle) {}
      async audio(on: boolean): Promise<string> {
        return String((await this.handle.message({ audio: on })).data.result);
      }
    }
    const echo = await janus.attach(Echo);
    expect(echo).toBeInstanceOf(Echo);
    expect(echo.handle.plugin).toBe('janus.plugin.echotest');
    expect(await echo.audio(true)).toBe('ok');
    await echo.handle.detach();
  });
});

describe('errors are classes', () => {
  it('an unknown plugin is JanusError 460', async () => {
    const error = await janus.attach('janus.plugin.nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JanusError);
    expect(error).toBeInstanceOf(JanusNatsError);
    expect(error).not.toBeInstanceOf(BridgeError);
    expect((error as JanusError).code).toBe(460);
    expect((error as JanusError).reason).toBeTruthy();
  });

  it('a verb the bridge refuses (create, via the request escape hatch) is BridgeError 604, not retryable', async () => {
    const error = await janus.request({ janus: 'create' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BridgeError);
    expect(error).toMatchObject({ code: 604, name: 'verb_refused', retryable: false });
    expect((error as BridgeError).reason).toContain('create');
  });

  it('the request escape hatch returns the raw answer', async () => {
    const reply = await janus.request({ janus: 'ping', transaction: 'mine' });
    expect(reply).toEqual({ janus: 'pong', transaction: 'mine' });
  });

  it('a janus_id nobody serves is NoRespondersError, at once', async () => {
    const started = performance.now();
    const error = await new JanusNats(nc, 'nobody-serves-this').ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoRespondersError);
    expect((error as NoRespondersError).janusId).toBe('nobody-serves-this');
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('sends the call timeout as Janus-Timeout, waits a second longer: a silent responder is TimeoutError', async () => {
    const seen: string[] = [];
    const silent = nc.subscribe('janus.request.silent', {
      callback: (_err, msg) => {
        seen.push(msg.headers?.get('Janus-Timeout') ?? '');
      },
    });
    await nc.flush();
    const client = new JanusNats(nc, 'silent', { timeout: 300 });
    const started = performance.now();
    const error = await client.ping().catch((e: unknown) => e);
    const waited = performance.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeout).toBe(1300);
    expect(waited).toBeGreaterThanOrEqual(1250);
    expect(waited).toBeLessThan(2000);
    // Its TimeoutError is expected: only the Janus-Timeout it sends matters here.
    await client.ping({ timeout: 50 }).catch(() => undefined);
    expect(seen).toEqual(['300', '50']);
    silent.unsubscribe();
  });

  it('a call on a handle Janus does not know is JanusError 459, and the handle ends', async () => {
    const ghost = await janus.handle(987654321);
    const error = await ghost.message({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JanusError);
    expect((error as JanusError).code).toBe(459);
    expect(await ghost.ended).toMatchObject({ reason: 'detached' });
    await expect(ghost.hangup()).rejects.toBeInstanceOf(HandleEndedError);
  });
});

describe('handle events and lifetime', () => {
  it("events() gets its handle's only; detach: detached, iteration ends, ended resolves, calls refused", async () => {
    const a = await janus.attach('janus.plugin.echotest');
    const b = await janus.attach('janus.plugin.echotest');
    const ofA = collect(a.events());
    const ofB = collect(b.events());
    fireAndForget(a.id, 'ff-a');
    fireAndForget(b.id, 'ff-b');
    await eventually(() => ofA.events.length === 1 && ofB.events.length === 1, 5000, 'one event each');
    expect(ofA.events[0]).toMatchObject({
      janus: 'event',
      plugin: 'janus.plugin.echotest',
      transaction: 'ff-a',
      data: { result: 'ok' },
    });
    expect(ofA.events[0]!.body.sender).toBe(a.id);
    expect(ofB.events[0]).toMatchObject({ transaction: 'ff-b' });

    await a.detach();
    await ofA.done;
    expect(ofA.events.map((e) => e.janus)).toEqual(['event', 'detached']);
    expect(await a.ended).toEqual({ reason: 'detached', detail: 'Janus sent detached' });
    expect(b.isEnded).toBe(false);
    const error = await a.message({ audio: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandleEndedError);
    expect((error as HandleEndedError).end.reason).toBe('detached');
    // An iteration begun after the end finishes at once.
    for await (const e of a.events()) throw new Error(`unexpected ${e.janus}`);
    await b.detach();
    await ofB.done;
  });

  it('a failed detach delivers the events held back meanwhile, and the handle goes on (a fake bridge)', async () => {
    // A stand-in for the bridge on janus_id "fake":
    // it publishes an event for the handle, then answers the detach with 612.
    const fake = nc.subscribe('janus.request.fake', {
      callback: (_err, msg) => {
        const request = JSON.parse(msg.string()) as { janus: string; handle_id: number; transaction: string };
        if (request.janus !== 'detach') return;
        const h = natsHeaders();
        h.set('Janus-Handle', String(request.handle_id));
        nc.publish(
          'janus.event.fake',
          JSON.stringify({
            janus_id: 'fake',
            janus_url: 'ws://x',
            janus_body: { janus: 'hangup', session_id: 1, sender: request.handle_id, reason: 'teardown' },
          }),
          { headers: h },
        );
        const e = natsHeaders();
        e.set('Nats-Service-Error-Code', '612');
        e.set('Nats-Service-Error', 'the connection to Janus closed before it answered');
        setTimeout(
          () =>
            msg.respond(
              JSON.stringify({
                janus: 'error',
                transaction: request.transaction,
                error: { code: 612, reason: 'the connection to Janus closed before it answered' },
              }),
              { headers: e },
            ),
          50,
        );
      },
    });
    await nc.flush();
    const client = new JanusNats(nc, 'fake', { events: 'flat' });
    const handle = await client.handle(77);
    const got = collect(handle.events());
    const error = await handle.detach().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BridgeError);
    expect(error).toMatchObject({ code: 612, name: 'connection_lost', retryable: true });
    await eventually(() => got.events.length === 1, 2000, 'held event delivered');
    expect(got.events[0]).toMatchObject({ janus: 'hangup' });
    expect(handle.isEnded).toBe(false);
    await client.close();
    await got.done;
    fake.unsubscribe();
  });

  it('in flat mode, one shared subscription on the event subject serves every handle', async () => {
    const conn = await connect({ servers: nats.url });
    try {
      const flat = new JanusNats(conn, 'local', { events: 'flat' });
      const handles = await Promise.all([1, 2, 3, 4].map(() => flat.attach('janus.plugin.echotest')));
      const subjects = subscribedSubjects(conn);
      expect(subjects.filter((s) => s === 'janus.event.local')).toHaveLength(1);
      expect(subjects.filter((s) => s.startsWith('janus.event.local.handle.'))).toEqual([]);
      expect(subjects.filter((s) => s === 'janus.status.local')).toHaveLength(1);
      const last = handles[3]!;
      const got = collect(last.events());
      fireAndForget(last.id, 'ff-flat');
      await eventually(() => got.events.length === 1, 5000, 'event');
      for (const h of handles) await h.detach();
      await got.done;
    } finally {
      await conn.close();
    }
  });

  it('in auto mode a handle also listens on <prefix>.event.<janus_id>.handle.<id> (per-handle routing)', async () => {
    const echo = await janus.attach('janus.plugin.echotest');
    expect(subscribedSubjects(nc)).toContain(`janus.event.local.handle.${echo.id}`);
    const got = collect(echo.events());
    // What the bridge publishes in events.subjects = "handle" mode, published here by hand.
    const body = { janus: 'slowlink', session_id: echo.sessionId, sender: echo.id, uplink: true, lost: 5 };
    const h = natsHeaders();
    h.set('Janus-Type', 'slowlink');
    h.set('Janus-Handle', String(echo.id));
    h.set('Nats-Msg-Id', 'by-hand-1');
    nc.publish(
      `janus.event.local.handle.${echo.id}`,
      JSON.stringify({ janus_id: 'local', janus_url: 'ws://x', janus_body: body }),
      { headers: h },
    );
    // Published again (a capture resend): the same Nats-Msg-Id is dropped.
    nc.publish(
      `janus.event.local.handle.${echo.id}`,
      JSON.stringify({ janus_id: 'local', janus_url: 'ws://x', janus_body: body }),
      { headers: h },
    );
    await eventually(() => got.events.length === 1, 5000, 'event');
    expect(got.events[0]).toMatchObject({ janus: 'slowlink', body });
    await echo.detach();
    await got.done;
    expect(got.events.map((e) => e.janus)).toEqual(['slowlink', 'detached']);
    expect(subscribedSubjects(nc)).not.toContain(`janus.event.local.handle.${echo.id}`);
  });

  it('a handle picked up by id in a second instance (a restarted service) works, gets events, detaches', async () => {
    const before = await janus.attach('janus.plugin.echotest', { opaqueId: 'svc-1' });
    const id = before.id;
    // The "restarted service": another connection, another JanusNats, only the id kept.
    const conn = await connect({ servers: nats.url });
    try {
      const after = new JanusNats(conn, 'local');
      const handle = await after.handle(id, 'janus.plugin.echotest');
      expect(handle.id).toBe(id);
      expect(await after.handle(id)).toBe(handle);
      const got = collect(handle.events());
      expect((await handle.message({ video: false })).data.result).toBe('ok');
      fireAndForget(id, 'ff-picked-up');
      await eventually(
        () => got.events.some((e) => e.transaction === 'ff-picked-up'),
        5000,
        'event on the picked-up handle',
      );
      await handle.detach();
      await got.done;
      expect((await handle.ended).reason).toBe('detached');
      // The first instance saw the detached event too.
      expect((await before.ended).reason).toBe('detached');
    } finally {
      await conn.close();
    }
  });

  it('close() ends every handle with reason closed and leaves them alive in Janus', async () => {
    const conn = await connect({ servers: nats.url });
    const first = new JanusNats(conn, 'local');
    const echo = await first.attach('janus.plugin.echotest');
    const iteration = collect(echo.events());
    await first.close();
    await iteration.done;
    expect(await echo.ended).toMatchObject({ reason: 'closed' });
    await expect(first.ping()).rejects.toBeInstanceOf(JanusNatsError);
    const again = await janus.handle(echo.id);
    expect((await again.message({ audio: true })).data.result).toBe('ok');
    await again.detach();
    await conn.close();
  });

  it('a closed NATS connection ends the handles with reason closed', async () => {
    const conn = await connect({ servers: nats.url });
    const client = new JanusNats(conn, 'local');
    const echo = await client.attach('janus.plugin.echotest');
    await conn.close();
    expect(await echo.ended).toMatchObject({ reason: 'closed' });
    await (await janus.handle(echo.id)).detach();
  });
});
