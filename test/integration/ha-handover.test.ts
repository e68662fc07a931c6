/**
 * One hand-over looked at closely, in-process: two bridges with ha.enabled on a private
 * nats-server with JetStream and one real Janus (reclaim_session_timeout 0, Janus's
 * default: a planned hand-over keeps the session anyway). The old owner hands over while
 * a steady flood of asynchronous echotest messages runs, so that some `event`s owed to its
 * requests reach the taker's WebSocket: they must still answer their own request.
 * Also: the warning about a reclaim timeout too short for a failover.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, eventually, startBridge, type TestBridge } from '../support/bridge.js';
import { listSessions } from '../support/janus-admin.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

let nats: NatsServer;
let janus: JanusServer;
let client: Client;
const bridges: TestBridge[] = [];

beforeAll(async () => {
  [nats, janus] = await Promise.all([
    startNats(undefined, ['-js', '-sd', mkdtempSync(join(tmpdir(), 'jnb-js-'))]),
    startJanus({ reclaimTimeout: 0 }),
  ]);
  client = await Client.connect(nats.url);
}, 30_000);

afterAll(async () => {
  for (const bridge of bridges.splice(0)) await bridge.stop().catch(() => {});
  await client?.close();
  await Promise.all([janus?.stop(), nats?.stop()]);
});

function haBridge(
  replicaId: string,
  connections: Array<{ janus_id: string; janus_url: string }>,
  leaseTtl = 3,
): Promise<TestBridge> {
  return startBridge({
    nats: { servers: [nats.url], subjectPrefix: `jh${replicaId === 'warn' ? 'w' : ''}` },
    connections,
    ha: { enabled: true, replicaId, leaseTtl, handoverTimeout: 5 },
  }).then((bridge) => {
    bridges.push(bridge);
    return bridge;
  });
}

async function metric(bridge: TestBridge, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

/** Resolves once `bridge` serves `id`: its connection is ready and it logged that it serves. */
function untilServing(bridge: TestBridge, id: string, who: string): Promise<void> {
  return eventually(
    () => bridge.daemon.connectionStats(id)?.state === 'ready' && bridge.logs().some((l) => l.msg === 'serving'),
    10_000,
    `${who} serves ${id}`,
  );
}

/**
 * Starts replica `next`, lets it settle, stops `owner` (SIGTERM's path: a hand-over) and waits until `next`
 * serves `id`; `ms` from the owner's stop to then.
 */
async function handOver(
  owner: TestBridge,
  next: string,
  connections: Array<{ janus_id: string; janus_url: string }>,
  id: string,
): Promise<{ taker: TestBridge; ms: number }> {
  const taker = await haBridge(next, connections);
  // Past the taker's start-up settling (a third of the TTL, at most 1 s): what follows is the hand-over alone.
  await new Promise((r) => setTimeout(r, 1200));
  const started = performance.now();
  const leaving = owner.stop();
  await untilServing(taker, id, next);
  const ms = performance.now() - started;
  await leaving;
  bridges.splice(bridges.indexOf(owner), 1);
  return { taker, ms };
}

/** Replica `name` serving the one connection of `connections`, with an echotest handle attached through it. */
async function servingWithHandle(
  name: string,
  connections: Array<{ janus_id: string; janus_url: string }>,
): Promise<{ owner: TestBridge; handle: number }> {
  const id = connections[0]!.janus_id;
  const owner = await haBridge(name, connections);
  await untilServing(owner, id, name);
  const attached = await client.request(`jh.request.${id}`, { janus: 'attach', plugin: 'janus.plugin.echotest' });
  return { owner, handle: (attached.json.data as { id: number }).id };
}

describe('hand-overs under a flood of asynchronous requests', () => {
  it('answer each request with its event, relay those that reached the taker, keep handle and session', async () => {
    const connections = [{ janus_id: 'h1', janus_url: janus.url }];
    const first = await servingWithHandle('a', connections);
    let owner = first.owner;
    const handle = first.handle;
    const session = owner.daemon.connectionStats('h1')!.sessionId;
    const status = client.collect('jh.status.h1');

    // 40 streams, each sending the next message as soon as the previous one is answered, through three hand-overs.
    let moving = true;
    let sent = 0;
    const failures: string[] = [];
    const stream = async (n: number): Promise<void> => {
      for (let i = 0; moving; i++) {
        sent++;
        try {
          const reply = await client.request(
            'jh.request.h1',
            { janus: 'message', handle_id: handle, body: { audio: true }, transaction: `s${n}-${i}` },
            5000,
          );
          const ok = reply.json.janus === 'event' && reply.json.transaction === `s${n}-${i}`;
          if (!ok) failures.push(JSON.stringify(reply.json).slice(0, 200));
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const streams = Array.from({ length: 40 }, (_, n) => stream(n));
    const moves: Array<{ ms: number; relayed: number; published: number }> = [];
    for (const next of ['b', 'c', 'd']) {
      const { taker, ms } = await handOver(owner, next, connections, 'h1');
      await new Promise((r) => setTimeout(r, 300));
      moves.push({
        ms,
        relayed: await metric(taker, 'janus_bridge_ha_relayed_answers_total{result="taken"}'),
        published: await metric(taker, 'janus_bridge_ha_relayed_answers_total{result="published"}'),
      });
      owner = taker;
    }
    moving = false;
    await Promise.all(streams);

    const relayed = moves.reduce((sum, m) => sum + m.relayed, 0);
    console.log(
      `[ha] 3 hand-overs under ${sent} async messages (40 in flight): taker serving ` +
        `${moves.map((m) => m.ms.toFixed(0)).join(', ')} ms after the owner's SIGTERM; answers relayed back ` +
        `${moves.map((m) => m.relayed).join(', ')}, published as events ${moves.map((m) => m.published).join(', ')}; ` +
        `${failures.length} failed`,
    );
    expect(failures).toEqual([]);
    expect(relayed, 'some events owed to an old owner reached the taker and were relayed').toBeGreaterThan(0);
    const changes = status.messages.filter((m) => m.json.state === 'owner-changed').map((m) => m.json);
    expect(changes.map((c) => [c.old_replica, c.new_replica, c.session_id])).toEqual([
      ['a', 'b', session],
      ['b', 'c', session],
      ['c', 'd', session],
    ]);
    expect(status.messages.filter((m) => m.json.state === 'stopped' || m.json.state === 'session-replaced')).toEqual(
      [],
    );
    expect(owner.daemon.connectionStats('h1')!.sessionId).toBe(session);
    const after = await client.request('jh.request.h1', {
      janus: 'message',
      handle_id: handle,
      body: { audio: false },
    });
    expect(after.json.janus).toBe('event');
    expect(await listSessions(janus.adminUrl)).toEqual([session]);
  }, 90_000);
});

describe('hand-overs under a flood of fire-and-forget messages', () => {
  it("publish every message's event with the client's transaction, also those that reached the taker", async () => {
    const connections = [{ janus_id: 'f1', janus_url: janus.url }];
    const first = await servingWithHandle('fa', connections);
    let owner = first.owner;
    const handle = first.handle;
    const events = client.collect('jh.event.f1');

    // One message every millisecond or so (fire-and-forget: no reply subject), through two hand-overs.
    let moving = true;
    const sent: string[] = [];
    const flood = (async () => {
      while (moving) {
        for (let i = 0; i < 5; i++) {
          const transaction = `ff-${sent.length}`;
          sent.push(transaction);
          client.publish('jh.request.f1', {
            janus: 'message',
            handle_id: handle,
            body: { audio: true },
            transaction,
          });
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (const next of ['fb', 'fc']) owner = (await handOver(owner, next, connections, 'f1')).taker;
    await new Promise((r) => setTimeout(r, 300));
    moving = false;
    await flood;
    await new Promise((r) => setTimeout(r, 1000));

    const published = new Set(events.messages.map((m) => (m.json.janus_body as { transaction?: string }).transaction));
    // Messages that reached an owner after it stopped taking requests get "no responders" in NATS terms: lost, not
    // answered by someone else. Those sent while served must each have their event under their own transaction.
    const foreign = [...published].filter((t) => t !== undefined && !t.startsWith('ff-'));
    console.log(
      `[ha] 2 hand-overs under ${sent.length} fire-and-forget messages: ${published.size} events published, ` +
        `${foreign.length} under a transaction that is not the client's`,
    );
    expect(foreign).toEqual([]);
    expect(published.size).toBeGreaterThan(sent.length * 0.9);
  }, 60_000);
});

describe('start-up checks', () => {
  it('warns once per Janus with reclaim_session_timeout below ha.leaseTtl + 2 s, not about a longer one', async () => {
    const [short, long] = await Promise.all([startJanus({ reclaimTimeout: 5 }), startJanus({ reclaimTimeout: 30 })]);
    try {
      const bridge = await haBridge(
        'warn',
        [
          { janus_id: 'w1', janus_url: short.url },
          { janus_id: 'w2', janus_url: short.url },
          { janus_id: 'w3', janus_url: long.url },
        ],
        6,
      );
      await eventually(
        () => bridge.logs().filter((l) => l.msg === 'serving').length === 3,
        10_000,
        'serving all three',
      );
      const warnings = bridge.logs().filter((l) => String(l.msg).includes('reclaim_session_timeout'));
      expect(
        warnings.map((w) => ({ server: w.server, reclaim: w.reclaim_session_timeout_s, needed: w.needed_s })),
      ).toEqual([{ server: new URL(short.url).host, reclaim: 5, needed: 8 }]);
    } finally {
      await Promise.all([short.stop(), long.stop()]);
    }
  }, 30_000);
});
