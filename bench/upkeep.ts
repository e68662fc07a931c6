/**
 * `npm run bench:upkeep` (after `npm run build`): what keeping the leases costs, and how fast
 * a list is shared, with 3 daemon replicas (processes, `node dist/main.js`, ha.enabled) on one
 * nats-server with JetStream, for 10, 100 and 1,000 connections.
 *
 * The janus_ids all point at ONE FAKE Janus (a WebSocket server in this process that speaks
 * just enough of the Janus API: info, create, claim of a session it knows, keepalive, ping,
 * destroy). That is enough here: the benchmark measures lease upkeep, not Janus, and a real
 * Janus would spend its CPU on 1,000 sessions' keepalives next to the daemons being measured.
 *
 * Per size, with the replicas spawned together:
 *   balanced   ms from the first spawn until `<prefix>.admin.owners` shows every connection
 *              serving, spread over the 3 replicas (each at most ceil(n/3), none empty)
 *   steady     a window from 5 s after balance (BENCH_UPKEEP_WINDOW, 20 s): KV write attempts per
 *              replica per second, counted on core NATS (a KV put, create or update is a
 *              publish on `$KV.<bucket>.<key>`, which a plain subscriber sees whether or not
 *              JetStream takes it; each record names its replica), split into heartbeats and
 *              lease writes; the bucket stream's stored messages per second (last_seq);
 *              janus_bridge_ha_lease_renewal_seconds_count per replica per second; and each
 *              daemon's CPU from /proc/<pid>/stat (% of one core)
 *   late       the same window again once 12 × ha.leaseTtl have passed since balance
 *              (BENCH_UPKEEP_LATE=0 skips it): leases are not rewritten while nothing
 *              changes, so whatever happens to a lease nobody wrote for a long time shows here
 * The previous design (every lease renewed with compare-and-set every third of the TTL) is
 * given analytically: per replica n/3 leases × 3/TTL = n/TTL writes per second.
 * Prints a table and writes bench-results/upkeep.json. Targets: upkeep writes per replica
 * per second the same at 1,000 connections as at 10; 1,000 balanced within 5 s of start.
 *
 * Environment: BENCH_UPKEEP_SIZES ("10,100,1000"), BENCH_UPKEEP_TTL (ha.leaseTtl, default
 * the daemon's 10 s), BENCH_UPKEEP_WINDOW (seconds, 20), BENCH_UPKEEP_LATE (1).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { WebSocketServer, type WebSocket } from 'ws';
import { startDaemon, type DaemonProcess } from './daemon.js';
import { machine, procCpuMicros } from './proc.js';
import { freePort, REPO, startNats, type NatsServer } from '../test/support/processes.js';

const envNumber = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const SIZES = (process.env.BENCH_UPKEEP_SIZES ?? '10,100,1000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const TTL_S = envNumber('BENCH_UPKEEP_TTL', 10);
const WINDOW_MS = envNumber('BENCH_UPKEEP_WINDOW', 20) * 1000;
const LATE = process.env.BENCH_UPKEEP_LATE !== '0';
const REPLICAS = ['u1', 'u2', 'u3'];
const BALANCE_DEADLINE_MS = 120_000;
const TARGET_BALANCED_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------- a fake Janus

interface FakeJanus {
  readonly url: string;
  readonly sockets: number;
  stop(): Promise<void>;
}

/** info, create, claim (of a session it created), keepalive, ping, destroy: what a connection's upkeep needs. */
async function startFakeJanus(): Promise<FakeJanus> {
  const port = await freePort();
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port,
    handleProtocols: (protocols) => (protocols.has('janus-protocol') ? 'janus-protocol' : false),
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const sessions = new Set<number>();
  const open = new Set<WebSocket>();
  let next = 1_000_000;
  server.on('connection', (ws) => {
    open.add(ws);
    ws.on('close', () => open.delete(ws));
    ws.on('message', (data) => {
      let request: { janus?: string; transaction?: string; session_id?: number };
      try {
        request = JSON.parse(data.toString()) as typeof request;
      } catch {
        return;
      }
      const reply = (body: Record<string, unknown>): void =>
        ws.send(JSON.stringify({ ...body, transaction: request.transaction }));
      const session = request.session_id;
      switch (request.janus) {
        case 'info':
          reply({
            janus: 'server_info',
            version_string: 'fake (bench/upkeep.ts)',
            'session-timeout': 60,
            'reclaim-session-timeout': 60,
          });
          break;
        case 'create':
          sessions.add(++next);
          reply({ janus: 'success', data: { id: next } });
          break;
        case 'claim':
          reply(
            session !== undefined && sessions.has(session)
              ? { janus: 'success', session_id: session }
              : { janus: 'error', session_id: session, error: { code: 458, reason: 'No such session' } },
          );
          break;
        case 'keepalive':
          reply({ janus: 'ack', session_id: session });
          break;
        case 'ping':
          reply({ janus: 'pong' });
          break;
        case 'destroy':
          if (session !== undefined) sessions.delete(session);
          reply({ janus: 'success', session_id: session });
          break;
        default:
          reply({ janus: 'error', error: { code: 457, reason: 'fake Janus: unknown request' } });
      }
    });
  });
  return {
    url: `ws://127.0.0.1:${port}/janus`,
    get sockets() {
      return open.size;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const ws of open) ws.terminate();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- measuring

interface OwnersTable {
  replicas: Array<{ replica: string }>;
  owners: Array<{ janus_id: string; replica: string; state: string }>;
}

/** Why `table` is not n connections serving, spread over the replicas; empty when it is. */
function imbalance(table: OwnersTable, n: number): string {
  const serving = table.owners.filter((o) => o.state === 'serving');
  const counts = new Map(REPLICAS.map((r) => [r, 0]));
  for (const row of serving) counts.set(row.replica, (counts.get(row.replica) ?? 0) + 1);
  const fair = Math.ceil(n / REPLICAS.length);
  if (serving.length !== n || new Set(serving.map((o) => o.janus_id)).size !== n)
    return `${serving.length}/${n} serving`;
  const off = [...counts].filter(([, c]) => c > fair || c < 1);
  return off.length ? off.map(([r, c]) => `${r}:${c}`).join(' ') : '';
}

/** KV write attempts seen on core NATS, by replica and kind, from `since`. */
class WriteCounter {
  private readonly writes: Array<{ at: number; replica: string; kind: 'heartbeat' | 'lease' | 'delete' }> = [];

  constructor(nc: NatsConnection, bucket: string) {
    nc.subscribe(`$KV.${bucket}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const key = msg.subject.slice(`$KV.${bucket}.`.length);
        let replica = '';
        try {
          replica = String((JSON.parse(msg.string()) as { replica?: unknown }).replica ?? '');
        } catch {
          // a delete marker: no record
        }
        const kind = msg.data.length === 0 ? 'delete' : key.startsWith('replica.') ? 'heartbeat' : 'lease';
        this.writes.push({ at: Date.now(), replica: replica || key.replace(/^replica\./, ''), kind });
      },
    });
  }

  /** Per replica: heartbeats, lease writes, deletes per second in [from, to). */
  rates(from: number, to: number): Record<string, { heartbeat: number; lease: number; delete: number; total: number }> {
    const seconds = (to - from) / 1000;
    const out: Record<string, { heartbeat: number; lease: number; delete: number; total: number }> = {};
    for (const replica of REPLICAS) out[replica] = { heartbeat: 0, lease: 0, delete: 0, total: 0 };
    for (const w of this.writes) {
      if (w.at < from || w.at >= to || !out[w.replica]) continue;
      out[w.replica]![w.kind]++;
      out[w.replica]!.total++;
    }
    for (const r of Object.values(out))
      for (const k of ['heartbeat', 'lease', 'delete', 'total'] as const) r[k] = round(r[k] / seconds, 2);
    return out;
  }
}

async function lastSeq(nc: NatsConnection, stream: string): Promise<number> {
  const reply = await nc.request(`$JS.API.STREAM.INFO.${stream}`, new Uint8Array(0), { timeout: 2000 });
  return (JSON.parse(reply.string()) as { state?: { last_seq?: number } }).state?.last_seq ?? 0;
}

async function renewals(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  return Number(/^janus_bridge_ha_lease_renewal_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
}

interface Window {
  from_s: number;
  seconds: number;
  /** KV write attempts per second per replica (core NATS), split by kind. */
  writes_per_replica: Record<string, { heartbeat: number; lease: number; delete: number; total: number }>;
  writes_per_replica_mean: number;
  lease_writes_per_replica_mean: number;
  /** Messages the bucket's stream stored per second (all replicas). */
  stored_per_second: number;
  /** janus_bridge_ha_lease_renewal_seconds_count per second, per replica. */
  renewals_per_replica: Record<string, number>;
  /** CPU per replica, % of one core. */
  cpu_percent: Record<string, number>;
  cpu_percent_mean: number;
  nats_cpu_percent: number;
  /** Connections each replica served at the end of the window (admin.owners). */
  owners: string;
}

async function measureWindow(ctx: {
  nc: NatsConnection;
  prefix: string;
  stream: string;
  counter: WriteCounter;
  daemons: Map<string, { daemon: DaemonProcess; port: number }>;
  nats: NatsServer;
  origin: number;
  n: number;
}): Promise<Window> {
  const cpu0 = new Map([...ctx.daemons].map(([id, d]) => [id, procCpuMicros(d.daemon.pid)]));
  const nats0 = procCpuMicros(ctx.nats.pid);
  const renew0 = new Map(
    await Promise.all([...ctx.daemons].map(async ([id, d]) => [id, await renewals(d.port)] as const)),
  );
  const seq0 = await lastSeq(ctx.nc, ctx.stream);
  const from = Date.now();
  await sleep(WINDOW_MS);
  const to = Date.now();
  const seq1 = await lastSeq(ctx.nc, ctx.stream);
  const renew1 = new Map(
    await Promise.all([...ctx.daemons].map(async ([id, d]) => [id, await renewals(d.port)] as const)),
  );
  const us = (to - from) * 1000;
  const cpu = Object.fromEntries(
    [...ctx.daemons].map(([id, d]) => [id, round(((procCpuMicros(d.daemon.pid) - cpu0.get(id)!) / us) * 100, 2)]),
  );
  const writes = ctx.counter.rates(from, to);
  const table = (await ctx.nc.request(`${ctx.prefix}.admin.owners`, '{}', { timeout: 5000 })).json<OwnersTable>();
  const counts = REPLICAS.map(
    (r) => `${r}:${table.owners.filter((o) => o.replica === r && o.state === 'serving').length}`,
  ).join(' ');
  const problem = imbalance(table, ctx.n);
  const mean = (values: number[]): number => round(values.reduce((a, b) => a + b, 0) / values.length, 2);
  return {
    from_s: round((from - ctx.origin) / 1000, 1),
    seconds: round((to - from) / 1000, 1),
    writes_per_replica: writes,
    writes_per_replica_mean: mean(Object.values(writes).map((w) => w.total)),
    lease_writes_per_replica_mean: mean(Object.values(writes).map((w) => w.lease)),
    stored_per_second: round((seq1 - seq0) / ((to - from) / 1000), 2),
    renewals_per_replica: Object.fromEntries(
      [...renew1].map(([id, v]) => [id, round((v - renew0.get(id)!) / ((to - from) / 1000), 2)]),
    ),
    cpu_percent: cpu,
    cpu_percent_mean: mean(Object.values(cpu)),
    nats_cpu_percent: round(((procCpuMicros(ctx.nats.pid) - nats0) / us) * 100, 2),
    owners: problem ? `${counts} (${problem})` : counts,
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------- one size

interface SizeResult {
  connections: number;
  balanced_ms: number | undefined;
  balanced_owners: string;
  /** The previous design, per replica: n/3 leases renewed every TTL/3. */
  previous_design_writes_per_replica: number;
  steady: Window;
  late?: Window;
  problems: string[];
}

async function runSize(n: number, nats: NatsServer, janus: FakeJanus, nc: NatsConnection): Promise<SizeResult> {
  const prefix = `up${n}`;
  const bucket = `${prefix}_owners`;
  const stream = `KV_${bucket}`;
  const counter = new WriteCounter(nc, bucket);
  await nc.flush();
  const connections = Array.from({ length: n }, (_, i) => ({
    janus_id: `u${String(i + 1).padStart(4, '0')}`,
    janus_url: janus.url,
  }));
  const daemons = new Map<string, { daemon: DaemonProcess; port: number }>();
  const ports = await Promise.all(REPLICAS.map(() => freePort()));
  const origin = Date.now();
  try {
    for (const [k, replicaId] of REPLICAS.entries()) {
      const daemon = startDaemon({
        natsUrl: nats.url,
        connections,
        ...(process.env.BENCH_UPKEEP_PROFILE_DIR ? { profileDir: process.env.BENCH_UPKEEP_PROFILE_DIR } : {}),
        config: {
          nats: { servers: [nats.url], subjectPrefix: prefix },
          http: { host: '127.0.0.1', port: ports[k] },
          ha: { enabled: true, replicaId, ...(process.env.BENCH_UPKEEP_TTL ? { leaseTtl: TTL_S } : {}) },
        },
      });
      daemons.set(replicaId, { daemon, port: ports[k]! });
    }
    // Balanced: every connection serving, spread over the three.
    let balancedAt: number | undefined;
    let last = '';
    while (Date.now() - origin < BALANCE_DEADLINE_MS) {
      try {
        const table = (await nc.request(`${prefix}.admin.owners`, '{}', { timeout: 2000 })).json<OwnersTable>();
        last = imbalance(table, n);
        if (!last) {
          balancedAt = Date.now();
          break;
        }
      } catch (err) {
        last = (err as Error).message;
      }
      for (const [id, d] of daemons)
        if (d.daemon.child.exitCode !== null)
          throw new Error(`replica ${id} exited: ${d.daemon.problems().join('\n')}`);
      await sleep(50);
    }
    if (balancedAt === undefined)
      throw new Error(`${n} connections not balanced over 3 replicas within ${BALANCE_DEADLINE_MS} ms: ${last}`);
    const balancedMs = balancedAt - origin;
    log(`  ${n}: balanced ${balancedMs} ms after the first spawn`);
    const table = (await nc.request(`${prefix}.admin.owners`, '{}', { timeout: 5000 })).json<OwnersTable>();
    const balancedOwners = REPLICAS.map((r) => `${r}:${table.owners.filter((o) => o.replica === r).length}`).join(' ');
    const ctx = { nc, prefix, stream, counter, daemons, nats, origin, n };
    await sleep(5000);
    const steady = await measureWindow(ctx);
    log(
      `  ${n}: steady ${steady.writes_per_replica_mean} writes/s per replica ` +
        `(${steady.lease_writes_per_replica_mean} lease writes), CPU ${steady.cpu_percent_mean} %`,
    );
    let late: Window | undefined;
    if (LATE) {
      const lateAt = balancedAt + 12 * TTL_S * 1000;
      log(
        `  ${n}: waiting ${Math.round((lateAt - Date.now()) / 1000)} s ` +
          'for the late window (12 × ha.leaseTtl after balance)',
      );
      await sleep(Math.max(0, lateAt - Date.now()));
      late = await measureWindow(ctx);
      log(
        `  ${n}: late ${late.writes_per_replica_mean} writes/s per replica ` +
          `(${late.lease_writes_per_replica_mean} lease writes), CPU ${late.cpu_percent_mean} %, owners ${late.owners}`,
      );
    }
    const problems = [...daemons].flatMap(([id, d]) =>
      d.daemon
        .problems()
        .slice(-3)
        .map((p) => `${id}: ${p.slice(0, 200)}`),
    );
    return {
      connections: n,
      balanced_ms: balancedMs,
      balanced_owners: balancedOwners,
      previous_design_writes_per_replica: round(n / TTL_S, 2),
      steady,
      ...(late ? { late } : {}),
      problems,
    };
  } finally {
    // No hand-overs at the end: the next size starts from nothing.
    // A profiled daemon writes its profile only when it exits on its own (SIGTERM).
    const profiling = process.env.BENCH_UPKEEP_PROFILE_DIR !== undefined;
    await Promise.all([...daemons.values()].map((d) => (profiling ? d.daemon.stop(60_000) : d.daemon.kill())));
  }
}

// ---------------------------------------------------------------- main

function render(results: SizeResult[]): string {
  const rows: string[][] = [
    [
      'connections',
      'balanced',
      'window',
      'writes/s/replica',
      'of which leases',
      'previous design',
      'stored/s',
      'renewals/s/replica',
      'CPU/replica',
      'nats CPU',
      'owners at end',
    ],
  ];
  for (const r of results) {
    for (const [name, w] of [
      ['steady', r.steady],
      ['late', r.late],
    ] as const) {
      if (!w) continue;
      rows.push([
        name === 'steady' ? r.connections.toLocaleString('en-US') : '',
        name === 'steady' ? `${r.balanced_ms} ms` : '',
        `${name} +${w.from_s} s`,
        `${w.writes_per_replica_mean}`,
        `${w.lease_writes_per_replica_mean}`,
        name === 'steady' ? `${r.previous_design_writes_per_replica}` : '',
        `${w.stored_per_second}`,
        `${round(Object.values(w.renewals_per_replica).reduce((a, b) => a + b, 0) / REPLICAS.length, 2)}`,
        `${w.cpu_percent_mean} %`,
        `${w.nats_cpu_percent} %`,
        w.owners,
      ]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const store = join(REPO, 'node_modules/.cache', `jnb-upkeep-js-${process.pid}`);
    mkdirSync(store, { recursive: true });
    // Run last: after the nats-server that writes there has stopped.
    cleanups.push(async () => rmSync(store, { recursive: true, force: true }));
    const nats = await startNats(undefined, ['-js', '-sd', store]);
    cleanups.push(() => nats.stop());
    const janus = await startFakeJanus();
    cleanups.push(() => janus.stop());
    const nc = await connect({ servers: nats.url, name: 'bench-upkeep' });
    cleanups.push(() => nc.close());
    const results: SizeResult[] = [];
    for (const n of SIZES) {
      log(`upkeep: ${n} connections over ${REPLICAS.length} replicas (ha.leaseTtl ${TTL_S} s)`);
      results.push(await runSize(n, nats, janus, nc));
    }
    const first = results[0];
    const largest = results[results.length - 1];
    const targets =
      first && largest
        ? {
            same_upkeep: {
              target: `writes per replica per second at ${largest.connections} the same as at ${first.connections}`,
              at_smallest: first.steady.writes_per_replica_mean,
              at_largest: largest.steady.writes_per_replica_mean,
              late_at_largest: largest.late?.writes_per_replica_mean,
              met:
                Math.abs(largest.steady.writes_per_replica_mean - first.steady.writes_per_replica_mean) <=
                  0.15 * Math.max(first.steady.writes_per_replica_mean, 0.1) &&
                (largest.late === undefined ||
                  first.late === undefined ||
                  Math.abs(largest.late.writes_per_replica_mean - first.late.writes_per_replica_mean) <=
                    0.15 * Math.max(first.late.writes_per_replica_mean, 0.1)),
            },
            balanced_within_5s:
              largest.connections >= 1000
                ? {
                    target: `${largest.connections} balanced within ${TARGET_BALANCED_MS} ms of start`,
                    ms: largest.balanced_ms,
                    met: (largest.balanced_ms ?? Infinity) <= TARGET_BALANCED_MS,
                  }
                : undefined,
          }
        : undefined;
    const result = {
      date: new Date().toISOString(),
      machine: machine('fake (bench/upkeep.ts)'),
      parameters: {
        sizes: SIZES,
        replicas: REPLICAS.length,
        lease_ttl_s: TTL_S,
        window_s: WINDOW_MS / 1000,
        late_window: LATE,
        janus: 'one fake Janus (WebSocket, janus-protocol) in the benchmark process',
      },
      note:
        'writes counted on core NATS ($KV.<bucket>.>): every put/create/update a replica sends, taken or refused; ' +
        'previous design: n/3 leases per replica renewed every TTL/3 = n/TTL writes/s per replica (heartbeats aside)',
      sizes: results,
      targets,
    };
    const table = render(results);
    process.stdout.write(`\n${table}\n\n`);
    if (targets) process.stdout.write(`targets: ${JSON.stringify(targets)}\n`);
    mkdirSync(join(REPO, 'bench-results'), { recursive: true });
    writeFileSync(
      join(REPO, 'bench-results/upkeep.json'),
      `${JSON.stringify({ ...result, table: table.split('\n') }, null, 2)}\n`,
    );
    log('written to bench-results/upkeep.json');
  } finally {
    // Best effort: a step that fails must not keep the others from running.
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  }
}

const watchdog = setTimeout(() => {
  log('upkeep benchmark took more than 20 minutes: stopping');
  process.exit(1);
}, 20 * 60_000);
watchdog.unref();

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`upkeep benchmark failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
