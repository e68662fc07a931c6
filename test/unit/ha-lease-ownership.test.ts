/**
 * LeaseOwnership against an in-memory JetStream KV (compare-and-set revisions, delete
 * markers, watches, max age), fake connection hosts and fake timers: one or two
 * LeaseOwnerships share the fake bucket, time moves only when a test advances it.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionSpec } from '../../src/connections/spec.js';
import { toSpec } from '../../src/connections/spec.js';
import { LeaseOwnership, type ConnectionHost, type LeaseMetrics } from '../../src/ha/lease-ownership.js';
import {
  heartbeatKey,
  leaseKey,
  LEGACY_READERS_TTL_MS,
  type Lease,
  type LeaseState,
} from '../../src/ha/lease-record.js';
import { createLogger } from '../../src/log.js';
import { FakeKv } from '../support/fake-kv-bucket.js';

const TTL = 3000;
/** The timer of LeaseOwnership: a tenth of the TTL. */
const TICK = TTL / 10;
/** First balance after the first offer: min(0.5 s, TTL / 3). */
const SETTLE = Math.min(500, TTL / 3);
const HANDOVER = 2000;
const GRACE = 500;
/** A take is read back from the leader this long after it (at least) before it is served. */
const TAKE_CHECK_MS = 50;
const T0 = Date.UTC(2024, 0, 1);

const silent = createLogger('silent');

// ---------------------------------------------------------------------------------------------
// Fake connection host, metrics, harness
// ---------------------------------------------------------------------------------------------

interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open: () => void = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

interface HostCall {
  readonly at: number;
  readonly call: keyof ConnectionHost | 'stopRelay';
  readonly args: readonly unknown[];
}

class FakeHost implements ConnectionHost {
  /** The connections this host runs, with their session. */
  readonly sessions = new Map<string, number>();
  readonly calls: HostCall[] = [];
  serveGate: ((janusId: string) => Promise<void> | undefined) | undefined;
  prepareGate: ((janusId: string) => Promise<void> | undefined) | undefined;

  constructor(
    private readonly who: string,
    private readonly events: string[],
    private readonly newSession: () => number,
  ) {}

  private record(call: HostCall['call'], ...args: unknown[]): void {
    this.calls.push({ at: Date.now(), call, args });
    this.events.push(`${this.who} ${call} ${String(args[0])}`);
  }

  of(call: HostCall['call']): Array<readonly unknown[]> {
    return this.calls.filter((c) => c.call === call).map((c) => c.args);
  }

  ids(call: HostCall['call']): string[] {
    return this.of(call).map((args) => args[0] as string);
  }

  /** Janus ids whose serve() does not get ready (Janus out of reach for this replica). */
  readonly unreachable = new Set<string>();
  /** Takes from a releasing owner (serve() told not to take requests without Janus). */
  readonly handOverTakes: string[] = [];

  async serve(
    spec: ConnectionSpec,
    sessionId: number | undefined,
    subscribeAnyway: boolean,
  ): Promise<{ ready: boolean; sessionId: number | undefined }> {
    this.record('serve', spec.janusId, sessionId);
    if (!subscribeAnyway) this.handOverTakes.push(spec.janusId);
    await this.serveGate?.(spec.janusId);
    if (this.unreachable.has(spec.janusId)) return { ready: false, sessionId: undefined };
    const session = sessionId ?? this.newSession();
    this.sessions.set(spec.janusId, session);
    return { ready: true, sessionId: session };
  }

  async prepareHandOver(janusId: string): Promise<() => void> {
    this.record('prepareHandOver', janusId);
    await this.prepareGate?.(janusId);
    return () => this.record('stopRelay', janusId);
  }

  async handOver(janusId: string, to: string): Promise<void> {
    this.record('handOver', janusId, to);
    this.sessions.delete(janusId);
  }

  async drop(janusId: string, reason: string, graceMs: number): Promise<void> {
    this.record('drop', janusId, reason, graceMs);
    this.sessions.delete(janusId);
  }

  async applyList(running: readonly ConnectionSpec[], _stillWanted: (janusId: string) => boolean): Promise<void> {
    const ids = running.map((spec) => spec.janusId);
    this.record('applyList', ids);
    for (const id of [...this.sessions.keys()]) if (!ids.includes(id)) this.sessions.delete(id);
  }

  sessionOf(janusId: string): number | undefined {
    return this.sessions.get(janusId);
  }

  ownerChanged(janusId: string, change: { old_replica: string; new_replica: string; session_id: number | null }): void {
    this.record('ownerChanged', janusId, change);
  }
}

class FakeMetrics implements LeaseMetrics {
  readonly renewals: boolean[] = [];
  readonly handOvers: Array<'given' | 'taken'> = [];
  failovers = 0;
  renewal(_seconds: number, ok: boolean): void {
    this.renewals.push(ok);
  }
  handOver(direction: 'given' | 'taken'): void {
    this.handOvers.push(direction);
  }
  failover(): void {
    this.failovers++;
  }
}

function specs(...ids: string[]): ConnectionSpec[] {
  return ids.map((id) => {
    const parsed = toSpec(id, `ws://${id}.janus.test:8188/janus`);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.spec;
  });
}

interface Replica {
  readonly name: string;
  readonly host: FakeHost;
  readonly metrics: FakeMetrics;
  readonly leaseOwnership: LeaseOwnership;
  /** start() then offer(ids). */
  join(...ids: string[]): Promise<void>;
}

let leaseOwnerships: LeaseOwnership[] = [];

/** A debug logger that keeps each line, parsed, with the replica that wrote it. */
function keptLog(name: string, lines: Array<Record<string, unknown>>) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push({ replica: name, ...(JSON.parse(line) as Record<string, unknown>) });
      done();
    },
  });
  return createLogger('debug', sink);
}

function world(options: { maxAgeMs?: number | undefined; logs?: Array<Record<string, unknown>> } = {}) {
  const events: string[] = [];
  const kv = new FakeKv(events, options.maxAgeMs);
  let lastSession = 1000;
  const replica = (name: string): Replica => {
    const host = new FakeHost(name, events, () => ++lastSession);
    const metrics = new FakeMetrics();
    const leaseOwnership = new LeaseOwnership(
      kv.bucket(name),
      host,
      {
        replicaId: name,
        instance: `${name}-instance`,
        leaseTtlMs: TTL,
        handoverTimeoutMs: HANDOVER,
        requestGraceMs: GRACE,
      },
      metrics,
      options.logs ? keptLog(name, options.logs) : silent,
      () => Date.now(),
    );
    leaseOwnerships.push(leaseOwnership);
    return {
      name,
      host,
      metrics,
      leaseOwnership,
      async join(...ids: string[]) {
        await leaseOwnership.start();
        await leaseOwnership.offer(specs(...ids));
      },
    };
  };
  return { kv, events, replica };
}

const advance = (ms: number): Promise<unknown> => vi.advanceTimersByTimeAsync(ms);

/** Advances tick by tick until `done` holds (at most `limit` ms); returns the time it took. */
async function advanceUntil(done: () => boolean, limit: number): Promise<number> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start >= limit) throw new Error(`not reached within ${limit} ms`);
    await advance(TICK);
  }
  return Date.now() - start;
}

/** Every text occurs in `events`, in this order. */
function expectInOrder(events: readonly string[], ...texts: string[]): void {
  const at = texts.map((text) => events.indexOf(text));
  texts.forEach((text, i) =>
    expect(at[i], `"${text}" in ${JSON.stringify(events, null, 1)}`).toBeGreaterThanOrEqual(0),
  );
  expect(at, texts.join(' < ')).toEqual([...at].sort((a, b) => a - b));
}

/** Who serves what according to the bucket. */
function servedBy(kv: FakeKv, ids: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(
    ids.map((id) => {
      const lease = kv.lease(id);
      return [id, lease?.state === 'serving' ? lease.replica : undefined];
    }),
  );
}

function stateOf(kv: FakeKv, id: string): LeaseState | undefined {
  return kv.lease(id)?.state;
}

/** Another replica's version 2 lease, as replica `who` (instance `<who>-1`) writes it. */
function leaseOf(who: string, state: LeaseState, sessionId: number): Lease {
  return {
    replica: who,
    instance: `${who}-1`,
    session_id: sessionId,
    since: new Date().toISOString(),
    state,
    ttl_ms: LEGACY_READERS_TTL_MS,
    v: 2,
  };
}

/** Writes the heartbeat of replica `who` (instance `<who>-1`) once. */
async function heartbeatOf(kv: FakeKv, who: string): Promise<void> {
  await kv
    .bucket(who)
    .put(heartbeatKey(who), { replica: who, instance: `${who}-1`, since: new Date().toISOString(), ttl_ms: TTL });
}

/** When replica `who`'s last acknowledged heartbeat was written. */
function lastHeartbeatOf(kv: FakeKv, who: string): number {
  return kv
    .writesTo(heartbeatKey(who), who)
    .filter((w) => w.outcome === 'ok')
    .at(-1)!.at;
}

/** A serves j1, B has joined and sees it so: B's view has evidence enough to count A dead should A go silent. */
async function aServesJ1BWatches() {
  const w = world();
  const a = w.replica('A');
  await a.join('j1');
  await advance(SETTLE + 2 * TICK);
  const b = w.replica('B');
  await b.join('j1');
  await advance(2 * TTL);
  expect(servedBy(w.kv, ['j1'])).toEqual({ j1: 'A' });
  return { ...w, a, b };
}

/** Z held j1 (session 7) and is dead; B has joined, and will take j1 as expired. */
async function zDeadWithJ1() {
  const w = world();
  await heartbeatOf(w.kv, 'Z');
  await w.kv.bucket('Z').put(leaseKey('j1'), leaseOf('Z', 'serving', 7));
  const b = w.replica('B');
  await b.join('j1');
  return { ...w, b };
}

/** Advances in small steps until `who`'s take of j1 is written, before it is checked and served. */
async function untilTakeWritten(kv: FakeKv, who: string): Promise<void> {
  const limit = Date.now() + 3 * TTL;
  while (!kv.writesTo(leaseKey('j1'), who).some((w) => w.outcome === 'ok')) {
    if (Date.now() >= limit) throw new Error('no take written');
    await advance(5);
  }
  expect(kv.writesTo(leaseKey('j1'), who).map((w) => (w.record as Lease).state)).toEqual(['taking']);
}

/** A, B and C started together over six connections, two each. */
async function threeReplicasTwoEach() {
  const w = world();
  const ids = ['j1', 'j2', 'j3', 'j4', 'j5', 'j6'];
  const [a, b, c] = [w.replica('A'), w.replica('B'), w.replica('C')];
  await Promise.all([a.join(...ids), b.join(...ids), c.join(...ids)]);
  await advance(SETTLE + 3 * TTL);
  expect([a, b, c].map((r) => r.leaseOwnership.leasesHeld)).toEqual([2, 2, 2]);
  return { ...w, ids, a, b, c };
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  leaseOwnerships = [];
});

afterEach(() => {
  for (const leaseOwnership of leaseOwnerships) leaseOwnership.stop();
  vi.useRealTimers();
});

// ---------------------------------------------------------------------------------------------

describe('LeaseOwnership: one replica', () => {
  it('takes every listed connection, writing taking then serving; announces itself after the first offer', async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.leaseOwnership.start();
    await advance(5 * TICK);
    expect(kv.operation(heartbeatKey('A'))).toBeUndefined();
    expect(kv.writes).toEqual([]);

    await a.leaseOwnership.offer(specs('j1', 'j2', 'j3'));
    expect(a.host.of('applyList')).toEqual([[[]]]);
    expect(kv.writesTo(heartbeatKey('A'))).toHaveLength(1);
    expect(kv.writesTo(heartbeatKey('A'))[0]).toMatchObject({
      op: 'put',
      outcome: 'ok',
      record: { replica: 'A', instance: 'A-instance', ttl_ms: TTL },
    });

    // Settling first: nothing is taken before the settle delay.
    await advance(SETTLE - 1);
    expect(a.host.ids('serve')).toEqual([]);

    await advance(2 * TICK);
    expect(a.host.ids('serve').sort()).toEqual(['j1', 'j2', 'j3']);
    expect(a.host.of('serve').map((args) => args[1])).toEqual([undefined, undefined, undefined]);
    for (const id of ['j1', 'j2', 'j3']) {
      const writes = kv.writesTo(leaseKey(id));
      expect(writes.map((w) => [w.op, (w.record as Lease).state, w.outcome])).toEqual([
        ['create', 'taking', 'ok'],
        ['update', 'serving', 'ok'],
      ]);
      expect(kv.lease(id)).toMatchObject({
        replica: 'A',
        instance: 'A-instance',
        state: 'serving',
        session_id: a.host.sessions.get(id),
        v: 2,
        ttl_ms: LEGACY_READERS_TTL_MS,
      });
      expect(kv.lease(id)?.from).toBeUndefined();
    }
    expect(a.leaseOwnership.leasesHeld).toBe(3);
    expect(a.leaseOwnership.owners().owners.map((o) => [o.janus_id, o.replica, o.state])).toEqual([
      ['j1', 'A', 'serving'],
      ['j2', 'A', 'serving'],
      ['j3', 'A', 'serving'],
    ]);
    expect(a.leaseOwnership.owners().replicas.map((h) => h.replica)).toEqual(['A']);

    // Kept by the heartbeat alone: one write every fifth of the TTL, none per lease.
    const leaseWrites = kv.writes.filter((w) => w.key.startsWith('owner.')).length;
    const heartbeatsBefore = kv.writesTo(heartbeatKey('A')).length;
    await advance(5 * TTL);
    expect(a.host.ids('serve')).toHaveLength(3);
    expect(a.host.of('drop')).toEqual([]);
    expect(servedBy(kv, ['j1', 'j2', 'j3'])).toEqual({ j1: 'A', j2: 'A', j3: 'A' });
    expect(kv.operation(heartbeatKey('A'))).toBe('PUT');
    expect(kv.writes.filter((w) => w.key.startsWith('owner.')).length).toBe(leaseWrites);
    expect(kv.writesTo(heartbeatKey('A')).length - heartbeatsBefore).toBe(25);
    expect(a.metrics.renewals.every(Boolean)).toBe(true);
  });
});

describe('LeaseOwnership: start', () => {
  it('takes its share as soon as the settling time after its announcement is over, not at the next tick', async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.join('j1');
    await advance(SETTLE - 10);
    expect(kv.writesTo(leaseKey('j1'), 'A')).toEqual([]);
    // Ticks come every 300 ms from start(): the next one is 100 ms after the settling time.
    await advance(20);
    expect(kv.writesTo(leaseKey('j1'), 'A').map((w) => (w.record as Lease).state)).toEqual(['taking']);
    // Served once the leader still shows the take a moment later.
    await advance(TAKE_CHECK_MS);
    expect(kv.writesTo(leaseKey('j1'), 'A').map((w) => (w.record as Lease).state)).toEqual(['taking', 'serving']);
  });
});

describe('LeaseOwnership: two replicas', () => {
  it('hands the excess over to a replica that joins, the giver closing only once the taker serves', async () => {
    const { kv, events, replica } = world();
    const ids = ['j1', 'j2', 'j3', 'j4'];
    const a = replica('A');
    await a.join(...ids);
    await advance(SETTLE + 2 * TICK);
    expect(a.leaseOwnership.leasesHeld).toBe(4);
    const sessionOfA = new Map(a.host.sessions);

    const b = replica('B');
    await b.join(...ids);
    await advance(0);
    // A sees B's heartbeat: over its share of 2, it releases 2.
    const moving = ids.filter((id) => stateOf(kv, id) === 'releasing');
    expect(moving).toHaveLength(2);
    expect(a.host.ids('prepareHandOver').sort()).toEqual(moving);
    expect(a.host.ids('handOver')).toEqual([]);

    await advance(SETTLE + 2 * TICK);
    expect(b.host.ids('serve').sort()).toEqual(moving);
    expect(a.host.ids('handOver').sort()).toEqual(moving);
    for (const id of moving) {
      expectInOrder(
        events,
        `A prepareHandOver ${id}`,
        `A update ${leaseKey(id)} releasing ok`,
        `B update ${leaseKey(id)} taking ok`,
        `B serve ${id}`,
        `B update ${leaseKey(id)} serving ok`,
        `A handOver ${id}`,
        `A stopRelay ${id}`,
      );
      // B claimed A's session, and said where it came from.
      expect(b.host.of('serve').find((args) => args[0] === id)?.[1]).toBe(sessionOfA.get(id));
      expect(kv.lease(id)).toMatchObject({ replica: 'B', state: 'serving', from: 'A', session_id: sessionOfA.get(id) });
      expect(b.host.of('ownerChanged').find((args) => args[0] === id)?.[1]).toEqual({
        old_replica: 'A',
        new_replica: 'B',
        session_id: sessionOfA.get(id),
      });
      expect(a.host.of('handOver').find((args) => args[0] === id)?.[1]).toBe('B');
    }
    expect(a.leaseOwnership.leasesHeld).toBe(2);
    expect(b.leaseOwnership.leasesHeld).toBe(2);
    expect(a.metrics.handOvers).toEqual(['given', 'given']);
    expect(b.metrics.handOvers).toEqual(['taken', 'taken']);
    // Taken from a releasing owner: requests are taken only once the session is claimed.
    expect(b.host.handOverTakes.sort()).toEqual(moving);

    // Stable from then on.
    const served = servedBy(kv, ids);
    const calls = a.host.calls.length + b.host.calls.length;
    await advance(5 * TTL);
    expect(servedBy(kv, ids)).toEqual(served);
    expect(a.host.calls.length + b.host.calls.length).toBe(calls);
    expect(a.host.of('drop')).toEqual([]);
    expect(b.host.of('drop')).toEqual([]);
  });

  it('gives a connection back when the taker cannot reach its Janus, and the giver keeps serving it', async () => {
    const { kv, replica } = world();
    const ids = ['j1', 'j2'];
    const a = replica('A');
    await a.join(...ids);
    await advance(SETTLE + 2 * TICK);
    const b = replica('B');
    for (const id of ids) b.host.unreachable.add(id);
    await b.join(...ids);
    await advance(0);
    const moving = ids.filter((id) => stateOf(kv, id) === 'releasing');
    expect(moving).toHaveLength(1);
    await advance(SETTLE + 2 * TICK);
    // B could not get ready: it stopped, and the lease went back to A, still serving on its session.
    expect(b.host.ids('drop')).toEqual(moving);
    expect(a.host.ids('handOver')).toEqual([]);
    expect(a.host.ids('drop')).toEqual([]);
    expect(kv.lease(moving[0]!)).toMatchObject({ replica: 'A', instance: 'A-instance' });
    expect(a.leaseOwnership.leasesHeld).toBe(2);
    expect(b.leaseOwnership.leasesHeld).toBe(0);
    // Nobody else takes it: A's release times out, it keeps serving, and B does not try again at once.
    await advance(HANDOVER + 2 * TICK);
    expect(kv.lease(moving[0]!)).toMatchObject({ replica: 'A', state: 'serving' });
    expect(kv.lease(moving[0]!)).not.toHaveProperty('to');
    expect(a.host.ids('stopRelay')).toContain(moving[0]);
    // A then offers its other connection (still over its share); B, unable to reach it either, gives it back too.
    expect(b.host.ids('serve').filter((id) => id === moving[0])).toHaveLength(1);
    expect(a.host.ids('handOver')).toEqual([]);
    expect(a.host.ids('drop')).toEqual([]);
    expect(a.leaseOwnership.leasesHeld).toBe(2);
  });

  it('settles at fair shares when both start together, each connection served once', async () => {
    const { kv, replica } = world();
    const ids = ['j1', 'j2', 'j3', 'j4', 'j5'];
    const a = replica('A');
    const b = replica('B');
    await a.leaseOwnership.start();
    await b.leaseOwnership.start();
    await Promise.all([a.leaseOwnership.offer(specs(...ids)), b.leaseOwnership.offer(specs(...ids))]);
    await advance(SETTLE + 3 * TICK);
    await advance(3 * TTL);
    const served = servedBy(kv, ids);
    expect(Object.values(served).every((r) => r === 'A' || r === 'B')).toBe(true);
    const countA = Object.values(served).filter((r) => r === 'A').length;
    expect([countA, 5 - countA].sort()).toEqual([2, 3]);
    expect([...a.host.sessions.keys(), ...b.host.sessions.keys()].sort()).toEqual(ids);
    expect(a.host.of('drop')).toEqual([]);
    expect(b.host.of('drop')).toEqual([]);
  });
});

describe('LeaseOwnership: a watch that delivers nothing', () => {
  it("never takes a live replica's leases while its own heartbeats do not come back; restarts the watch", async () => {
    const { kv, replica } = world();
    const ids = ['j1', 'j2', 'j3', 'j4'];
    const a = replica('A');
    await a.join(...ids);
    await advance(SETTLE + 2 * TICK);
    const b = replica('B');
    await b.join(...ids);
    await advance(SETTLE + 3 * TTL);
    const settled = servedBy(kv, ids);
    expect(Object.values(settled).filter((r) => r === 'B')).toHaveLength(2);
    const watchesBefore = kv.watchesStarted('B');

    // B's writes still work; its watch shows nothing, A's heartbeats included.
    kv.holdWatch('B');
    await advance(4 * TTL);
    expect(servedBy(kv, ids)).toEqual(settled);
    expect(a.host.of('drop')).toEqual([]);
    expect(kv.watchesStarted('B')).toBeGreaterThan(watchesBefore);

    kv.releaseWatch('B');
    await advance(2 * TTL);
    expect(servedBy(kv, ids)).toEqual(settled);
    expect(a.host.of('drop')).toEqual([]);
    expect(b.host.of('drop')).toEqual([]);
  });
});

describe('LeaseOwnership: a watch reading a copy of the bucket that is behind', () => {
  it('drops nothing, takes nothing back when a restarted watch replays leases from before a hand-over', async () => {
    const { kv, replica } = world();
    const ids = ['j1', 'j2', 'j3', 'j4'];
    const a = replica('A');
    await a.join(...ids);
    await advance(SETTLE + 2 * TICK);
    // A copy of the stream that stopped here: A serves all four.
    const before = kv.snapshot();
    const b = replica('B');
    await b.join(...ids);
    await advance(SETTLE + 3 * TTL);
    const settled = servedBy(kv, ids);
    expect(Object.values(settled).filter((r) => r === 'B')).toHaveLength(2);
    const writes = kv.writes.filter((w) => w.key.startsWith(leaseKey(''))).length;

    kv.replayTo('B', before);
    kv.replayTo('A', before);
    await advance(2 * TTL);
    expect(servedBy(kv, ids)).toEqual(settled);
    expect(b.host.of('drop')).toEqual([]);
    expect(a.host.of('drop')).toEqual([]);
    expect(kv.writes.filter((w) => w.key.startsWith(leaseKey(''))).length).toBe(writes);
  });

  it("goes on from the leader's revision of its own lease when a differing copy numbered it higher", async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.join('j1');
    await advance(SETTLE + 2 * TICK);
    expect(stateOf(kv, 'j1')).toBe('serving');

    // A copy of the stream that numbers the same lease higher (nats-server 2.9 has left copies so after a restart).
    const current = kv.snapshot().get(leaseKey('j1'))!;
    kv.replayTo('A', new Map([[current.key, { ...current, revision: current.revision + 50 }]]));
    a.host.sessions.set('j1', 5151);
    await advanceUntil(() => kv.lease('j1')?.session_id === 5151, 6 * TICK);
    const writes = kv.writesTo(leaseKey('j1'), 'A');
    expect(writes.at(-1)).toMatchObject({ outcome: 'ok', expected: current.revision });
    expect(a.host.of('drop')).toEqual([]);
  });

  it('restarts its watch, forgetting what it read, when the watch numbers our heartbeat otherwise', async () => {
    const { kv, replica } = world();
    await heartbeatOf(kv, 'Z');
    const lease = leaseOf('Z', 'serving', 9);
    await kv.bucket('Z').put(leaseKey('jx'), lease);
    const a = replica('A');
    await a.join('j1');
    await advance(SETTLE + 2 * TICK);
    const stateOfJx = () => a.leaseOwnership.owners().owners.find((o) => o.janus_id === 'jx')?.state;
    expect(stateOfJx()).toBe('serving');

    // A copy that numbers everything 100 higher, and says jx is free.
    const copy = kv.snapshot();
    const renumbered = new Map(
      [...copy].map(([key, entry]) => [
        key,
        key === leaseKey('jx')
          ? {
              ...entry,
              value: new TextEncoder().encode(JSON.stringify({ ...lease, state: 'free' })),
              revision: entry.revision + 100,
            }
          : { ...entry, revision: entry.revision + 100 },
      ]),
    );
    const watches = kv.watchesStarted('A');
    kv.replayTo('A', renumbered);
    expect(stateOfJx()).toBe('free');
    // At the next tick, not after two heartbeat intervals without our own write seen.
    await advanceUntil(() => kv.watchesStarted('A') > watches, 2 * TICK);
    await advance(TICK);
    expect(stateOfJx()).toBe('serving');
    expect(a.host.of('drop')).toEqual([]);
  });

  it("never takes over a revision its watch numbered otherwise: it checks the leader's lease first", async () => {
    const { kv, replica } = world();
    const lease = (who: string, state: LeaseState): Lease => leaseOf(who, state, 7);
    for (const who of ['Y', 'Z']) await heartbeatOf(kv, who);
    const released = await kv.bucket('Z').put(leaseKey('j1'), lease('Z', 'releasing'));
    const a = replica('A');
    await a.leaseOwnership.start();
    kv.holdWatch('A');
    // Y takes it on the leader; A's watch reads a copy that shows Z's release at the revision of Y's take.
    const taken = await kv
      .bucket('Y')
      .update(leaseKey('j1'), lease('Y', 'taking'), released.ok ? released.revision : 0);
    if (!taken.ok) throw new Error('setup: take refused');
    const zs = kv.snapshot().get(leaseKey('j1'))!;
    kv.releaseWatch('A');
    kv.replayTo(
      'A',
      new Map([[zs.key, { ...zs, value: new TextEncoder().encode(JSON.stringify(lease('Z', 'releasing'))) }]]),
    );
    await a.leaseOwnership.offer(specs('j1'));
    await advance(SETTLE + 3 * TICK);
    expect(kv.writesTo(leaseKey('j1'), 'A')).toEqual([]);
    expect(kv.lease('j1')).toMatchObject({ replica: 'Y', state: 'taking' });
    expect(a.host.of('serve')).toEqual([]);
  });

  it("takes the leader's lease into its view when a differing copy numbered it higher; takes over that", async () => {
    const { kv, replica } = world();
    const zLease = (state: LeaseState): Lease => leaseOf('Z', state, 7);
    await heartbeatOf(kv, 'Z');
    await kv.bucket('Z').put(leaseKey('j1'), zLease('free'));
    const a = replica('A');
    await a.leaseOwnership.start();
    // A copy that shows Z still serving j1, at a revision far above the leader's.
    const atLeader = kv.snapshot().get(leaseKey('j1'))!;
    kv.replayTo(
      'A',
      new Map([
        [
          atLeader.key,
          {
            ...atLeader,
            value: new TextEncoder().encode(JSON.stringify(zLease('serving'))),
            revision: atLeader.revision + 100,
          },
        ],
      ]),
    );
    await a.leaseOwnership.offer(specs('j1'));
    // Z's heartbeat goes silent: A takes j1 over the leader's revision of the free lease, once, not a read per tick.
    const watches = kv.watchesStarted('A');
    await advanceUntil(() => servedBy(kv, ['j1']).j1 === 'A', 3 * TTL);
    expect(kv.writesTo(leaseKey('j1'), 'A')[0]).toMatchObject({ outcome: 'ok', expected: atLeader.revision });
    // The watch read that copy: it is started again.
    expect(kv.watchesStarted('A')).toBeGreaterThan(watches);
    // Before the take and once after it, not once per tick.
    expect(kv.reads.filter((r) => r.by === 'A' && r.key === leaseKey('j1')).length).toBeLessThanOrEqual(3);
    expect(a.host.of('serve')).toEqual([['j1', 7]]);
  });

  it('reads a lease from the leader when a write is refused over a revision its watch has not shown', async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.join('j1');
    await advance(SETTLE + 2 * TICK);
    expect(stateOf(kv, 'j1')).toBe('serving');

    // The watch shows nothing more; a lease write is applied by the bucket but its answer is lost.
    kv.holdWatch('A');
    kv.failWrites((w) => w.by === 'A' && w.key === leaseKey('j1'), 1, true);
    a.host.sessions.set('j1', 4242);
    await advance(TICK);
    const lost = kv.writesTo(leaseKey('j1'), 'A').at(-1)!;
    expect([lost.outcome, (lost.record as Lease).session_id]).toEqual(['timeout', 4242]);

    // The retry is refused (the key moved on to the lost write's revision), the lease is read from the leader, and
    // the next write goes over that revision: no waiting for the watch to start again.
    a.host.sessions.set('j1', 4343);
    await advanceUntil(() => kv.lease('j1')?.session_id === 4343, 3 * TICK);
    const after = kv.writesTo(leaseKey('j1'), 'A').slice(kv.writesTo(leaseKey('j1'), 'A').indexOf(lost) + 1);
    expect(after.map((w) => w.outcome)).toEqual(['conflict', 'ok']);
    expect(kv.reads).toContainEqual({ by: 'A', key: leaseKey('j1') });
    expect(a.host.of('drop')).toEqual([]);
    kv.releaseWatch('A');
  });
});

describe('LeaseOwnership: keys the bucket aged out', () => {
  it('takes a key the bucket no longer holds with a create: the leader has none, whatever the view', async () => {
    const { kv, replica } = world();
    // A lease left free by a replica that is gone: the view holds its revision.
    await kv.bucket('Z').put(leaseKey('j1'), {
      replica: 'Z',
      instance: 'Z-instance',
      session_id: 42,
      since: new Date().toISOString(),
      state: 'free',
      ttl_ms: TTL,
    });
    const a = replica('A');
    await a.leaseOwnership.start();
    const stale = kv.writesTo(leaseKey('j1'))[0]!.revision;
    kv.vanish(leaseKey('j1'));

    await a.leaseOwnership.offer(specs('j1'));
    await advance(SETTLE + 2 * TICK);
    const writes = kv.writesTo(leaseKey('j1'), 'A').slice(0, 2);
    expect(stale).toBeGreaterThan(0);
    expect(writes.map((w) => [w.op, w.expected, (w.record as Lease).state, w.outcome])).toEqual([
      ['create', undefined, 'taking', 'ok'],
      ['update', writes[0]!.revision, 'serving', 'ok'],
    ]);
    expect(a.host.of('serve')).toEqual([['j1', 42]]);
    expect(kv.lease('j1')).toMatchObject({ replica: 'A', state: 'serving', session_id: 42 });
  });

  it('takes an id again after its delete marker aged out', async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.join('j1', 'j2');
    await advance(SETTLE + 2 * TICK);
    await a.leaseOwnership.offer(specs('j1'));
    expect(kv.operation(leaseKey('j2'))).toBe('DEL');
    // A bucket made by an older release ages keys out; the marker goes without a watch entry.
    kv.vanish(leaseKey('j2'));
    expect(kv.operation(leaseKey('j2'))).toBeUndefined();

    await a.leaseOwnership.offer(specs('j1', 'j2'));
    await advance(2 * TICK);
    expect(
      kv
        .writesTo(leaseKey('j2'), 'A')
        .slice(-2)
        .map((w) => [w.op, (w.record as Lease).state, w.outcome]),
    ).toEqual([
      ['create', 'taking', 'ok'],
      ['update', 'serving', 'ok'],
    ]);
    expect(a.host.ids('serve')).toEqual(['j1', 'j2', 'j2']);
    expect(servedBy(kv, ['j1', 'j2'])).toEqual({ j1: 'A', j2: 'A' });
  });

  it('does not try a take when the leader has another lease than its view shows: the key is served', async () => {
    const { kv, replica } = world({ maxAgeMs: undefined });
    await kv.bucket('Z').put(leaseKey('j1'), {
      replica: 'Z',
      instance: 'Z-instance',
      session_id: 42,
      since: new Date().toISOString(),
      state: 'free',
      ttl_ms: TTL,
    });
    const a = replica('A');
    await a.leaseOwnership.start();
    // The watch lags: A does not see that Z serves it again, so its revision is stale and the key exists.
    kv.holdWatch('A');
    await kv.bucket('Z').put(leaseKey('j1'), {
      replica: 'Z',
      instance: 'Z-instance',
      session_id: 42,
      since: new Date().toISOString(),
      state: 'serving',
      ttl_ms: TTL,
    });
    await a.leaseOwnership.offer(specs('j1'));
    await advance(SETTLE + 10 * TICK);
    // The lease read from the leader before the write says Z serves it: nothing to try.
    expect(kv.writesTo(leaseKey('j1'), 'A')).toEqual([]);
    expect(kv.reads).toContainEqual({ by: 'A', key: leaseKey('j1') });
    expect(a.leaseOwnership.owners().owners).toMatchObject([{ janus_id: 'j1', replica: 'Z', state: 'serving' }]);
    expect(a.host.of('serve')).toEqual([]);
  });

  it('takes nothing while its own heartbeat cannot be written: nobody would see the holder alive', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const { kv, replica } = world({ logs });
    const a = replica('A');
    const heal = kv.failWrites((w) => w.by === 'A' && w.key === heartbeatKey('A'));
    await a.join('j1');
    await advance(SETTLE + 10 * TICK);
    expect(kv.writesTo(leaseKey('j1'))).toEqual([]);
    // Said once, not at every balance.
    expect(logs.filter((l) => l.msg === 'ownership: not balancing until our heartbeat is written')).toHaveLength(1);
    heal();
    await advanceUntil(() => servedBy(kv, ['j1']).j1 === 'A', TTL);
  });

  it('tries takes that time out about once per tick per connection', async () => {
    const { kv, replica } = world();
    const a = replica('A');
    kv.failWrites((w) => w.by === 'A' && w.key.startsWith('owner.'));
    await a.join('j1', 'j2');
    await advanceUntil(() => kv.writesTo(leaseKey('j1'), 'A').length > 0, SETTLE + 3 * TICK);
    const before = new Map(['j1', 'j2'].map((id) => [id, kv.writesTo(leaseKey(id), 'A').length]));
    const ticks = 10;
    await advance(ticks * TICK);
    for (const id of ['j1', 'j2']) {
      const during = kv.writesTo(leaseKey(id), 'A').slice(before.get(id));
      expect(during.every((w) => w.outcome === 'timeout')).toBe(true);
      expect(during.length).toBeGreaterThanOrEqual(ticks - 1);
      expect(during.length).toBeLessThanOrEqual(ticks + 1);
    }
    expect(a.host.of('serve')).toEqual([]);
  });
});

describe('LeaseOwnership: failover', () => {
  it("takes a dead replica's connections a TTL after its last heartbeat, not at its next tick after that", async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.join('j1', 'j2');
    await advance(SETTLE + 2 * TICK);
    // B's heartbeats, and so the moment its silence reaches the TTL, half a tick away from A's ticks.
    await advance((TICK + TICK / 2 - ((Date.now() - T0) % TICK)) % TICK);
    const b = replica('B');
    await b.join('j1', 'j2');
    await advance(SETTLE + 3 * TTL);
    expect(b.leaseOwnership.leasesHeld).toBe(1);
    const [ofB] = ['j1', 'j2'].filter((id) => kv.lease(id)?.replica === 'B');

    b.leaseOwnership.stop(); // dead: no hand-over, its heartbeat goes silent
    const lastHeartbeat = lastHeartbeatOf(kv, 'B');
    while (kv.lease(ofB!)?.replica !== 'A') {
      if (Date.now() - lastHeartbeat > 2 * TTL) throw new Error('not taken within 2 TTLs');
      await advance(5);
    }
    const taken = kv
      .writesTo(leaseKey(ofB!), 'A')
      .find((w) => w.at > lastHeartbeat && (w.record as Lease).state === 'taking')!.at;
    expect(taken - lastHeartbeat).toBeGreaterThan(TTL);
    expect(taken - lastHeartbeat).toBeLessThan(TTL + 20);
  });
});

describe('LeaseOwnership: takers that do not collide', () => {
  it("splits a dead replica's connections between the survivors: no lease is reached for by two at once", async () => {
    const logs: Array<Record<string, unknown>> = [];
    const { kv, replica } = world({ logs });
    const ids = Array.from({ length: 30 }, (_, i) => `j${i}`);
    const [a, b, c] = [replica('A'), replica('B'), replica('C')];
    for (const r of [a, b, c]) await r.join(...ids);
    await advanceUntil(() => Object.values(servedBy(kv, ids)).filter((r) => r === 'C').length === 10, 20 * TTL);
    await advance(2 * TTL);
    const ofC = ids.filter((id) => kv.lease(id)?.replica === 'C');
    expect(ofC).toHaveLength(10);

    c.leaseOwnership.stop(); // dead: its heartbeat goes silent
    const lastHeartbeat = lastHeartbeatOf(kv, 'C');
    // Both see the silence at the same moment and neither sees the other's takes for a while (as on a real
    // cluster, where the takes cross within milliseconds).
    await advance(lastHeartbeat + TTL - TICK / 2 - Date.now());
    const reads = kv.reads.length;
    kv.holdWatch('A');
    kv.holdWatch('B');
    await advance(TICK / 2 + 10);
    kv.releaseWatch('A');
    kv.releaseWatch('B');
    const reachedFor = new Map<string, Set<string>>();
    for (const { by, key } of kv.reads.slice(reads).filter((read) => read.key.startsWith(leaseKey(''))))
      reachedFor.set(key, new Set([...(reachedFor.get(key) ?? []), by]));
    expect(reachedFor.size).toBeGreaterThan(0);
    expect([...reachedFor].filter(([, by]) => by.size > 1)).toEqual([]);
    await advanceUntil(() => ofC.every((id) => ['A', 'B'].includes(servedBy(kv, ids)[id] ?? '')), 2 * TTL);
    // Each survivor says which of C's connections it left to the other once C is out of the sharing replicas.
    for (const survivor of ['A', 'B']) {
      const said = logs.find(
        (l) =>
          l.replica === survivor &&
          l.msg === 'ownership: takeable connections left' &&
          JSON.stringify(l.sharing) === '["A","B"]' &&
          String(l.left).includes('designated elsewhere'),
      );
      expect(said, `${survivor} said what it left to the other`).toBeDefined();
      const leftToOther = /designated elsewhere \d+: ([^;]+)/.exec(String(said!.left))![1]!.split(',');
      expect(leftToOther.filter((id) => !ofC.includes(id))).toEqual([]);
      expect(said!.blind).toBe(false);
    }
  });

  it('names the taker in a releasing lease, and two joining replicas never reach for one lease at once', async () => {
    const { kv, replica } = world();
    const ids = Array.from({ length: 12 }, (_, i) => `j${i}`);
    const a = replica('A');
    await a.join(...ids);
    await advanceUntil(() => Object.values(servedBy(kv, ids)).every((r) => r === 'A'), 3 * TTL);
    const joined = Date.now();
    const [b, c] = [replica('B'), replica('C')];
    await Promise.all([b.join(...ids), c.join(...ids)]);
    const counts = () => Object.values(servedBy(kv, ids)).filter((r) => r === 'B' || r === 'C').length;
    await advanceUntil(() => counts() === 8, 10 * TTL);

    const releases = ids.flatMap((id) =>
      kv
        .writesTo(leaseKey(id), 'A')
        .filter((w) => w.at > joined && (w.record as Lease).state === 'releasing')
        .map((w) => (w.record as Lease).to),
    );
    expect(releases.length).toBeGreaterThanOrEqual(8);
    expect(releases.every((to) => to === 'B' || to === 'C')).toBe(true);
    for (const id of ids) {
      const takers = new Set(
        kv
          .writesTo(leaseKey(id))
          .filter((w) => w.at > joined && (w.record as Lease | undefined)?.state === 'taking')
          .map((w) => w.by),
      );
      expect([id, takers.size <= 1]).toEqual([id, true]);
    }
    expect(ids.map((id) => kv.lease(id)).filter((lease) => lease?.to !== undefined)).toEqual([]);
  });
});

describe('LeaseOwnership: takes the bucket accepted twice', () => {
  it('takes no lease as expired whose holder has a newer heartbeat at the leader than its watch shows', async () => {
    const { kv, a, b } = await aServesJ1BWatches();

    // A is cut off long enough to drop j1 at its fence; B's view is about to count A dead.
    const healHeartbeat = kv.failWrites((w) => w.by === 'A' && w.key === heartbeatKey('A'));
    const healLease = kv.failWrites((w) => w.by === 'A' && w.key === leaseKey('j1'));
    const lastOk = lastHeartbeatOf(kv, 'A');
    await advance(lastOk + 0.8 * TTL - Date.now());
    expect(a.host.of('drop')).toHaveLength(1);
    // A comes back and writes its heartbeat; B's watch has not delivered it when A's silence reaches a TTL there.
    kv.holdWatch('B');
    healHeartbeat();
    await advance(lastOk + TTL + 3 * TICK - Date.now());
    expect(kv.writesTo(heartbeatKey('A'), 'A').filter((w) => w.at > lastOk && w.outcome === 'ok')).not.toEqual([]);
    expect(kv.reads.filter((r) => r.by === 'B' && r.key === heartbeatKey('A')).length).toBeGreaterThan(0);
    expect(kv.writesTo(leaseKey('j1'), 'B')).toEqual([]);

    kv.releaseWatch('B');
    healLease();
    await advanceUntil(() => servedBy(kv, ['j1']).j1 === 'A', 2 * TTL);
    expect(b.host.of('serve')).toEqual([]);
  });

  it('gives a take back unserved when the leader cannot be read to check it; takes it once it can', async () => {
    const { kv, b } = await zDeadWithJ1();
    await untilTakeWritten(kv, 'B');
    const heal = kv.failReads((by, key) => by === 'B' && key === leaseKey('j1'));
    await advance(2 * TICK);
    expect(b.host.of('serve')).toEqual([]);
    expect(kv.writesTo(leaseKey('j1'), 'B').map((w) => [(w.record as Lease).state, w.outcome])).toEqual([
      ['taking', 'ok'],
      ['free', 'ok'],
    ]);
    expect(kv.lease('j1')).toMatchObject({ state: 'free', session_id: 7 });

    heal();
    await advanceUntil(() => servedBy(kv, ['j1']).j1 === 'B', 2 * TTL);
    expect(b.host.of('serve')).toEqual([['j1', 7]]);
  });

  it('serves a take the leader numbers otherwise when the record there is its own, writing on from there', async () => {
    const { kv, b } = await zDeadWithJ1();
    await untilTakeWritten(kv, 'B');
    kv.renumber(leaseKey('j1'), 500);
    await advanceUntil(() => servedBy(kv, ['j1']).j1 === 'B', TTL);
    expect(kv.writesTo(leaseKey('j1'), 'B').at(-1)).toMatchObject({ outcome: 'ok', expected: 500 });
    expect(b.host.of('serve')).toEqual([['j1', 7]]);
  });

  it('does not serve a take when the leader shows another take accepted over the same revision after it', async () => {
    const { kv, b } = await zDeadWithJ1();
    // B takes j1 as expired over Z's revision; D's compare-and-set over the same revision is accepted too.
    const zRevision = kv.snapshot().get(leaseKey('j1'))!.revision;
    await untilTakeWritten(kv, 'B');
    kv.acceptOverAnyRevision((w) => w.by === 'D');
    await heartbeatOf(kv, 'D');
    const second = await kv.bucket('D').update(leaseKey('j1'), leaseOf('D', 'taking', 7), zRevision);
    expect(second.ok).toBe(true);

    await advance(2 * TICK);
    expect(b.host.of('serve')).toEqual([]);
    expect(kv.writesTo(leaseKey('j1'), 'B').map((w) => (w.record as Lease).state)).toEqual(['taking']);
    expect(kv.lease('j1')).toMatchObject({ replica: 'D' });
    expect(b.leaseOwnership.leasesHeld).toBe(0);
  });
});

describe('LeaseOwnership: a blind replica', () => {
  it("counts in nobody's fair share: a dead replica's connections are all taken by those that see", async () => {
    const { kv, ids, a, b, c } = await threeReplicasTwoEach();
    const ofC = ids.filter((id) => kv.lease(id)?.replica === 'C');

    // B's writes still work, its watch shows nothing: it says so in its heartbeat.
    kv.holdWatch('B');
    await advance(TTL);
    expect(kv.operation(heartbeatKey('B'))).toBe('PUT');
    const lastOfB = kv.writesTo(heartbeatKey('B'), 'B').at(-1)!;
    expect(lastOfB.record).toMatchObject({ blind: true });

    c.leaseOwnership.stop(); // dead
    const cDied = Date.now();
    // A's share is no longer half the list: it takes both of C's at once, not one now and one a TTL later.
    await advanceUntil(() => ofC.every((id) => kv.lease(id)?.replica === 'A'), TTL + 3 * TICK);
    expect(Date.now() - cDied).toBeLessThan(TTL + 3 * TICK);
    expect(b.host.of('drop')).toEqual([]);

    // B sees again: it counts again, and the shares come back.
    kv.releaseWatch('B');
    await advance(2 * TTL);
    expect(kv.writesTo(heartbeatKey('B'), 'B').at(-1)!.record).not.toHaveProperty('blind');
    expect([a, b].map((r) => r.leaseOwnership.leasesHeld)).toEqual([3, 3]);
  });
});

describe('LeaseOwnership: fencing and failed writes', () => {
  it('stops serving once its heartbeat has failed for 70 % of the TTL, before anyone may take its leases', async () => {
    const { kv, a, b } = await aServesJ1BWatches();
    const session = a.host.sessions.get('j1');

    // NATS unreachable for A (its watch keeps running: only writes time out).
    kv.failWrites((w) => w.by === 'A');
    const lastOk = lastHeartbeatOf(kv, 'A');
    await advanceUntil(() => a.host.of('drop').length > 0, TTL);
    const drop = a.host.calls.find((c) => c.call === 'drop')!;
    expect(drop.args[0]).toBe('j1');
    expect(drop.args[1]).toMatch(/not renewed/);
    expect(drop.args[2]).toBe(0);
    expect(drop.at - lastOk).toBeGreaterThan(0.7 * TTL);
    expect(drop.at - lastOk).toBeLessThanOrEqual(0.7 * TTL + TICK);
    expect(a.leaseOwnership.leasesHeld).toBe(0);
    expect(b.host.of('serve')).toEqual([]);

    // B fails it over only after a whole TTL without A's heartbeat (while B's own writes work), claiming the session.
    await advanceUntil(() => b.host.of('serve').length > 0, 2 * TTL);
    const taken = kv.writesTo(leaseKey('j1'), 'B').find((w) => w.outcome === 'ok')!;
    expect(taken.at).toBeGreaterThan(drop.at);
    expect(taken.at - lastOk).toBeGreaterThan(TTL);
    expect(b.host.of('serve')).toEqual([['j1', session]]);
    await advance(TICK);
    expect(kv.lease('j1')).toMatchObject({ replica: 'B', state: 'serving', from: 'A', session_id: session });
    expect(b.metrics.failovers).toBe(1);
  });

  it("does not drop a connection it releases when a renewal conflicts with the taker's write", async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.join('j1', 'j2');
    await advance(SETTLE + 2 * TICK);
    const b = replica('B');
    const serving = gate();
    b.host.serveGate = () => serving.promise;
    await b.join('j1', 'j2');
    await advance(0);
    const moving = ['j1', 'j2'].find((id) => stateOf(kv, id) === 'releasing')!;
    expect(moving).toBeDefined();

    // A's watch lags behind: it will not see B's take before its own renewal.
    kv.holdWatch('A');
    await advanceUntil(() => kv.writesTo(leaseKey(moving), 'B').some((w) => w.outcome === 'ok'), 2 * TTL);
    expect(stateOf(kv, moving)).toBe('taking');
    await advanceUntil(() => kv.writesTo(leaseKey(moving), 'A').some((w) => w.outcome === 'conflict'), 2 * TTL);
    expect(a.host.of('drop')).toEqual([]);
    expect(a.leaseOwnership.leasesHeld).toBe(2);
    expect(a.host.sessions.has(moving)).toBe(true);

    kv.releaseWatch('A');
    await advance(TICK);
    expect(a.host.of('drop')).toEqual([]);
    expect(a.host.ids('handOver')).toEqual([]);

    serving.open();
    await advance(0);
    expect(stateOf(kv, moving)).toBe('serving');
    expect(a.host.of('handOver')).toEqual([[moving, 'B']]);
    expect(a.host.of('drop')).toEqual([]);
  });

  it('takes back every lease it dropped at a fence once its heartbeat is written again, beyond its share', async () => {
    const { kv, replica } = world();
    const ids = ['j1', 'j2', 'j3', 'j4'];
    const a = replica('A');
    await a.join(...ids);
    await advance(SETTLE + 2 * TICK);
    expect(a.leaseOwnership.leasesHeld).toBe(4);
    const heal = kv.failWrites((w) => w.by === 'A' && w.key === heartbeatKey('A'));
    await advance(0.8 * TTL);
    expect(a.leaseOwnership.leasesHeld).toBe(0);
    // B joins meanwhile: A's leases are A's (its heartbeat is not a TTL old), the share is 2 each.
    const b = replica('B');
    await b.join(...ids);
    await advance(SETTLE + TICK);
    expect(b.leaseOwnership.leasesHeld).toBe(0);

    heal();
    // Nobody else may take them while A lives: A takes all four back at once, not two now and two a TTL later.
    const running = (): number => a.host.sessions.size + b.host.sessions.size;
    expect(running()).toBe(0);
    await advanceUntil(() => running() === 4, 3 * TICK);
    await advance(3 * TTL);
    expect([a.host.sessions.size, b.host.sessions.size]).toEqual([2, 2]);
    expect(Object.values(servedBy(kv, ids)).sort()).toEqual(['A', 'A', 'B', 'B']);
  });

  it('repeats a failed serving write with the next renewal, saying serving', async () => {
    const { kv, replica } = world();
    const a = replica('A');
    const serving = gate();
    a.host.serveGate = () => serving.promise;
    await a.join('j1');
    await advance(SETTLE + 2 * TICK);
    expect(stateOf(kv, 'j1')).toBe('taking');

    kv.failWrites((w) => w.by === 'A' && w.key === leaseKey('j1') && (w.record as Lease).state === 'serving', 1);
    serving.open();
    await advance(0);
    const failed = kv.writesTo(leaseKey('j1'), 'A').at(-1)!;
    expect([failed.op, (failed.record as Lease).state, failed.outcome]).toEqual(['update', 'serving', 'timeout']);
    expect(stateOf(kv, 'j1')).toBe('taking');

    await advanceUntil(() => stateOf(kv, 'j1') === 'serving', TTL / 3 + TICK);
    const after = kv.writesTo(leaseKey('j1'), 'A').slice(kv.writesTo(leaseKey('j1'), 'A').indexOf(failed) + 1);
    expect(after.map((w) => [w.op, (w.record as Lease).state, w.outcome])).toEqual([['update', 'serving', 'ok']]);
    expect(kv.lease('j1')).toMatchObject({ state: 'serving', session_id: a.host.sessions.get('j1') });
    expect(a.host.of('drop')).toEqual([]);
  });
});

describe('LeaseOwnership: list changes', () => {
  it('stops and deletes the lease of an id removed from the list, and takes it again when it comes back', async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.join('j1', 'j2');
    await advance(SETTLE + 2 * TICK);
    expect(a.leaseOwnership.leasesHeld).toBe(2);

    await a.leaseOwnership.offer(specs('j1'));
    expect(a.host.of('applyList').at(-1)).toEqual([['j1']]);
    expect(kv.operation(leaseKey('j2'))).toBe('DEL');
    expect(kv.writesTo(leaseKey('j2')).at(-1)).toMatchObject({ by: 'A', op: 'delete', outcome: 'ok' });
    expect(a.leaseOwnership.leasesHeld).toBe(1);
    await advance(3 * TICK);
    expect(a.host.ids('serve')).toEqual(['j1', 'j2']);
    expect(kv.operation(leaseKey('j2'))).toBe('DEL');

    // Back before the delete marker aged out: taken over the marker's revision.
    const marker = kv.writesTo(leaseKey('j2')).at(-1)!.revision;
    const before = kv.writesTo(leaseKey('j2'), 'A').length;
    await a.leaseOwnership.offer(specs('j1', 'j2'));
    await advance(2 * TICK);
    expect(a.host.of('serve').slice(2)).toEqual([['j2', undefined]]);
    const again = kv.writesTo(leaseKey('j2'), 'A').slice(before, before + 2);
    expect(again.map((w) => [w.op, w.expected, (w.record as Lease).state, w.outcome])).toEqual([
      ['update', marker, 'taking', 'ok'],
      ['update', again[0]?.revision, 'serving', 'ok'],
    ]);
    expect(servedBy(kv, ['j1', 'j2'])).toEqual({ j1: 'A', j2: 'A' });
    expect(a.leaseOwnership.leasesHeld).toBe(2);
  });

  it('takes a connection nobody can take within the share after a TTL unserved', async () => {
    const { kv, replica } = world();
    const a = replica('A');
    await a.join('j1', 'j2', 'j3');
    await advance(SETTLE + 2 * TICK);
    const b = replica('B');
    await b.join('j1', 'j2', 'j3');
    await advance(SETTLE + 3 * TICK);
    expect(a.leaseOwnership.leasesHeld).toBe(2);
    expect(b.leaseOwnership.leasesHeld).toBe(1);

    // A alone lists j4: its share (2 of 4) is full; B (2 of 3) has room but does not list it.
    await a.leaseOwnership.offer(specs('j1', 'j2', 'j3', 'j4'));
    const listedAt = Date.now();
    await advance(TTL - TICK);
    expect(a.host.ids('serve')).not.toContain('j4');
    expect(kv.lease('j4')).toBeUndefined();

    await advanceUntil(() => a.host.ids('serve').includes('j4'), 3 * TICK);
    expect(Date.now() - listedAt).toBeGreaterThanOrEqual(TTL);
    await advance(TICK);
    expect(servedBy(kv, ['j4'])).toEqual({ j4: 'A' });

    // Later every connection is served, each once, and A does not keep over-releasing what B cannot take.
    await advance(6 * TTL);
    const served = servedBy(kv, ['j1', 'j2', 'j3', 'j4']);
    expect(Object.values(served).every((r) => r !== undefined)).toBe(true);
    expect([...a.host.sessions.keys(), ...b.host.sessions.keys()].sort()).toEqual(['j1', 'j2', 'j3', 'j4']);
    expect(a.host.of('drop')).toEqual([]);
    expect(b.host.of('drop')).toEqual([]);
  });

  it("takes a dead replica's connection beyond its share once each replica had its turn, not a TTL later", async () => {
    const { kv, ids, a, c } = await threeReplicasTwoEach();
    const ofC = ids.filter((id) => kv.lease(id)?.replica === 'C');

    // B lives (its heartbeat is written) but cannot take anything; A has room for one of C's two.
    kv.failWrites((w) => w.by === 'B' && w.key.startsWith(leaseKey('')));
    c.leaseOwnership.stop();
    const expiry = lastHeartbeatOf(kv, 'C') + TTL;
    await advanceUntil(() => ofC.every((id) => a.host.ids('serve').includes(id)), 2 * TTL);
    expect(Date.now() - expiry).toBeLessThan(TTL / 2);
    expect(a.leaseOwnership.leasesHeld).toBe(4);
  });
});

describe('LeaseOwnership: leave()', () => {
  it('alone, frees the leases (session kept) after the hand-over timeout, drops with the request grace', async () => {
    const { kv, events, replica } = world();
    const a = replica('A');
    await a.join('j1', 'j2');
    await advance(SETTLE + 2 * TICK);
    const sessions = new Map(a.host.sessions);

    let left = false;
    void a.leaseOwnership.leave().then(() => {
      left = true;
    });
    await advance(0);
    // Out of the fair share, still alive (its leases with it) while it hands over.
    expect(kv.writesTo(heartbeatKey('A')).at(-1)).toMatchObject({
      op: 'put',
      outcome: 'ok',
      record: { leaving: true },
    });
    expect(stateOf(kv, 'j1')).toBe('releasing');
    expect(stateOf(kv, 'j2')).toBe('releasing');
    expect(a.host.ids('prepareHandOver').sort()).toEqual(['j1', 'j2']);

    await advance(HANDOVER - TICK);
    expect(a.host.of('drop')).toEqual([]);
    expect(left).toBe(false);

    await advance(3 * TICK);
    for (const id of ['j1', 'j2']) {
      expect(kv.lease(id)).toMatchObject({ replica: 'A', state: 'free', session_id: sessions.get(id) });
      expect(a.host.of('drop').find((args) => args[0] === id)?.[2]).toBe(GRACE);
      expectInOrder(events, `A update ${leaseKey(id)} free ok`, `A drop ${id}`);
    }
    expect(left).toBe(true);
    expect(a.leaseOwnership.leasesHeld).toBe(0);
    expect(kv.operation(heartbeatKey('A'))).toBe('DEL');

    // Stopped: no more writes, no heartbeat.
    const writes = kv.writes.length;
    await advance(3 * TTL);
    expect(kv.writes.length).toBe(writes);
  });

  it('hands every connection over to the remaining replica', async () => {
    const { kv, events, replica } = world();
    const ids = ['j1', 'j2', 'j3', 'j4'];
    const a = replica('A');
    await a.join(...ids);
    await advance(SETTLE + 2 * TICK);
    const b = replica('B');
    await b.join(...ids);
    await advance(SETTLE + 3 * TICK);
    const ofA = ids.filter((id) => kv.lease(id)?.replica === 'A');
    expect(ofA).toHaveLength(2);

    const handedBefore = a.host.ids('handOver').length;
    let left = false;
    void a.leaseOwnership.leave().then(() => {
      left = true;
    });
    await advance(2 * TICK);
    expect(left).toBe(true);
    expect(a.host.ids('handOver').slice(handedBefore).sort()).toEqual(ofA);
    expect(a.host.of('drop')).toEqual([]);
    for (const id of ofA) expectInOrder(events, `B update ${leaseKey(id)} serving ok`, `A handOver ${id}`);
    expect(servedBy(kv, ids)).toEqual({ j1: 'B', j2: 'B', j3: 'B', j4: 'B' });
  });
});

describe('LeaseOwnership: hand-over protocol', () => {
  // A write that falls between the decision to release and the relay listening must still say
  // 'serving': were it to say 'releasing', a taker could take and serve, and the giver hand over,
  // before the relay that passes the giver's owed answers back ever listened.
  it('says releasing only once the relay listens', async () => {
    const { kv, events, replica } = world();
    const a = replica('A');
    await a.join('j1', 'j2');
    await advance(SETTLE + 2 * TICK);
    const listening = gate();
    a.host.prepareGate = () => listening.promise;
    const b = replica('B');
    await b.join('j1', 'j2');
    await advance(0);
    const moving = a.host.ids('prepareHandOver')[0]!;
    expect(moving).toBeDefined();

    // The relay is not listening yet (its subscription's flush is slow): renewals come and go.
    await advance(TTL / 3 + 2 * TICK);
    expect(kv.writesTo(leaseKey(moving), 'A').map((w) => (w.record as Lease).state)).not.toContain('releasing');
    expect(b.host.ids('serve')).not.toContain(moving);

    events.push(`A relay listening ${moving}`);
    listening.open();
    await advance(TICK);
    expectInOrder(
      events,
      `A relay listening ${moving}`,
      `A update ${leaseKey(moving)} releasing ok`,
      `B update ${leaseKey(moving)} taking ok`,
      `B update ${leaseKey(moving)} serving ok`,
      `A handOver ${moving}`,
    );
    expect(kv.lease(moving)).toMatchObject({ replica: 'B', state: 'serving' });
  });
});
