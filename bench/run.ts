/**
 * `npm run bench`: how much the bridge costs over talking to Janus and NATS directly.
 *
 * Starts a loopback Janus and private nats-servers, then measures on the same machine:
 *   direct  a plain ws client sending `keepalive` on a Janus session (the Janus leg's floor)
 *   echo    NATS request/reply to a trivial responder in its own process (the NATS leg's floor)
 *   floor   NATS request → a minimal relay (bench/relay-floor.ts: parse, swap the transaction,
 *           write to Janus, reply; nothing else) → Janus → reply: the bridge leg's floor
 *   bridge  NATS request → the daemon (node dist/main.js, its own process) → Janus → reply
 * All four are up at once and take turns, one round each (sequential, then windowed),
 * BENCH_ROUNDS times; the table shows each figure's median over the rounds, the JSON every round.
 * then events per second from a real Janus (echotest fire-and-forget messages) as a direct ws
 * client receives them, through the daemon, and through a second daemon with JetStream capture
 * on (events.stream.enabled, its own nats-server with -js; the stream's message count is read
 * at the end), and the cost of 10, 100 and 1,000 connections (time until all are up, RSS).
 * Last, the event-handler leg (bench/evh.ts): a fake wsevh sender → the daemon → janus.evh.<id>.*,
 * 500 handles' media statistics per second, then flat-out (BENCH_EVH=0 skips it).
 * Prints a table and writes bench-results/latest.json. Not a gate: the figures are noisy.
 *
 * Environment: BENCH_PROFILE=1 runs the daemons under `node --cpu-prof` (into
 * BENCH_PROFILE_DIR, default /tmp/prof/<time>) and prints the top self-time functions;
 * its figures then go next to the profiles, not to bench-results/.
 * BENCH_SEQ, BENCH_REQUESTS, BENCH_ROUNDS, BENCH_EVENTS, BENCH_CONNECTIONS (e.g. "10,100,1000") scale it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { startDaemon, type DaemonProcess } from './daemon.js';
import { DirectJanus } from './janus-direct.js';
import { machine, percentile, procCpuMicros, procRssMiB } from './proc.js';
import { REPO } from '../test/support/processes.js';
import { formatSummary, summarizeProfile } from './profile-summary.js';
import { renderEvh, runEvhLeg } from './evh.js';
import { manage, startJanus, startNats, type ManagedProcess as Managed } from '../test/support/processes.js';

const envInt = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const WARMUP = 500;
const SEQUENTIAL = envInt('BENCH_SEQ', 2_000);
const REQUESTS = envInt('BENCH_REQUESTS', 20_000);
const WINDOW = 256;
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const EVENTS = envInt('BENCH_EVENTS', 10_000);
/** Fire-and-forget messages sent but not yet seen as events: keeps the burst bounded. */
const EVENT_WINDOW = 1_000;
/**
 * Events through the capture daemon before it is measured (its JetStream path warmed up); the stream is purged after.
 */
const CAPTURE_WARMUP_EVENTS = Math.min(2_000, EVENTS);
const STREAM = 'BENCH_EVENTS';
/** events.stream.maxPending: the daemon's default. */
const STREAM_MAX_PENDING = 256;
const CONNECTION_COUNTS = (process.env.BENCH_CONNECTIONS ?? '10,100,1000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const CONNECT_DEADLINE_MS = 60_000;
/** Wait after all are up: one keepalive round at the default janus.pingInterval of 5 s. */
const IDLE_MS = 5_500;
const EVH_LEG = process.env.BENCH_EVH !== '0';
const WATCHDOG_MS = 300_000 + (EVH_LEG ? 90_000 : 0);
const PROFILE = process.env.BENCH_PROFILE === '1';
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR ?? `/tmp/prof/${new Date().toISOString().replace(/[:.]/g, '-')}`;

const KEEPALIVE = Buffer.from('{"janus":"keepalive","transaction":"bench"}');

// ---------------------------------------------------------------- measuring

interface Latency {
  n: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  max_ms: number;
}
interface Throughput {
  n: number;
  window: number;
  seconds: number;
  per_second: number;
  errors: number;
}

async function sequential(n: number, once: () => Promise<void>): Promise<Latency> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await once();
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return {
    n,
    p50_ms: percentile(ms, 50),
    p99_ms: percentile(ms, 99),
    mean_ms: ms.reduce((a, b) => a + b, 0) / n,
    max_ms: ms[n - 1]!,
  };
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

interface CpuProbe {
  read(): number;
}
interface CpuUse {
  cpu_ms: number;
  us_per_request: number;
}
async function measureCpu<T>(
  probe: CpuProbe | (() => Promise<number>),
  requests: number,
  run: () => Promise<T>,
): Promise<[T, CpuUse]> {
  const read = typeof probe === 'function' ? probe : async () => probe.read();
  const before = await read();
  const result = await run();
  const used = (await read()) - before;
  return [result, { cpu_ms: used / 1000, us_per_request: used / requests }];
}

interface LegRound {
  sequential: Latency;
  throughput: Throughput;
  /** CPU of the process under test (the echo responder, the relay, the daemon), sequential and windowed phases. */
  cpu_sequential?: CpuUse;
  cpu_window?: CpuUse;
  /** CPU of Janus itself, windowed phase. */
  janus_cpu_window?: CpuUse;
}

/** Each figure is its own median over the rounds; `rounds` keeps them all. */
interface LegResult extends LegRound {
  rounds: LegRound[];
}

interface CpuProbes {
  /** The process under test (the echo responder, the relay, the daemon). */
  cpu?: CpuProbe | (() => Promise<number>);
  janus?: CpuProbe;
}

/**
 * One round of a leg: SEQUENTIAL requests one at a time, then REQUESTS with WINDOW in flight, CPU read around each
 * phase.
 */
async function measureRound(once: () => Promise<void>, probes: CpuProbes): Promise<LegRound> {
  const none = async (): Promise<number> => 0;
  const [seq, cpuSeq] = await measureCpu(probes.cpu ?? none, SEQUENTIAL, () => sequential(SEQUENTIAL, once));
  const janusBefore = probes.janus?.read() ?? 0;
  const [tput, cpuWindow] = await measureCpu(probes.cpu ?? none, REQUESTS, () => windowed(REQUESTS, WINDOW, once));
  const round: LegRound = { sequential: seq, throughput: tput };
  if (probes.cpu) Object.assign(round, { cpu_sequential: cpuSeq, cpu_window: cpuWindow });
  if (probes.janus) {
    const us = probes.janus.read() - janusBefore;
    round.janus_cpu_window = { cpu_ms: us / 1000, us_per_request: us / REQUESTS };
  }
  return round;
}

/**
 * The legs take turns, one round each, ROUNDS times: the speed of a shared machine drifts
 * over minutes, and legs measured seconds apart see the same machine. Each figure is then
 * the median of its rounds.
 */
async function measureLegs<K extends string>(
  legs: Record<K, { once: () => Promise<void>; probes: CpuProbes }>,
): Promise<Record<K, LegResult>> {
  const names = Object.keys(legs) as K[];
  const rounds = Object.fromEntries(names.map((name) => [name, [] as LegRound[]])) as Record<K, LegRound[]>;
  for (let i = 0; i < ROUNDS; i++) {
    for (const name of names) {
      log(`round ${i + 1}/${ROUNDS}: ${name}`);
      rounds[name].push(await measureRound(legs[name].once, legs[name].probes));
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const result: LegResult = { ...medianByField(rounds[name]), rounds: rounds[name] };
      result.throughput.errors = rounds[name].reduce((sum, round) => sum + round.throughput.errors, 0);
      return [name, result];
    }),
  ) as Record<K, LegResult>;
}

/** Field by field, the median over `values` (objects of the same shape). */
function medianByField<T>(values: T[]): T {
  const first = values[0] as unknown;
  if (typeof first === 'number')
    return percentile(
      [...(values as number[])].sort((a, b) => a - b),
      50,
    ) as T;
  if (typeof first !== 'object' || first === null) return first as T;
  return Object.fromEntries(
    Object.keys(first).map((key) => [
      key,
      medianByField(values.map((value) => (value as Record<string, unknown>)[key])),
    ]),
  ) as T;
}

// ---------------------------------------------------------------- events

interface EventRate {
  sent: number;
  events: number;
  seconds: number;
  per_second: number;
  complete: boolean;
  cpu?: CpuUse;
  janus_cpu?: CpuUse;
}

/**
 * Sends `total` fire-and-forget messages, at most EVENT_WINDOW ahead of the events seen,
 * and times until the last event arrives (or until nothing came for 5 s).
 */
function eventBurst(
  total: number,
  sendOne: (i: number) => void,
  subscribeEvents: (onEvent: () => void) => void,
): Promise<EventRate> {
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

interface DaemonEventRate extends EventRate {
  /** Messages on the event subject that were not `"janus":"event"` (none expected). */
  non_event_messages: number;
  /** nats-server CPU over the same span. */
  nats_cpu?: CpuUse;
}

/**
 * Through the daemon: attaches echotest on `janusId`, sends `total` fire-and-forget
 * `message`s with core NATS publishes, counts the events a plain subscriber receives on
 * janus.event.<janusId>, detaches. CPU (daemon, Janus, nats-server) is read after
 * `settle` (e.g. until JetStream has stored them all): what the events still cost once
 * the last one was seen counts too.
 */
async function eventsViaDaemon(
  nc: NatsConnection,
  janusId: string,
  total: number,
  pids: { daemon: number; janus: number; nats: number },
  settle?: (seen: number, seconds: number) => Promise<void>,
): Promise<DaemonEventRate> {
  const attachReply = JSON.parse(
    (
      await nc.request(`janus.request.${janusId}`, Buffer.from('{"janus":"attach","plugin":"janus.plugin.echotest"}'), {
        timeout: 5_000,
      })
    ).string(),
  ) as { data: { id: number } };
  const handle = attachReply.data.id;
  const eventSub = nc.subscribe(`janus.event.${janusId}`);
  await nc.flush();
  let other = 0;
  const before = {
    daemon: procCpuMicros(pids.daemon),
    janus: procCpuMicros(pids.janus),
    nats: procCpuMicros(pids.nats),
  };
  const rate = await eventBurst(
    total,
    (i) =>
      nc.publish(
        `janus.request.${janusId}`,
        Buffer.from(`{"janus":"message","handle_id":${handle},"body":{"audio":true},"transaction":"e${i}"}`),
      ),
    (onEvent) => {
      void (async () => {
        for await (const msg of eventSub) {
          if (EVENT_PATTERN.test(msg.string())) onEvent();
          else other++;
        }
      })();
    },
  );
  eventSub.unsubscribe();
  if (settle) await settle(rate.events + other, rate.seconds);
  const used = (pid: number, from: number): CpuUse => {
    const us = procCpuMicros(pid) - from;
    return { cpu_ms: us / 1000, us_per_request: us / total };
  };
  const result: DaemonEventRate = {
    ...rate,
    cpu: used(pids.daemon, before.daemon),
    janus_cpu: used(pids.janus, before.janus),
    nats_cpu: used(pids.nats, before.nats),
    non_event_messages: other,
  };
  await nc.request(`janus.request.${janusId}`, Buffer.from(`{"janus":"detach","handle_id":${handle}}`), {
    timeout: 5_000,
  });
  return result;
}

/** Messages the stream holds (0 when it does not exist yet). */
async function streamMessages(jsm: JetStreamManager, name: string): Promise<number | undefined> {
  return (await jsm.streams.info(name).catch(() => undefined))?.state.messages;
}

/** Polls until `done(messages)` or the deadline; returns the last count. */
async function waitStream(
  jsm: JetStreamManager,
  name: string,
  deadlineMs: number,
  done: (messages: number) => boolean,
): Promise<number | undefined> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const messages = await streamMessages(jsm, name);
    if ((messages !== undefined && done(messages)) || Date.now() > deadline) return messages;
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------- the run

const cleanups: (() => Promise<unknown>)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

/** A bench helper process (echo responder, relay floor) from dist-bench/bench, once it prints "ready". */
async function startResponder(script: string, args: string[]): Promise<Managed> {
  const child = spawn(process.execPath, [join(import.meta.dirname, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const managed = manage(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${managed.output()}`)));
  });
  return managed;
}

/** CPU microseconds of the helper answering on `subject` (its own process.cpuUsage(): finer than /proc's ticks). */
function cpuOver(nc: NatsConnection, subject: string): () => Promise<number> {
  return async () => {
    const usage = JSON.parse((await nc.request(subject, undefined, { timeout: 5_000 })).string()) as NodeJS.CpuUsage;
    return usage.user + usage.system;
  };
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

  // ---------------------------------------------------------------- the four legs, all up at once
  // direct: a plain ws client on its own Janus session.
  const direct = await DirectJanus.open(`ws://127.0.0.1:${janus.wsPort}/janus`);
  cleanups.push(() => direct.close());
  const info = await direct.request({ janus: 'info' });
  const janusVersion = String(info.version_string ?? 'unknown');
  const created = await direct.request({ janus: 'create' });
  const session = (created.data as { id: number }).id;
  const directOnce = async (): Promise<void> => {
    const answer = await direct.request({ janus: 'keepalive', session_id: session });
    if (answer.janus !== 'ack') throw new Error(`keepalive answered ${JSON.stringify(answer)}`);
  };

  // echo, and floor (the least a relay does, bench/relay-floor.ts): on their own nats-server.
  const echoNats = await startNats();
  cleanups.push(() => echoNats.stop());
  const echo = await startResponder('echo-responder.js', [echoNats.url]);
  cleanups.push(() => echo.stop());
  const floor = await startResponder('relay-floor.js', [echoNats.url, `ws://127.0.0.1:${janus.wsPort}/janus`]);
  cleanups.push(() => floor.stop());
  const echoNc = await connect({ servers: echoNats.url, name: 'bench-client' });
  cleanups.push(() => echoNc.close());
  const echoOnce = async (): Promise<void> => {
    await echoNc.request('bench.echo', KEEPALIVE, { timeout: 5_000 });
  };
  const floorOnce = async (): Promise<void> => {
    const reply = await echoNc.request('bench.relay', KEEPALIVE, { timeout: 5_000 });
    if ((JSON.parse(reply.string()) as { janus: string }).janus !== 'ack')
      throw new Error(`keepalive answered ${reply.string()}`);
  };

  // bridge: the daemon as users run it, on its own nats-server.
  const nats = await startNats();
  cleanups.push(() => nats.stop());
  const nc = await connect({ servers: nats.url, name: 'bench-client' });
  cleanups.push(() => nc.close());
  const profileBridge = PROFILE ? join(PROFILE_DIR, 'bridge') : undefined;
  if (profileBridge) mkdirSync(profileBridge, { recursive: true });
  const bridgeDaemon = startDaemon({
    natsUrl: nats.url,
    connections: [{ janus_id: 'bench', janus_url: janus.url }],
    profileDir: profileBridge,
  });
  cleanups.push(() => bridgeDaemon.stop(20_000));
  const bridgeUp = await (await waitConnected(nc, new Set(['bench']), bridgeDaemon, 15_000)).wait();
  if (bridgeUp.up !== 1) throw new Error(`the daemon did not connect to Janus: ${bridgeDaemon.problems().join('\n')}`);
  const bridgeOnce = async (): Promise<void> => {
    const reply = await nc.request('janus.request.bench', KEEPALIVE, { timeout: 5_000 });
    const body = JSON.parse(reply.string()) as { janus: string };
    if (body.janus !== 'ack') throw new Error(`keepalive answered ${reply.string()}`);
  };

  const legs = {
    direct: { once: directOnce, probes: { janus: janusCpu(janus) } },
    echo: { once: echoOnce, probes: { cpu: cpuOver(echoNc, 'bench.echo.cpu') } },
    floor: { once: floorOnce, probes: { cpu: cpuOver(echoNc, 'bench.relay.cpu'), janus: janusCpu(janus) } },
    bridge: {
      once: bridgeOnce,
      probes: { cpu: { read: () => procCpuMicros(bridgeDaemon.pid) }, janus: janusCpu(janus) },
    },
  };
  for (const [name, leg] of Object.entries(legs)) {
    log(`${name}: warm-up`);
    await sequential(WARMUP, leg.once);
    await windowed(WARMUP * 4, WINDOW, leg.once);
  }
  log(`${ROUNDS} rounds, each leg in turn: ${SEQUENTIAL} sequential, ${REQUESTS} with ${WINDOW} in flight`);
  const echoProcCpuBefore = procCpuMicros(echo.pid);
  const logBytesBefore = bridgeDaemon.logBytes();
  const { direct: directLeg, echo: echoLeg, floor: floorLeg, bridge: bridgeLeg } = await measureLegs(legs);
  const echoProcCpuUs = (procCpuMicros(echo.pid) - echoProcCpuBefore) / (ROUNDS * (SEQUENTIAL + REQUESTS));
  const logBytesPerRequest = (bridgeDaemon.logBytes() - logBytesBefore) / (ROUNDS * (SEQUENTIAL + REQUESTS));
  await floor.stop();
  await echo.stop();
  await echoNc.close();
  await echoNats.stop();

  // ---------------------------------------------------------------- events
  log(`direct: ${EVENTS} fire-and-forget echotest messages`);
  const attached = await direct.request({ janus: 'attach', session_id: session, plugin: 'janus.plugin.echotest' });
  const directHandle = (attached.data as { id: number }).id;
  const [directEvents, directEventsJanusCpu] = await measureCpu(janusCpu(janus), EVENTS, () =>
    eventBurst(
      EVENTS,
      () => direct.send({ janus: 'message', session_id: session, handle_id: directHandle, body: { audio: true } }),
      (onEvent) => {
        direct.onOther = (body) => {
          if (body.janus === 'event') onEvent();
        };
      },
    ),
  );
  directEvents.janus_cpu = directEventsJanusCpu;
  direct.onOther = () => {};
  await direct.request({ janus: 'detach', session_id: session, handle_id: directHandle });
  await direct.request({ janus: 'destroy', session_id: session });
  await direct.close();

  log(`bridge: ${EVENTS} fire-and-forget echotest messages`);
  const bridgeEvents = await eventsViaDaemon(nc, 'bench', EVENTS, {
    daemon: bridgeDaemon.pid,
    janus: janus.pid,
    nats: nats.pid,
  });
  const bridgeRss = procRssMiB(bridgeDaemon.pid);
  const bridgeLogs = bridgeDaemon.logCounts();
  const bridgeProblems = bridgeDaemon.problems();
  const bridgeShutdownMs = await bridgeDaemon.stop(20_000);
  const bridgeProfile = profileBridge ? await profileOf(profileBridge, 'daemon, bridge + events phases') : undefined;

  // ---------------------------------------------------------------- events with JetStream capture
  // Its own daemon (events.stream.enabled) on its own nats-server with JetStream; the same
  // fire-and-forget flow, events counted by a plain subscriber on janus.event.<id>.
  const jsDir = mkdtempSync(join(tmpdir(), 'jnb-bench-js-'));
  cleanups.push(async () => rmSync(jsDir, { recursive: true, force: true }));
  const jsNats = await startNats(undefined, ['-js', '-sd', jsDir]);
  cleanups.push(() => jsNats.stop());
  const jsNc = await connect({ servers: jsNats.url, name: 'bench-client' });
  cleanups.push(() => jsNc.close());
  const jsm = await jsNc.jetstreamManager();
  const profileCapture = PROFILE ? join(PROFILE_DIR, 'capture') : undefined;
  if (profileCapture) mkdirSync(profileCapture, { recursive: true });
  const captureDaemon = startDaemon({
    natsUrl: jsNats.url,
    connections: [{ janus_id: 'capture', janus_url: janus.url }],
    profileDir: profileCapture,
    config: { events: { stream: { enabled: true, name: STREAM, storage: 'memory', maxPending: STREAM_MAX_PENDING } } },
  });
  cleanups.push(() => captureDaemon.stop(20_000));
  const captureUp = await (await waitConnected(jsNc, new Set(['capture']), captureDaemon, 15_000)).wait();
  if (captureUp.up !== 1)
    throw new Error(`the capture daemon did not connect to Janus: ${captureDaemon.problems().join('\n')}`);
  if ((await waitStream(jsm, STREAM, 10_000, () => true)) === undefined)
    throw new Error(`the capture daemon did not create the stream ${STREAM}: ${captureDaemon.problems().join('\n')}`);
  const captureOnce = async (): Promise<void> => {
    const reply = await jsNc.request('janus.request.capture', KEEPALIVE, { timeout: 5_000 });
    if ((JSON.parse(reply.string()) as { janus: string }).janus !== 'ack')
      throw new Error(`keepalive answered ${reply.string()}`);
  };
  const capturePids = { daemon: captureDaemon.pid, janus: janus.pid, nats: jsNats.pid };
  log(`capture: warm-up (${WARMUP + WARMUP * 4} requests, ${CAPTURE_WARMUP_EVENTS} events)`);
  await sequential(WARMUP, captureOnce);
  await windowed(WARMUP * 4, WINDOW, captureOnce);
  await eventsViaDaemon(jsNc, 'capture', CAPTURE_WARMUP_EVENTS, capturePids);
  // Everything from the warm-up stored (nothing more coming in for 200 ms), then emptied.
  let lastCount = -1;
  let steadySince = Date.now();
  await waitStream(jsm, STREAM, 5_000, (messages) => {
    if (messages !== lastCount) {
      lastCount = messages;
      steadySince = Date.now();
    }
    return messages >= CAPTURE_WARMUP_EVENTS && Date.now() - steadySince >= 200;
  });
  await jsm.streams.purge(STREAM);
  log(`capture: ${EVENTS} fire-and-forget echotest messages, JetStream capture on`);
  let storedSeconds: number | undefined;
  let storedAtEnd: number | undefined;
  const captureEvents = await eventsViaDaemon(jsNc, 'capture', EVENTS, capturePids, async (seen, seconds) => {
    // The daemon awaits its acks asynchronously: the stream may trail the subscriber a little.
    const settleBegin = process.hrtime.bigint();
    storedAtEnd = await waitStream(jsm, STREAM, 5_000, (messages) => messages >= seen);
    if (storedAtEnd !== undefined && storedAtEnd >= seen)
      storedSeconds = seconds + Number(process.hrtime.bigint() - settleBegin) / 1e9;
  });
  const streamInfo = await jsm.streams.info(STREAM);
  const captureLogs = captureDaemon.logCounts();
  const captureProblems = captureDaemon.problems();
  const captureRss = procRssMiB(captureDaemon.pid);
  const captureShutdownMs = await captureDaemon.stop(20_000);
  const captureProfile = profileCapture
    ? await profileOf(profileCapture, 'daemon, JetStream capture phase')
    : undefined;
  await jsNc.close();
  await jsNats.stop();
  rmSync(jsDir, { recursive: true, force: true });
  const captureResult = {
    ...captureEvents,
    stream: {
      name: STREAM,
      storage: 'memory',
      max_pending: STREAM_MAX_PENDING,
      /** Messages the stream holds once the measured burst is over (purged after the warm-up). */
      messages: storedAtEnd ?? null,
      /** The events the subscriber saw, the stream should hold as many. */
      expected: captureEvents.events + captureEvents.non_event_messages,
      /** From the first message sent until the stream held them all. */
      seconds_until_stored: storedSeconds ?? null,
      /** After detach (what Janus sends about the detach is captured too). */
      messages_after_detach: streamInfo.state.messages,
      bytes_after_detach: streamInfo.state.bytes,
    },
    rss_mib: captureRss,
    log_lines: captureLogs,
    shutdown_ms: captureShutdownMs,
    problems: captureProblems.slice(-10),
  };

  // ---------------------------------------------------------------- N connections
  const connectionResults: Record<string, unknown>[] = [];
  const connectionProfiles: Record<string, unknown> = {};
  for (const count of CONNECTION_COUNTS) {
    log(`connections: ${count} janus_ids on one Janus`);
    const ids = Array.from({ length: count }, (_, i) => `c${count}-${i}`);
    const profileDir =
      PROFILE && count === Math.max(...CONNECTION_COUNTS) ? join(PROFILE_DIR, `connections-${count}`) : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const daemon = startDaemon({
      natsUrl: nats.url,
      connections: ids.map((id) => ({ janus_id: id, janus_url: janus.url })),
      profileDir,
    });
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
      connections: count,
      up: up.up,
      first_connected_ms: up.first_ms,
      all_connected_ms: up.all_ms,
      rss_mib_when_up: rssUp,
      rss_mib_idle_later: rssLater,
      rss_peak_mib: hwm,
      cpu_ms_until_up: cpuUp,
      cpu_ms_idle: cpuLater - cpuUp,
      idle_ms: IDLE_MS,
      shutdown_ms: shutdownMs,
      status_messages: up.states,
      log_lines: logs,
      problems: problems.slice(-5),
    });
    if (profileDir)
      connectionProfiles[String(count)] = await profileOf(
        profileDir,
        `daemon, ${count} connections start-up and shutdown`,
      );
  }
  await nc.close();
  await nats.stop();
  const janusStopMs = await janus.stop();
  cleanups.length = 0;

  // ---------------------------------------------------------------- event handlers (bench/evh.ts: its own servers and
  // daemon)
  const evh = EVH_LEG ? await runEvhLeg(log) : undefined;

  // ---------------------------------------------------------------- report
  const ratio = (value: number, target: number, lowerIsBetter: boolean) => ({
    value,
    target: `${lowerIsBetter ? '<=' : '>='} ${target}`,
    pass: lowerIsBetter ? value <= target : value >= target,
  });
  const ratios = {
    latency_p50: ratio(
      bridgeLeg.sequential.p50_ms / (directLeg.sequential.p50_ms + echoLeg.sequential.p50_ms),
      1.1,
      true,
    ),
    throughput: ratio(
      bridgeLeg.throughput.per_second / Math.min(directLeg.throughput.per_second, echoLeg.throughput.per_second),
      0.65,
      false,
    ),
    cpu_per_request: ratio(bridgeLeg.cpu_window!.us_per_request / echoLeg.cpu_window!.us_per_request, 1.8, true),
  };
  // The same ratios for the relay floor (what no bridge can beat), and the daemon over the floor (what its features
  // cost).
  const floorRatios = {
    floor_latency_p50: floorLeg.sequential.p50_ms / (directLeg.sequential.p50_ms + echoLeg.sequential.p50_ms),
    floor_throughput:
      floorLeg.throughput.per_second / Math.min(directLeg.throughput.per_second, echoLeg.throughput.per_second),
    floor_cpu_per_request: floorLeg.cpu_window!.us_per_request / echoLeg.cpu_window!.us_per_request,
    bridge_over_floor_latency_p50: bridgeLeg.sequential.p50_ms / floorLeg.sequential.p50_ms,
    bridge_over_floor_cpu_window: bridgeLeg.cpu_window!.us_per_request / floorLeg.cpu_window!.us_per_request,
    bridge_over_floor_cpu_sequential:
      bridgeLeg.cpu_sequential!.us_per_request / floorLeg.cpu_sequential!.us_per_request,
  };
  const largest = connectionResults[connectionResults.length - 1] as
    { connections: number; all_connected_ms?: number; rss_mib_when_up: number } | undefined;
  const results = {
    benchmark: 'janus-nats-bridge',
    at: startedAt.toISOString(),
    profiled: PROFILE,
    machine: machine(janusVersion),
    parameters: {
      warmup: WARMUP,
      sequential: SEQUENTIAL,
      requests: REQUESTS,
      window: WINDOW,
      rounds: ROUNDS,
      events: EVENTS,
      event_window: EVENT_WINDOW,
      capture_warmup_events: CAPTURE_WARMUP_EVENTS,
      connections: CONNECTION_COUNTS,
      daemon_log_level: 'info',
    },
    direct: directLeg,
    echo: { ...echoLeg, cpu_us_per_request_from_proc_stat: echoProcCpuUs },
    floor: floorLeg,
    bridge: {
      ...bridgeLeg,
      rss_mib: bridgeRss,
      log_bytes_per_request: logBytesPerRequest,
      log_lines: bridgeLogs,
      shutdown_ms: bridgeShutdownMs,
      problems: bridgeProblems.slice(-10),
    },
    ratios,
    floor_ratios: floorRatios,
    events: { direct: directEvents, bridge: bridgeEvents, bridge_jetstream: captureResult },
    connections: connectionResults,
    connection_targets:
      largest && largest.connections >= 1000
        ? {
            all_up_under_10s: {
              value_ms: largest.all_connected_ms ?? null,
              pass: largest.all_connected_ms !== undefined && largest.all_connected_ms < 10_000,
            },
            rss_under_250mib: { value_mib: largest.rss_mib_when_up, pass: largest.rss_mib_when_up < 250 },
          }
        : undefined,
    janus_stop_ms: janusStopMs,
    evh,
    profiles: PROFILE ? { bridge: bridgeProfile, capture: captureProfile, connections: connectionProfiles } : undefined,
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
  lines.push(
    `machine: ${m.nproc} CPUs, ${m.cpu_model}, Linux ${m.kernel}, Node ${m.node}, Janus ${m.janus}, ${m.nats_server}`,
  );
  lines.push(
    `requests: Janus keepalive; ${r.parameters.warmup} warm-up, then ${r.parameters.rounds} rounds of ${r.parameters.sequential} sequential and ${r.parameters.requests} with ${r.parameters.window} in flight (medians of the rounds); daemon log level info`,
  );
  lines.push('');
  const head = ['leg', 'p50 ms', 'p99 ms', 'req/s (256)', 'CPU µs/req seq', 'CPU µs/req 256', 'Janus µs/req 256'];
  const rows: string[][] = [head];
  for (const [name, leg] of [
    ['direct (ws → Janus)', r.direct],
    ['echo (NATS responder)', r.echo],
    ['floor (NATS → minimal relay → Janus)', r.floor],
    ['bridge (NATS → daemon → Janus)', r.bridge],
  ] as const) {
    rows.push([
      name,
      f(leg.sequential.p50_ms),
      f(leg.sequential.p99_ms),
      k(leg.throughput.per_second) + (leg.throughput.errors ? ` (${leg.throughput.errors} err)` : ''),
      f(leg.cpu_sequential?.us_per_request, 1),
      f(leg.cpu_window?.us_per_request, 1),
      f(leg.janus_cpu_window?.us_per_request, 1),
    ]);
  }
  lines.push(...grid(rows));
  lines.push('');
  const verdict = (x: { value: number; target: string; pass: boolean }): string =>
    `${x.value.toFixed(2).padStart(6)}  (target ${x.target})  ${x.pass ? 'PASS' : 'MISS'}`;
  lines.push(`latency ratio     bridge p50 / (direct p50 + echo p50)            ${verdict(r.ratios.latency_p50)}`);
  lines.push(`throughput ratio  bridge req/s / min(direct, echo)                ${verdict(r.ratios.throughput)}`);
  lines.push(`CPU ratio         daemon µs/req / echo responder µs/req (256)     ${verdict(r.ratios.cpu_per_request)}`);
  lines.push(
    `  (info) sequential CPU ratio, daemon / echo: ${(r.bridge.cpu_sequential.us_per_request / r.echo.cpu_sequential.us_per_request).toFixed(2)}; echo CPU from /proc/<pid>/stat over both phases: ${f(r.echo.cpu_us_per_request_from_proc_stat, 1)} µs/req`,
  );
  const fr = r.floor_ratios;
  lines.push(
    `the minimal relay on the same ratios: latency ${f(fr.floor_latency_p50, 2)}, throughput ${f(fr.floor_throughput, 2)}, CPU ${f(fr.floor_cpu_per_request, 2)} (256 in flight)`,
  );
  lines.push(
    `daemon over the minimal relay: p50 ${f(fr.bridge_over_floor_latency_p50, 2)}×, CPU ${f(fr.bridge_over_floor_cpu_window, 2)}× (256 in flight), ${f(fr.bridge_over_floor_cpu_sequential, 2)}× (sequential)`,
  );
  lines.push(
    `daemon with 1 connection: RSS ${f(r.bridge.rss_mib, 1)} MiB, ${f(r.bridge.log_bytes_per_request, 2)} log bytes/request, shutdown ${r.bridge.shutdown_ms} ms`,
  );
  lines.push('');
  const ev = r.events;
  lines.push(
    `events (echotest fire-and-forget message → event, ${k(r.parameters.events)} sent, ≤ ${k(r.parameters.event_window)} outstanding)`,
  );
  const evRow = (name: string, e: any): string[] => [
    name,
    k(e.events) + (e.complete ? '' : ' (stalled)'),
    f(e.seconds, 2),
    k(e.per_second),
    e.non_event_messages === undefined ? '—' : f(e.cpu?.us_per_request, 1),
    f(e.janus_cpu?.us_per_request, 1),
    f(e.nats_cpu?.us_per_request, 1),
  ];
  lines.push(
    ...grid([
      [
        'path',
        'events',
        'seconds',
        'events/s',
        'daemon CPU µs/event',
        'Janus CPU µs/event',
        'nats-server CPU µs/event',
      ],
      evRow('direct ws client', ev.direct),
      evRow('janus.event.<id> via daemon, capture off', ev.bridge),
      evRow('janus.event.<id> via daemon, JetStream capture on', ev.bridge_jetstream),
    ]),
  );
  const st = ev.bridge_jetstream.stream;
  lines.push(
    `  events/s: capture off / direct ${(ev.bridge.per_second / ev.direct.per_second).toFixed(2)}, capture on / direct ${(ev.bridge_jetstream.per_second / ev.direct.per_second).toFixed(2)}, capture on / off ${(ev.bridge_jetstream.per_second / ev.bridge.per_second).toFixed(2)}; other messages on the event subject: ${ev.bridge.non_event_messages} / ${ev.bridge_jetstream.non_event_messages}`,
  );
  lines.push(
    `  stream ${st.name} (${st.storage}, ≤ ${st.max_pending} acks pending) holds ${st.messages === null ? '—' : k(st.messages)} messages of ${k(st.expected)} events seen${st.seconds_until_stored === null ? ' (NOT all stored within 5 s)' : `, all stored ${f(st.seconds_until_stored, 2)} s after the first was sent`}; capture daemon ${ev.bridge_jetstream.log_lines.warn ?? 0}/${(ev.bridge_jetstream.log_lines.error ?? 0) + (ev.bridge_jetstream.log_lines.fatal ?? 0)} warn/error logs`,
  );
  lines.push('');
  lines.push('connections (all janus_ids on the one Janus; time from spawn)');
  const rowsN: string[][] = [
    [
      'janus_ids',
      'up',
      'first up ms',
      'all up ms',
      'RSS MiB up',
      'RSS +5.5 s',
      'peak RSS',
      'CPU ms to up',
      'CPU ms 5.5 s idle',
      'shutdown ms',
      'warn/error logs',
    ],
  ];
  for (const c of r.connections) {
    rowsN.push([
      k(c.connections),
      k(c.up),
      f(c.first_connected_ms, 0),
      f(c.all_connected_ms, 0),
      f(c.rss_mib_when_up, 1),
      f(c.rss_mib_idle_later, 1),
      f(c.rss_peak_mib, 1),
      f(c.cpu_ms_until_up, 0),
      f(c.cpu_ms_idle, 0),
      String(c.shutdown_ms),
      `${c.log_lines.warn ?? 0}/${(c.log_lines.error ?? 0) + (c.log_lines.fatal ?? 0)}`,
    ]);
  }
  lines.push(...grid(rowsN));
  if (r.connection_targets) {
    const t = r.connection_targets;
    lines.push(
      `1,000 up in < 10 s: ${f(t.all_up_under_10s.value_ms ?? undefined, 0)} ms  ${t.all_up_under_10s.pass ? 'PASS' : 'MISS'};  RSS < 250 MB: ${f(t.rss_under_250mib.value_mib, 1)} MiB  ${t.rss_under_250mib.pass ? 'PASS' : 'MISS'}`,
    );
  }
  if (r.evh) lines.push('', ...renderEvh(r.evh));
  const warn = (r.bridge.log_lines.warn ?? 0) + (r.bridge.log_lines.error ?? 0) + (r.bridge.log_lines.fatal ?? 0);
  if (warn) lines.push(`bridge daemon logged ${warn} warn/error lines, last: ${r.bridge.problems.at(-1)}`);
  return lines.join('\n');
}

function grid(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
  );
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
  () => {
    clearTimeout(watchdog);
    process.exit(0);
  },
  (err: Error) => {
    log(`benchmark failed: ${err.stack ?? err.message}`);
    void cleanup().then(() => process.exit(1));
  },
);
