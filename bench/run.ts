/**
 * `npm run bench`: how much the bridge costs over talking to Janus and NATS directly.
 *
 * Starts a loopback Janus and private nats-servers, then measures on the same machine:
 *   direct  a plain ws client sending `keepalive` on a Janus session (the Janus leg's floor)
 *   echo    NATS request/reply to a trivial responder in its own process (the NATS leg's floor)
 *   bridge  NATS request → the daemon (node dist/main.js, its own process) → Janus → reply
 * then events per second from a real Janus (echotest fire-and-forget messages), and the cost
 * of 10, 100 and 1,000 connections (time until all are up, RSS).
 * Prints a table and writes bench-results/latest.json. Not a gate: the figures are noisy.
 *
 * Environment: BENCH_PROFILE=1 runs the daemons under `node --cpu-prof` (into
 * BENCH_PROFILE_DIR, default /tmp/prof/<time>) and prints the top self-time functions;
 * its figures then go next to the profiles, not to bench-results/.
 * BENCH_SEQ, BENCH_REQUESTS, BENCH_EVENTS, BENCH_CONNECTIONS (e.g. "10,100,1000") scale it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { startDaemon, type DaemonProcess } from './daemon.js';
import { DirectJanus } from './janus-direct.js';
import { machine, percentile, procCpuMicros, procRssMiB } from './proc.js';
import { REPO } from '../test/support/processes.js';
import { formatSummary, summarizeProfile } from './profile-summary.js';
import { manage, startJanus, startNats, type ManagedProcess as Managed } from '../test/support/processes.js';

const envInt = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const WARMUP = 500;
const SEQUENTIAL = envInt('BENCH_SEQ', 2_000);
const REQUESTS = envInt('BENCH_REQUESTS', 20_000);
const WINDOW = 256;
const EVENTS = envInt('BENCH_EVENTS', 10_000);
/** Fire-and-forget messages sent but not yet seen as events: keeps the burst bounded. */
const EVENT_WINDOW = 1_000;
const CONNECTION_COUNTS = (process.env.BENCH_CONNECTIONS ?? '10,100,1000').split(',').map(Number).filter((n) => n > 0);
const CONNECT_DEADLINE_MS = 60_000;
/** Wait after all are up: one keepalive round at the default janus.pingInterval of 5 s. */
const IDLE_MS = 5_500;
const WATCHDOG_MS = 300_000;
const PROFILE = process.env.BENCH_PROFILE === '1';
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR ?? `/tmp/prof/${new Date().toISOString().replace(/[:.]/g, '-')}`;

const KEEPALIVE = Buffer.from('{"janus":"keepalive","transaction":"bench"}');

// ---------------------------------------------------------------- measuring

interface Latency { n: number; p50_ms: number; p99_ms: number; mean_ms: number; max_ms: number }
interface Throughput { n: number; window: number; seconds: number; per_second: number; errors: number }

async function sequential(n: number, once: () => Promise<void>): Promise<Latency> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await once();
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { n, p50_ms: percentile(ms, 50), p99_ms: percentile(ms, 99), mean_ms: ms.reduce((a, b) => a + b, 0) / n, max_ms: ms[n - 1]! };
}

/** n requests, `window` of them in flight at any time. */
async function windowed(n: number, window: number, once: () => Promise<void>): Promise<Throughput> {
  let started = 0;
  let errors = 0;
  let firstError: string | undefined;
  const begin = process.hrtime.bigint();
  const lane = async (): Promise<void> => {
    while (started < n) {
      started++;
      try {
        await once();
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
  const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
  if (firstError) log(`  ${errors} errors, first: ${firstError}`);
  return { n, window, seconds, per_second: n / seconds, errors };
}

interface CpuProbe { read(): number }
interface CpuUse { cpu_ms: number; us_per_request: number }
async function measureCpu<T>(probe: CpuProbe | (() => Promise<number>), requests: number, run: () => Promise<T>): Promise<[T, CpuUse]> {
  const read = typeof probe === 'function' ? probe : async () => probe.read();
  const before = await read();
  const result = await run();
  const used = (await read()) - before;
  return [result, { cpu_ms: used / 1000, us_per_request: used / requests }];
}

interface LegResult {
  sequential: Latency;
  throughput: Throughput;
  /** CPU of the process under test (the echo responder, the daemon), sequential and windowed phases. */
  cpu_sequential?: CpuUse;
  cpu_window?: CpuUse;
  /** CPU of Janus itself, windowed phase. */
  janus_cpu_window?: CpuUse;
}

// ---------------------------------------------------------------- events

interface EventRate { sent: number; events: number; seconds: number; per_second: number; complete: boolean; cpu?: CpuUse; janus_cpu?: CpuUse }

/**
 * Sends `total` fire-and-forget messages, at most EVENT_WINDOW ahead of the events seen,
 * and times until the last event arrives (or until nothing came for 5 s).
 */
function eventBurst(total: number, sendOne: (i: number) => void, subscribeEvents: (onEvent: () => void) => void): Promise<EventRate> {
  return new Promise((resolve) => {
    let sent = 0;
    let events = 0;
    let finished = false;
    const begin = process.hrtime.bigint();
    let lastProgress = Date.now();
    const finish = (complete: boolean): void => {
      if (finished) return;
      finished = true;
      clearInterval(idle);
      const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
      resolve({ sent, events, seconds, per_second: events / seconds, complete });
    };
    const pump = (): void => {
      while (sent < total && sent - events < EVENT_WINDOW) sendOne(sent++);
    };
    subscribeEvents(() => {
      events++;
      lastProgress = Date.now();
      if (events >= total) finish(true);
      else if ((events & 63) === 0) pump();
    });
    const idle = setInterval(() => {
      pump();
      if (Date.now() - lastProgress > 5_000) finish(false);
    }, 20);
    pump();
  });
}

const EVENT_PATTERN = /"janus"\s*:\s*"event"/;

// ---------------------------------------------------------------- the run

const cleanups: (() => Promise<unknown>)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

function janusCpu(janus: Pick<Managed, 'pid'>): CpuProbe {
  return { read: () => procCpuMicros(janus.pid) };
}

async function waitConnected(nc: NatsConnection, ids: Set<string>, daemon: DaemonProcess, deadlineMs: number) {
  const connected = new Set<string>();
  const states: Record<string, number> = {};
  let firstAt: number | undefined;
  let allAt: number | undefined;
  const sub = nc.subscribe('janus.status.>');
  const done = (async () => {
    for await (const msg of sub) {
      const status = JSON.parse(msg.string()) as { janus_id: string; state: string };
      states[status.state] = (states[status.state] ?? 0) + 1;
      if (status.state === 'connected' && ids.has(status.janus_id)) {
        connected.add(status.janus_id);
        firstAt ??= Date.now();
        if (connected.size === ids.size) {
          allAt = Date.now();
          return;
        }
      }
    }
  })();
  await nc.flush();
  return {
    async wait(): Promise<{ up: number; first_ms?: number; all_ms?: number; states: Record<string, number> }> {
      const timer = setTimeout(() => sub.unsubscribe(), deadlineMs);
      await done;
      clearTimeout(timer);
      sub.unsubscribe();
      return {
        up: connected.size,
        first_ms: firstAt !== undefined ? firstAt - daemon.spawnedAt : undefined,
        all_ms: allAt !== undefined ? allAt - daemon.spawnedAt : undefined,
        states,
      };
    },
  };
}

async function profileOf(dir: string, title: string): Promise<unknown> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) {
    log(`no .cpuprofile in ${dir}`);
    return undefined;
  }
  const summary = summarizeProfile(join(dir, files[0]!), 15);
  log('');
  log(formatSummary(`${title} (${join(dir, files[0]!)})`, summary));
  return { file: join(dir, files[0]!), ...summary };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  log(`janus-nats-bridge benchmark${PROFILE ? ` (profiling the daemon into ${PROFILE_DIR})` : ''}`);
  const janus = await startJanus();
  cleanups.push(() => janus.stop());
  log(`Janus on ${`ws://127.0.0.1:${janus.wsPort}/janus`} (pid ${janus.pid})`);

  // ---------------------------------------------------------------- direct
  const direct = await DirectJanus.open(`ws://127.0.0.1:${janus.wsPort}/janus`);
  cleanups.push(() => direct.close());
  const info = await direct.request({ janus: 'info' });
  const janusVersion = String(info.version_string ?? 'unknown');
  const created = await direct.request({ janus: 'create' });
  const session = (created.data as { id: number }).id;
  const keepalive = async (): Promise<void> => {
    const answer = await direct.request({ janus: 'keepalive', session_id: session });
    if (answer.janus !== 'ack') throw new Error(`keepalive answered ${JSON.stringify(answer)}`);
  };
  log('direct: warm-up');
  await sequential(WARMUP, keepalive);
  await windowed(WARMUP * 4, WINDOW, keepalive);
  log(`direct: ${SEQUENTIAL} sequential, ${REQUESTS} with ${WINDOW} in flight`);
  const directSeq = await sequential(SEQUENTIAL, keepalive);
  const [directTput, directJanusCpu] = await measureCpu(janusCpu(janus), REQUESTS, () => windowed(REQUESTS, WINDOW, keepalive));
  const directLeg: LegResult = { sequential: directSeq, throughput: directTput, janus_cpu_window: directJanusCpu };

  log(`direct: ${EVENTS} fire-and-forget echotest messages`);
  const attached = await direct.request({ janus: 'attach', session_id: session, plugin: 'janus.plugin.echotest' });
  const directHandle = (attached.data as { id: number }).id;
  const [directEvents, directEventsJanusCpu] = await measureCpu(janusCpu(janus), EVENTS, () => eventBurst(
    EVENTS,
    () => direct.send({ janus: 'message', session_id: session, handle_id: directHandle, body: { audio: true } }),
    (onEvent) => { direct.onOther = (body) => { if (body.janus === 'event') onEvent(); }; },
  ));
  directEvents.janus_cpu = directEventsJanusCpu;
  direct.onOther = () => {};
  await direct.request({ janus: 'detach', session_id: session, handle_id: directHandle });
  await direct.request({ janus: 'destroy', session_id: session });
  await direct.close();

  // ---------------------------------------------------------------- echo
  const echoNats = await startNats();
  cleanups.push(() => echoNats.stop());
  const echoChild = spawn(process.execPath, [join(import.meta.dirname, 'echo-responder.js'), echoNats.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  const echo = manage(echoChild);
  cleanups.push(() => echo.stop());
  await new Promise<void>((resolve, reject) => {
    echoChild.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
    echoChild.once('exit', (code) => reject(new Error(`echo responder exited with ${code}: ${echo.output()}`)));
  });
  const echoNc = await connect({ servers: echoNats.url, name: 'bench-client' });
  cleanups.push(() => echoNc.close());
  const echoOnce = async (): Promise<void> => { await echoNc.request('bench.echo', KEEPALIVE, { timeout: 5_000 }); };
  const echoCpu = async (): Promise<number> => {
    const usage = JSON.parse((await echoNc.request('bench.cpu', undefined, { timeout: 5_000 })).string()) as NodeJS.CpuUsage;
    return usage.user + usage.system;
  };
  log('echo: warm-up');
  await sequential(WARMUP, echoOnce);
  await windowed(WARMUP * 4, WINDOW, echoOnce);
  log(`echo: ${SEQUENTIAL} sequential, ${REQUESTS} with ${WINDOW} in flight`);
  const echoProcCpuBefore = procCpuMicros(echo.pid);
  const [echoSeq, echoCpuSeq] = await measureCpu(echoCpu, SEQUENTIAL, () => sequential(SEQUENTIAL, echoOnce));
  const [echoTput, echoCpuWindow] = await measureCpu(echoCpu, REQUESTS, () => windowed(REQUESTS, WINDOW, echoOnce));
  const echoProcCpuUs = (procCpuMicros(echo.pid) - echoProcCpuBefore) / (SEQUENTIAL + REQUESTS);
  const echoLeg: LegResult = { sequential: echoSeq, throughput: echoTput, cpu_sequential: echoCpuSeq, cpu_window: echoCpuWindow };
  await echoNc.close();
  await echo.stop();
  await echoNats.stop();

  // ---------------------------------------------------------------- bridge
  const nats = await startNats();
  cleanups.push(() => nats.stop());
  const nc = await connect({ servers: nats.url, name: 'bench-client' });
  cleanups.push(() => nc.close());
  const profileBridge = PROFILE ? join(PROFILE_DIR, 'bridge') : undefined;
  if (profileBridge) mkdirSync(profileBridge, { recursive: true });
  const bridgeDaemon = startDaemon({ natsUrl: nats.url, connections: [{ janus_id: 'bench', janus_url: janus.url }], profileDir: profileBridge });
  cleanups.push(() => bridgeDaemon.stop(20_000));
  const bridgeUp = await (await waitConnected(nc, new Set(['bench']), bridgeDaemon, 15_000)).wait();
  if (bridgeUp.up !== 1) throw new Error(`the daemon did not connect to Janus: ${bridgeDaemon.problems().join('\n')}`);
  const bridgeOnce = async (): Promise<void> => {
    const reply = await nc.request('janus.request.bench', KEEPALIVE, { timeout: 5_000 });
    const body = JSON.parse(reply.string()) as { janus: string };
    if (body.janus !== 'ack') throw new Error(`keepalive answered ${reply.string()}`);
  };
  const daemonCpu: CpuProbe = { read: () => procCpuMicros(bridgeDaemon.pid) };
  log('bridge: warm-up');
  await sequential(WARMUP, bridgeOnce);
  await windowed(WARMUP * 4, WINDOW, bridgeOnce);
  log(`bridge: ${SEQUENTIAL} sequential, ${REQUESTS} with ${WINDOW} in flight`);
  const logBytesBefore = bridgeDaemon.logBytes();
  const [bridgeSeq, bridgeCpuSeq] = await measureCpu(daemonCpu, SEQUENTIAL, () => sequential(SEQUENTIAL, bridgeOnce));
  const janusBefore = procCpuMicros(janus.pid);
  const [bridgeTput, bridgeCpuWindow] = await measureCpu(daemonCpu, REQUESTS, () => windowed(REQUESTS, WINDOW, bridgeOnce));
  const bridgeJanusCpu = (procCpuMicros(janus.pid) - janusBefore) / 1000;
  const bridgeLeg: LegResult = {
    sequential: bridgeSeq, throughput: bridgeTput, cpu_sequential: bridgeCpuSeq, cpu_window: bridgeCpuWindow,
    janus_cpu_window: { cpu_ms: bridgeJanusCpu, us_per_request: (bridgeJanusCpu * 1000) / REQUESTS },
  };
  const logBytesPerRequest = (bridgeDaemon.logBytes() - logBytesBefore) / (SEQUENTIAL + REQUESTS);

  log(`bridge: ${EVENTS} fire-and-forget echotest messages`);
  const attachReply = JSON.parse((await nc.request('janus.request.bench', Buffer.from('{"janus":"attach","plugin":"janus.plugin.echotest"}'), { timeout: 5_000 })).string()) as { data: { id: number } };
  const bridgeHandle = attachReply.data.id;
  const eventSub = nc.subscribe('janus.event.bench');
  let otherEvents = 0;
  const janusBeforeEvents = procCpuMicros(janus.pid);
  const [bridgeEvents, bridgeEventsCpu] = await measureCpu(daemonCpu, EVENTS, () => eventBurst(
    EVENTS,
    (i) => nc.publish('janus.request.bench', Buffer.from(`{"janus":"message","handle_id":${bridgeHandle},"body":{"audio":true},"transaction":"e${i}"}`)),
    (onEvent) => {
      void (async () => {
        for await (const msg of eventSub) {
          if (EVENT_PATTERN.test(msg.string())) onEvent();
          else otherEvents++;
        }
      })();
    },
  ));
  eventSub.unsubscribe();
  bridgeEvents.cpu = bridgeEventsCpu;
  const janusEventsCpu = (procCpuMicros(janus.pid) - janusBeforeEvents) / 1000;
  bridgeEvents.janus_cpu = { cpu_ms: janusEventsCpu, us_per_request: (janusEventsCpu * 1000) / EVENTS };
  await nc.request('janus.request.bench', Buffer.from(`{"janus":"detach","handle_id":${bridgeHandle}}`), { timeout: 5_000 });
  const bridgeRss = procRssMiB(bridgeDaemon.pid);
  const bridgeLogs = bridgeDaemon.logCounts();
  const bridgeProblems = bridgeDaemon.problems();
  const bridgeShutdownMs = await bridgeDaemon.stop(20_000);
  const bridgeProfile = profileBridge ? await profileOf(profileBridge, 'daemon, bridge + events phases') : undefined;

  // ---------------------------------------------------------------- N connections
  const connectionResults: Record<string, unknown>[] = [];
  const connectionProfiles: Record<string, unknown> = {};
  for (const count of CONNECTION_COUNTS) {
    log(`connections: ${count} janus_ids on one Janus`);
    const ids = Array.from({ length: count }, (_, i) => `c${count}-${i}`);
    const profileDir = PROFILE && count === Math.max(...CONNECTION_COUNTS) ? join(PROFILE_DIR, `connections-${count}`) : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const daemon = startDaemon({ natsUrl: nats.url, connections: ids.map((id) => ({ janus_id: id, janus_url: janus.url })), profileDir });
    cleanups.push(() => daemon.stop(20_000));
    const watcher = await waitConnected(nc, new Set(ids), daemon, CONNECT_DEADLINE_MS);
    const up = await watcher.wait();
    const rssUp = procRssMiB(daemon.pid);
    const cpuUp = procCpuMicros(daemon.pid) / 1000;
    // One keepalive round later (pingInterval 5 s): memory once the start-up garbage is gone, and what a round costs.
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const rssLater = procRssMiB(daemon.pid);
    const hwm = procRssMiB(daemon.pid, 'VmHWM');
    const cpuLater = procCpuMicros(daemon.pid) / 1000;
    const logs = daemon.logCounts();
    const problems = daemon.problems();
    const shutdownMs = await daemon.stop(30_000);
    connectionResults.push({
      connections: count, up: up.up, first_connected_ms: up.first_ms, all_connected_ms: up.all_ms,
      rss_mib_when_up: rssUp, rss_mib_idle_later: rssLater, rss_peak_mib: hwm,
      cpu_ms_until_up: cpuUp, cpu_ms_idle: cpuLater - cpuUp, idle_ms: IDLE_MS,
      shutdown_ms: shutdownMs, status_messages: up.states, log_lines: logs, problems: problems.slice(-5),
    });
    if (profileDir) connectionProfiles[String(count)] = await profileOf(profileDir, `daemon, ${count} connections start-up and shutdown`);
  }
  await nc.close();
  await nats.stop();
  const janusStopMs = await janus.stop();
  cleanups.length = 0;

  // ---------------------------------------------------------------- report
  const ratio = (value: number, target: number, lowerIsBetter: boolean) => ({
    value, target: `${lowerIsBetter ? '<=' : '>='} ${target}`, pass: lowerIsBetter ? value <= target : value >= target,
  });
  const ratios = {
    latency_p50: ratio(bridgeSeq.p50_ms / (directSeq.p50_ms + echoSeq.p50_ms), 1.10, true),
    throughput: ratio(bridgeTput.per_second / Math.min(directTput.per_second, echoTput.per_second), 0.65, false),
    cpu_per_request: ratio(bridgeCpuWindow.us_per_request / echoCpuWindow.us_per_request, 1.8, true),
  };
  const largest = connectionResults[connectionResults.length - 1] as { connections: number; all_connected_ms?: number; rss_mib_when_up: number } | undefined;
  const results = {
    benchmark: 'janus-nats-bridge',
    at: startedAt.toISOString(),
    profiled: PROFILE,
    machine: machine(janusVersion),
    parameters: { warmup: WARMUP, sequential: SEQUENTIAL, requests: REQUESTS, window: WINDOW, events: EVENTS, event_window: EVENT_WINDOW, connections: CONNECTION_COUNTS, daemon_log_level: 'info' },
    direct: directLeg,
    echo: { ...echoLeg, cpu_us_per_request_from_proc_stat: echoProcCpuUs },
    bridge: {
      ...bridgeLeg, rss_mib: bridgeRss, log_bytes_per_request: logBytesPerRequest, log_lines: bridgeLogs,
      shutdown_ms: bridgeShutdownMs, problems: bridgeProblems.slice(-10),
    },
    ratios,
    events: { direct: directEvents, bridge: { ...bridgeEvents, non_event_messages: otherEvents } },
    connections: connectionResults,
    connection_targets: largest && largest.connections >= 1000 ? {
      all_up_under_10s: { value_ms: largest.all_connected_ms ?? null, pass: largest.all_connected_ms !== undefined && largest.all_connected_ms < 10_000 },
      rss_under_250mib: { value_mib: largest.rss_mib_when_up, pass: largest.rss_mib_when_up < 250 },
    } : undefined,
    janus_stop_ms: janusStopMs,
    profiles: PROFILE ? { bridge: bridgeProfile, connections: connectionProfiles } : undefined,
  };

  const table = render(results);
  process.stdout.write(table + '\n');
  const outDir = PROFILE ? PROFILE_DIR : join(REPO, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, PROFILE ? 'results.json' : 'latest.json');
  writeFileSync(outFile, JSON.stringify(results, null, 2) + '\n');
  log(`written: ${outFile}`);
}

// ---------------------------------------------------------------- table

const f = (n: number | undefined, digits = 3): string => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits));
const k = (n: number): string => Math.round(n).toLocaleString('en-US');

function render(r: any): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`janus-nats-bridge benchmark, ${r.at}${r.profiled ? ' (daemon PROFILED: figures not comparable)' : ''}`);
  lines.push(`machine: ${m.nproc} CPUs, ${m.cpu_model}, Linux ${m.kernel}, Node ${m.node}, Janus ${m.janus}, ${m.nats_server}`);
  lines.push(`requests: Janus keepalive; ${r.parameters.warmup} warm-up, ${r.parameters.sequential} sequential, ${r.parameters.requests} with ${r.parameters.window} in flight; daemon log level info`);
  lines.push('');
  const head = ['leg', 'p50 ms', 'p99 ms', 'req/s (256)', 'CPU µs/req seq', 'CPU µs/req 256', 'Janus µs/req 256'];
  const rows: string[][] = [head];
  for (const [name, leg] of [['direct (ws → Janus)', r.direct], ['echo (NATS responder)', r.echo], ['bridge (NATS → daemon → Janus)', r.bridge]] as const) {
    rows.push([
      name, f(leg.sequential.p50_ms), f(leg.sequential.p99_ms), k(leg.throughput.per_second) + (leg.throughput.errors ? ` (${leg.throughput.errors} err)` : ''),
      f(leg.cpu_sequential?.us_per_request, 1), f(leg.cpu_window?.us_per_request, 1), f(leg.janus_cpu_window?.us_per_request, 1),
    ]);
  }
  lines.push(...grid(rows));
  lines.push('');
  const verdict = (x: { value: number; target: string; pass: boolean }): string => `${x.value.toFixed(2).padStart(6)}  (target ${x.target})  ${x.pass ? 'PASS' : 'MISS'}`;
  lines.push(`latency ratio     bridge p50 / (direct p50 + echo p50)            ${verdict(r.ratios.latency_p50)}`);
  lines.push(`throughput ratio  bridge req/s / min(direct, echo)                ${verdict(r.ratios.throughput)}`);
  lines.push(`CPU ratio         daemon µs/req / echo responder µs/req (256)     ${verdict(r.ratios.cpu_per_request)}`);
  lines.push(`  (info) sequential CPU ratio, daemon / echo: ${(r.bridge.cpu_sequential.us_per_request / r.echo.cpu_sequential.us_per_request).toFixed(2)}; echo CPU from /proc/<pid>/stat over both phases: ${f(r.echo.cpu_us_per_request_from_proc_stat, 1)} µs/req`);
  lines.push(`daemon with 1 connection: RSS ${f(r.bridge.rss_mib, 1)} MiB, ${f(r.bridge.log_bytes_per_request, 2)} log bytes/request, shutdown ${r.bridge.shutdown_ms} ms`);
  lines.push('');
  const ev = r.events;
  lines.push(`events (echotest fire-and-forget message → event, ${k(r.parameters.events)} sent, ≤ ${k(r.parameters.event_window)} outstanding)`);
  lines.push(...grid([
    ['path', 'events', 'seconds', 'events/s', 'daemon CPU µs/event', 'Janus CPU µs/event'],
    ['direct ws client', k(ev.direct.events) + (ev.direct.complete ? '' : ' (stalled)'), f(ev.direct.seconds, 2), k(ev.direct.per_second), '—', f(ev.direct.janus_cpu?.us_per_request, 1)],
    ['janus.event.<id> via daemon', k(ev.bridge.events) + (ev.bridge.complete ? '' : ' (stalled)'), f(ev.bridge.seconds, 2), k(ev.bridge.per_second), f(ev.bridge.cpu?.us_per_request, 1), f(ev.bridge.janus_cpu?.us_per_request, 1)],
  ]));
  lines.push(`  bridge/direct events/s: ${(ev.bridge.per_second / ev.direct.per_second).toFixed(2)}; other messages on the event subject: ${ev.bridge.non_event_messages}`);
  lines.push('');
  lines.push('connections (all janus_ids on the one Janus; time from spawn)');
  const rowsN: string[][] = [['janus_ids', 'up', 'first up ms', 'all up ms', 'RSS MiB up', 'RSS +5.5 s', 'peak RSS', 'CPU ms to up', 'CPU ms 5.5 s idle', 'shutdown ms', 'warn/error logs']];
  for (const c of r.connections) {
    rowsN.push([
      k(c.connections), k(c.up), f(c.first_connected_ms, 0), f(c.all_connected_ms, 0), f(c.rss_mib_when_up, 1), f(c.rss_mib_idle_later, 1), f(c.rss_peak_mib, 1),
      f(c.cpu_ms_until_up, 0), f(c.cpu_ms_idle, 0), String(c.shutdown_ms), `${c.log_lines.warn ?? 0}/${(c.log_lines.error ?? 0) + (c.log_lines.fatal ?? 0)}`,
    ]);
  }
  lines.push(...grid(rowsN));
  if (r.connection_targets) {
    const t = r.connection_targets;
    lines.push(`1,000 up in < 10 s: ${f(t.all_up_under_10s.value_ms ?? undefined, 0)} ms  ${t.all_up_under_10s.pass ? 'PASS' : 'MISS'};  RSS < 250 MB: ${f(t.rss_under_250mib.value_mib, 1)} MiB  ${t.rss_under_250mib.pass ? 'PASS' : 'MISS'}`);
  }
  const warn = (r.bridge.log_lines.warn ?? 0) + (r.bridge.log_lines.error ?? 0) + (r.bridge.log_lines.fatal ?? 0);
  if (warn) lines.push(`bridge daemon logged ${warn} warn/error lines, last: ${r.bridge.problems.at(-1)}`);
  return lines.join('\n');
}

function grid(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
}

// ---------------------------------------------------------------- lifecycle

const watchdog = setTimeout(() => {
  log(`benchmark took more than ${WATCHDOG_MS / 1000} s: stopping`);
  void cleanup().then(() => process.exit(1));
}, WATCHDOG_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the servers`);
    void cleanup().then(() => process.exit(130));
  });
}
main().then(
  () => { clearTimeout(watchdog); process.exit(0); },
  (err: Error) => {
    log(`benchmark failed: ${err.stack ?? err.message}`);
    void cleanup().then(() => process.exit(1));
  },
);
