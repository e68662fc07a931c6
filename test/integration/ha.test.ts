/**
 * Several replicas: daemon processes sharing 5 real Janus servers through one
 * nats-server with JetStream. The tests run in order on the same servers; each starts from
 * three balanced replicas r1, r2, r3 (ensureReplicas) and prints its figures on one line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/bridge.js';
import {
  count,
  describeInterval,
  HaCluster,
  LoadGenerator,
  millis,
  servingIntervals,
  servingOverlaps,
  summarizeFailures,
  type LoadFailure,
  type LogLine,
  type Overlap,
  type OwnersTable,
} from '../support/ha-cluster.js';

const LEASE_TTL = 3;
const THREE = ['r1', 'r2', 'r3'];
const RECOVERY_LIMIT_MS = LEASE_TTL * 1000 + 2000;

const cluster = new HaCluster({ janusCount: 5, idsPerJanus: 3, leaseTtl: LEASE_TTL, reclaimTimeout: 30 });
/** When the file's first replica started: the origin of the interval check over the whole file. */
let fileStartedAt = 0;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function heldBy(table: OwnersTable, replica: string): string[] {
  return table.owners
    .filter((o) => o.replica === replica && o.state === 'serving')
    .map((o) => o.janus_id)
    .sort();
}

function sessionIds(table: OwnersTable): Map<string, number | null> {
  return new Map(table.owners.map((o) => [o.janus_id, o.session_id]));
}

/** Ids whose session id in `after` is not the one in `before`. */
function changedSessions(
  before: Map<string, number | null>,
  after: Map<string, number | null>,
  ids: string[],
): string[] {
  return ids
    .filter((id) => before.get(id) !== after.get(id))
    .map((id) => `${id}: ${before.get(id)} -> ${after.get(id)}`);
}

/** Waits until list_sessions shows one session per janus_id on every Janus; the problems otherwise. */
async function settledSessionProblems(timeoutMs = 5000): Promise<string[]> {
  let problems: string[] = [];
  await eventually(
    async () => (problems = (await cluster.sessionProblems()).problems).length === 0,
    timeoutMs,
    'one session per janus_id',
  ).catch(() => {});
  return problems;
}

/**
 * Two intervals overlapping because of a hand-over: the taker serves first, then the old
 * owner, seeing it, lets go ("handed over to <taker>"), so they overlap briefly by design.
 */
function isHandOver(o: Overlap): boolean {
  const end = o.first.end;
  if (end.kind !== 'log' || !/hand(ed|ing)?[ -]?over/i.test(end.reason) || /lease|nats|unreachable/i.test(end.reason))
    return false;
  const to = /\bto (\S+)/.exec(end.reason)?.[1];
  return o.first.to <= o.second.to && (to === undefined || to === o.second.replica);
}

/** Failed requests, each with what the replicas logged about its janus_id around it: to see which move lost it. */
function describeFailures(failures: LoadFailure[], max = 10): string {
  const iso = (t: number): string => new Date(t).toISOString().slice(11, 23);
  return failures
    .slice(0, max)
    .map((f) => {
      const around = cluster.logs
        .filter(
          (l) =>
            l.fields.janus_id === f.janusId &&
            Math.abs(l.time - f.at) <= 1000 &&
            /serving|handing over|lease taken/.test(l.msg),
        )
        .map(
          (l) =>
            `      ${iso(l.time)} ${l.replica}#${l.generation} ` +
            `${l.msg}${l.fields.reason ? ` (${String(l.fields.reason)})` : ''}`,
        );
      return [`[ha]   ${iso(f.at)} ${f.janusId} ${f.verb}: ${f.reason} after ${f.ms} ms`, ...around].join('\n');
    })
    .join('\n');
}

describe('several replicas share the Janus servers', () => {
  beforeAll(async () => {
    await cluster.start();
  }, 60_000);

  afterAll(async () => {
    // HA_TEST_LOGS=<dir> keeps every replica's log lines for a look afterwards.
    if (process.env.HA_TEST_LOGS) cluster.dumpLogs(process.env.HA_TEST_LOGS);
    await cluster.stop();
  }, 60_000);

  it('1. three replicas own each connection once, balanced; a fourth joins and the load rebalances', async () => {
    fileStartedAt = Date.now();
    for (const id of THREE) await cluster.startReplica(id);
    const initial = await cluster.waitBalanced(THREE, 30_000, 2000);
    const startMoves = cluster.moves(fileStartedAt, initial.at);
    expect(await cluster.pingProblems()).toEqual([]);

    // admin.status: every replica answers, each for what the ownership table says it serves.
    let statusProblems: string[] = [];
    await eventually(
      async () => {
        const [statuses, table] = await Promise.all([cluster.statuses(), cluster.owners()]);
        statusProblems = [];
        const replying = statuses.map((s) => s.replica).sort();
        if (JSON.stringify(replying) !== JSON.stringify(THREE))
          statusProblems.push(`admin.status answered by ${replying.join(',')}`);
        for (const status of statuses) {
          const serves = status.connections.map((c) => c.janus_id).sort();
          if (JSON.stringify(serves) !== JSON.stringify(heldBy(table, status.replica)))
            statusProblems.push(
              `${status.replica} status ${serves.join(',')} vs owners ${heldBy(table, status.replica).join(',')}`,
            );
        }
        return statusProblems.length === 0;
      },
      10_000,
      'admin.status agrees with admin.owners',
    ).catch(() => {});
    expect(statusProblems).toEqual([]);

    // Janus's side: one session per janus_id, and they are the sessions the table names.
    const { problems, sessions } = await cluster.sessionProblems();
    expect(problems).toEqual([]);
    const onJanus = new Set(sessions.flat());
    expect(
      initial.table.owners
        .filter((o) => o.session_id === null || !onJanus.has(o.session_id))
        .map((o) => `${o.janus_id}: ${o.session_id}`),
    ).toEqual([]);

    // A fourth replica joins: every replica ends with at most ceil(15/4) = 4 and at least one.
    const joinAt = Date.now();
    await cluster.startReplica('r4');
    const four = await cluster.waitBalanced([...THREE, 'r4'], 45_000, 2000);
    const joinMoves = cluster.moves(joinAt, four.at);
    expect(await cluster.pingProblems()).toEqual([]);

    // It leaves (SIGTERM): its connections are spread over the other three again.
    const leaveAt = Date.now();
    const stopped = await cluster.replica('r4').stop();
    expect(stopped.code, cluster.replica('r4').output()).toBe(0);
    const back = await cluster.waitBalanced(THREE, 30_000, 2000);
    const leaveMoves = cluster.moves(leaveAt, back.at);
    expect(await cluster.pingProblems()).toEqual([]);
    expect(await settledSessionProblems()).toEqual([]);

    const fewest = {
      start: HaCluster.fewestMoves(undefined, initial.table),
      join: HaCluster.fewestMoves(initial.table, four.table),
      leave: HaCluster.fewestMoves(four.table, back.table),
    };
    console.log(
      `[ha] start: ${cluster.ids.length} janus_ids on ${cluster.janus.length} Janus, 3 replicas settled ` +
        `${seconds(initial.at - fileStartedAt)} after the first spawn (${HaCluster.describeCounts(initial.table)}), ` +
        `${startMoves.takes} takes (fewest ${fewest.start}); ` +
        `4th joins: settled in ${seconds(four.at - joinAt)} (${HaCluster.describeCounts(four.table)}), ` +
        `${joinMoves.takes} takes (fewest ${fewest.join}); ` +
        `4th leaves (exit ${stopped.code} in ${seconds(stopped.ms)}): settled in ${seconds(back.at - leaveAt)} ` +
        `(${HaCluster.describeCounts(back.table)}), ${leaveMoves.takes} takes (fewest ${fewest.leave})`,
    );

    // "The others hand over their excess": a rebalance moves about what it must, not connections back and forth.
    expect(startMoves.takes, 'takes while 3 replicas start').toBeLessThanOrEqual(3 * fewest.start);
    expect(joinMoves.takes, 'takes while a 4th replica joins').toBeLessThanOrEqual(3 * fewest.join);
    expect(leaveMoves.takes, 'takes while the 4th replica leaves').toBeLessThanOrEqual(3 * fewest.leave);
  }, 90_000);

  it('2. a rolling restart of all three under 200 req/s fails no request and keeps the handles', async () => {
    await cluster.ensureReplicas(THREE);
    const handles = await cluster.attachHandles();
    const before = await cluster.owners();
    const statusMark = cluster.status.messages.length;
    const load = new LoadGenerator(
      await cluster.newClient(),
      cluster.prefix,
      [...handles].map(([janusId, handleId]) => ({ janusId, handleId })),
      { rate: 200, timeoutMs: 10_000 },
    );
    const steps: string[] = [];
    const loadStartedAt = Date.now();
    let fewest = 0;
    load.start();
    let report;
    try {
      await sleep(1500);
      for (const id of THREE) {
        const replica = cluster.replica(id);
        const table = await cluster.owners();
        const held = heldBy(table, id);
        const failedBefore = load.failures.length;
        const termAt = Date.now();
        const stopped = await replica.stop();
        expect(stopped.code, `${replica.describeExit()}\n${replica.output()}`).toBe(0);
        const restartAt = Date.now();
        replica.start();
        const balanced = await cluster.waitBalanced(THREE, 45_000);
        fewest += 2 * held.length;
        // Each hand-over: from SIGTERM until another replica logged `serving` for that id.
        const taken = held.map(
          (janusId) => cluster.logsWith('serving', janusId).find((l) => l.time >= termAt && l.replica !== id)?.time,
        );
        const handedOver = taken.filter((t): t is number => t !== undefined).map((t) => t - termAt);
        steps.push(
          `${id}: ${handedOver.length}/${held.length} handed over in ` +
            `${handedOver.length ? `${Math.min(...handedOver)}..${Math.max(...handedOver)} ms` : '?'}, ` +
            `exit ${stopped.code} after ${seconds(stopped.ms)}, settled ${seconds(balanced.at - restartAt)} after ` +
            `restart (${HaCluster.describeCounts(balanced.table)}), ${load.failures.length - failedBefore} failed`,
        );
      }
      await sleep(1500);
    } finally {
      report = await load.stop();
    }
    const after = await cluster.owners();
    const moves = cluster.moves(loadStartedAt);
    const ownerChanges = cluster.status.messages
      .slice(statusMark)
      .map((m) => m.json)
      .filter((m) => m.state === 'owner-changed');
    const handleProblems = await cluster.handleProblems();
    const sessionsBefore = sessionIds(before);

    console.log(
      `[ha] rolling restart: 3 replicas, ${count(report.sent)} requests in ${seconds(report.durationMs)} ` +
        `(${(report.sent / (report.durationMs / 1000)).toFixed(0)}/s), ${report.failed.length} failed, p50 ` +
        `${millis(report.p50)}, p99 ${millis(report.p99)}, max ${millis(report.max)}, ` +
        `${ownerChanges.length} owner-changed, ${moves.takes} takes (fewest ${fewest}); ${steps.join('; ')}`,
    );
    if (report.failed.length)
      console.log(
        `[ha] rolling restart failures: ` +
          `${summarizeFailures(report.failed, loadStartedAt)}\n${describeFailures(report.failed)}`,
      );

    expect(report.failed.length, summarizeFailures(report.failed, loadStartedAt)).toBe(0);
    expect(report.sent).toBeGreaterThan(1000);
    expect(handleProblems).toEqual([]);
    // The sessions moved, they were not replaced: the same session ids, as owner-changed says.
    expect(changedSessions(sessionsBefore, sessionIds(after), cluster.ids)).toEqual([]);
    expect(ownerChanges.length).toBeGreaterThanOrEqual(cluster.ids.length);
    for (const change of ownerChanges) {
      expect(change.old_replica).not.toBe(change.new_replica);
      expect(change.session_id, JSON.stringify(change)).toBe(sessionsBefore.get(String(change.janus_id)));
    }
    expect(await settledSessionProblems()).toEqual([]);
    expect(moves.takes, 'takes during the rolling restart').toBeLessThanOrEqual(3 * fewest);
  }, 90_000);

  it('3. SIGKILL of the busiest replica: its connections answer within leaseTtl + 2 s, handles kept', async () => {
    await cluster.ensureReplicas(THREE);
    await cluster.attachHandles();
    const before = await cluster.owners();
    const [busiest] = [...HaCluster.counts(before).entries()].sort((a, b) => b[1] - a[1])[0]!;
    const held = heldBy(before, busiest);
    const victim = cluster.replica(busiest);
    const killAt = Date.now();
    await victim.kill();
    // "Answers again": an echotest message on the handle attached before the kill gets its event.
    const recovery = await cluster.timeUntilAnswering(held, killAt, RECOVERY_LIMIT_MS + 10_000, 'handle');
    const survivors = THREE.filter((r) => r !== busiest);
    const settled = await cluster.waitBalanced(survivors, 20_000);
    const handleProblems = await cluster.handleProblems();
    const sessionsChanged = changedSessions(sessionIds(before), sessionIds(settled.table), cluster.ids);
    const sessionProblems = await settledSessionProblems();

    const times = held.map((id) => recovery.get(id));
    const answered = times.filter((t): t is number => t !== undefined);
    console.log(
      `[ha] SIGKILL of ${busiest} (held ${held.length}): answering again after ` +
        `${answered.length ? `${seconds(Math.min(...answered))}..${seconds(Math.max(...answered))}` : 'never'} ` +
        `(limit ${seconds(RECOVERY_LIMIT_MS)}; per id ` +
        `${held.map((id) => `${id} ${recovery.get(id) ?? 'never'}`).join(', ')}), ` +
        `${held.length - sessionsChanged.length}/${held.length} sessions claimed, ` +
        `${cluster.handles.size - handleProblems.length}/${cluster.handles.size} handles work, survivors ` +
        `${HaCluster.describeCounts(settled.table)} ` +
        `after ${cluster.moves(killAt, settled.at).takes} takes (fewest ${held.length})`,
    );

    expect(
      held
        .filter((id) => (recovery.get(id) ?? Infinity) > RECOVERY_LIMIT_MS)
        .map((id) => `${id}: ${recovery.get(id) ?? 'never'}`),
    ).toEqual([]);
    expect(handleProblems).toEqual([]);
    expect(sessionsChanged).toEqual([]);
    expect(sessionProblems).toEqual([]);

    // Back to three for the next test.
    const restartAt = Date.now();
    victim.start();
    const three = await cluster.waitBalanced(THREE, 30_000);
    console.log(
      `[ha] ${busiest} restarted: settled in ${seconds(three.at - restartAt)} ` +
        `(${HaCluster.describeCounts(three.table)})`,
    );
  }, 90_000);

  it('4. a replica cut off from NATS stops serving before its leases expire; never two at once; no leak', async () => {
    await cluster.ensureReplicas(THREE);
    await cluster.attachHandles();
    const before = await cluster.owners();
    const victimId = 'r2';
    const victim = cluster.replica(victimId);
    const held = heldBy(before, victimId);
    const survivors = THREE.filter((r) => r !== victimId);
    const generation = victim.generation;

    const cutAt = Date.now();
    await victim.proxy!.cut();
    const recovery = await cluster.timeUntilAnswering(held, cutAt, RECOVERY_LIMIT_MS + 10_000, 'handle');
    const twoWay = await cluster.waitBalanced(survivors, 20_000);

    // From the logs: per id, the cut replica's `stopped serving`, then a survivor's `serving`.
    const firstAfter = (lines: LogLine[]): LogLine | undefined =>
      lines.filter((l) => l.time >= cutAt).sort((a, b) => a.time - b.time)[0];
    const stopOf = (id: string) =>
      firstAfter(
        cluster.logsWith('stopped serving', id).filter((l) => l.replica === victimId && l.generation === generation),
      );
    const takeOf = (id: string) => firstAfter(cluster.logsWith('serving', id).filter((l) => l.replica !== victimId));
    await eventually(() => held.every((id) => stopOf(id) && takeOf(id)), 5000, 'stopped serving / serving lines').catch(
      () => {},
    );
    const order = held.map((id) => ({ id, stop: stopOf(id), take: takeOf(id) }));
    const orderProblems = order.flatMap(({ id, stop, take }) => {
      if (!stop) return [`${id}: ${victimId} logged no "stopped serving" after the cut`];
      if (!take) return [`${id}: no other replica logged "serving" after the cut`];
      const problems: string[] = [];
      if (stop.time >= take.time)
        problems.push(
          `${id}: ${victimId} stopped at +${stop.time - cutAt} ms, ${take.replica} served from +${take.time - cutAt} ` +
            `ms`,
        );
      if (stop.time >= cutAt + LEASE_TTL * 1000)
        problems.push(
          `${id}: ${victimId} stopped at +${stop.time - cutAt} ms, not before its lease could expire (${LEASE_TTL} s)`,
        );
      return problems;
    });
    const stops = order.flatMap((o) => (o.stop ? [o.stop.time - cutAt] : []));
    const gaps = order.flatMap((o) => (o.stop && o.take ? [o.take.time - o.stop.time] : []));

    // The replica comes back: it rejoins and takes its share back, by hand-overs that fail no request.
    const load = new LoadGenerator(
      await cluster.newClient(),
      cluster.prefix,
      [...cluster.handles].map(([janusId, handleId]) => ({ janusId, handleId })),
      { rate: 200, timeoutMs: 10_000 },
    );
    load.start();
    const openAt = Date.now();
    let three: { table: OwnersTable; ms: number; at: number };
    let rejoinMs: number;
    let report;
    try {
      await victim.proxy!.open();
      three = await cluster.waitBalanced(THREE, 45_000);
      rejoinMs = three.at - openAt;
      await sleep(1000);
    } finally {
      report = await load.stop();
    }
    const pingProblems = await cluster.pingProblems();
    const sessionProblems = await settledSessionProblems();

    // Over the whole file: no two processes serving one janus_id at the same time (hand-overs reported apart).
    await sleep(200);
    const intervals = servingIntervals(
      cluster.logs.filter((l) => l.time >= fileStartedAt),
      cluster.lifetimes,
    );
    const overlaps = servingOverlaps(intervals);
    const handOver = overlaps.filter(isHandOver);
    const unsafe = overlaps.filter((o) => !handOver.includes(o));
    const times = held.map((id) => recovery.get(id));
    const answered = times.filter((t): t is number => t !== undefined);

    console.log(
      `[ha] NATS cut of ${victimId} (held ${held.length}): it stopped serving at ` +
        `+${stops.length ? `${Math.min(...stops)}..${Math.max(...stops)}` : '?'} ms, ` +
        `others served ${gaps.length ? `${Math.min(...gaps)}..${Math.max(...gaps)}` : '?'} ms after its stop, ` +
        `answering again after ` +
        `${answered.length ? `${seconds(Math.min(...answered))}..${seconds(Math.max(...answered))}` : 'never'} ` +
        `(limit ${seconds(RECOVERY_LIMIT_MS)}), ` +
        `survivors ${HaCluster.describeCounts(twoWay.table)} after ${cluster.moves(cutAt, twoWay.at).takes} takes ` +
        `(fewest ${held.length}); reopened: settled in ${seconds(rejoinMs)} ` +
        `(${HaCluster.describeCounts(three.table)}) ` +
        `under load, ${count(report.sent)} requests, ${report.failed.length} failed, p99 ${millis(report.p99)}; ` +
        `${intervals.length} serving intervals over the file, ${unsafe.length} overlaps, ${handOver.length} ` +
        `hand-over overlaps${handOver.length ? ` (max ${Math.max(...handOver.map((o) => o.ms))} ms)` : ''}`,
    );
    for (const o of unsafe.slice(0, 10)) {
      console.log(
        `[ha]   overlap ${o.janusId} ${o.ms} ms: ${describeInterval(o.first, fileStartedAt)} / ` +
          `${describeInterval(o.second, fileStartedAt)}`,
      );
    }

    expect(orderProblems).toEqual([]);
    expect(
      held
        .filter((id) => (recovery.get(id) ?? Infinity) > RECOVERY_LIMIT_MS)
        .map((id) => `${id}: ${recovery.get(id) ?? 'never'}`),
    ).toEqual([]);
    expect(heldBy(three.table, victimId).length).toBeGreaterThanOrEqual(1);
    if (report.failed.length)
      console.log(
        `[ha] rejoin failures: ${summarizeFailures(report.failed, openAt)}\n${describeFailures(report.failed)}`,
      );
    expect(report.failed.length, summarizeFailures(report.failed, openAt)).toBe(0);
    expect(pingProblems).toEqual([]);
    expect(sessionProblems).toEqual([]);
    expect(
      unsafe.map(
        (o) =>
          `${o.janusId} ${o.ms} ms: ${describeInterval(o.first, fileStartedAt)} / ` +
          `${describeInterval(o.second, fileStartedAt)}`,
      ),
    ).toEqual([]);
  }, 90_000);
});
