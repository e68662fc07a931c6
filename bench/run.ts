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
 * Then the event legs, echotest fire-and-forget `message`s → Janus's `event`s, all up at once:
 *   direct   a plain ws client on Janus
 *   floor    NATS → a minimal event relay (bench/event-floor.ts: Janus `event` in, published with
 *            the daemon's headers out; nothing else) → a NATS subscriber: the event legs' floor
 *   bridge   NATS → the daemon above (capture off) → janus.event.<id>
 *   capture floor  the floor relay publishing as a JetStream publish does (a reply subject, PubAcks
 *            counted) on the capture leg's nats-server, into its stream: what capture costs any relay
 *   capture  NATS → a second daemon with JetStream capture on (events.stream.enabled, an R1 file
 *            stream in a temporary store directory, its own nats-server with -js) → janus.event.<id>;
 *            the stream must hold every event once
 * taking turns BENCH_ROUNDS times as the request legs do; each round a burst (events/s, CPU per
 * event), then the delay from sending a message to its event reaching the subscriber, one at a
 * time and paced (does capture delay live consumers?). Then the cost of 10, 100 and 1,000
 * connections (time until all are up, RSS).
 * Last, the event-handler leg (bench/evh.ts): a fake wsevh sender → the daemon → janus.evh.<id>.*,
 * 500 handles' media statistics per second, then flat-out (BENCH_EVH=0 skips it).
 * Prints a table and writes bench-results/latest.json. Not a gate: the figures are noisy.
 *
 * Environment: BENCH_PROFILE=1 runs the daemons and both floors under `node --cpu-prof` (into
 * BENCH_PROFILE_DIR, default /tmp/prof/<time>) and prints the top self-time functions;
 * its figures then go next to the profiles, not to bench-results/.
 * BENCH_SEQ, BENCH_REQUESTS, BENCH_ROUNDS, BENCH_EVENTS, BENCH_EVENT_SEQ, BENCH_EVENT_RATE, BENCH_EVENT_PACED,
 * BENCH_CONNECTIONS (e.g. "10,100,1000") scale it. BENCH_DAEMON_MAIN: another build of the daemon (bench/daemon.ts).
 * BENCH_OUT: where the JSON goes instead (e.g. for a small trial run that must not replace latest.json).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
 * Events through each event leg before the rounds, so that the first round finds each process's code optimized: the
 * event floor, fresh, took 10,000 to 15,000 events to come down from 100 to its 35-45 µs/event on this machine.
 */
const EVENT_WARMUP = Math.max(15_000, EVENTS);
/** Per round and event leg, before its measured burst: unmeasured. */
const EVENT_ROUND_WARMUP = Math.min(1_000, EVENTS);
/** Per round and event leg, after the burst: messages one at a time, then EVENT_PACED at EVENT_RATE a second. */
const EVENT_ONE_AT_A_TIME = envInt('BENCH_EVENT_SEQ', 500);
const EVENT_RATE = envInt('BENCH_EVENT_RATE', 2_000);
const EVENT_PACED = envInt('BENCH_EVENT_PACED', EVENT_RATE);
/**
 * Capture leg: p50 of its send → event delay within this of capture off's (each phase) counts as "does not delay
 * live consumers": max(10%, 0.05 ms).
 */
const DELAY_TOLERANCE = { share: 0.1, ms: 0.05 };
const STREAM = 'BENCH_EVENTS';
/** What a user gets by default (events.stream.storage), one replica. */
const STREAM_STORAGE = 'file';
/** The stream's count is final once it did not change for this long. */
const STREAM_STEADY_MS = 100;
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
const WATCHDOG_MS = 360_000 + (EVH_LEG ? 90_000 : 0);
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

/** Told of each event a leg's client receives; its transaction is read only when asked. */
type OnEvent = (transaction: () => string | undefined) => void;
const ignoreEvent: OnEvent = () => {};

/**
 * One event path, from the bench's side: how to send an echotest fire-and-forget `message`
 * and where its events come back, and the CPU probes read around a burst.
 */
interface EventLeg {
  /** Sends one fire-and-forget `message` carrying this transaction. */
  send(transaction: string): void;
  /** Set by the phase running: called for every `"janus":"event"` the leg's client receives. */
  onEvent: OnEvent;
  /** Everything received on the event subject, and what of it was not `"janus":"event"` (none expected). */
  received: number;
  other: number;
  /** The relay under test (the floor, the daemon). */
  cpu?: CpuProbe | (() => Promise<number>);
  janus: CpuProbe;
  nats?: CpuProbe;
  /** Before the round's burst (the capture leg empties its stream). */
  beforeRound?: () => Promise<void>;
  /** After the burst, before CPU is read: until what the events cost has been spent (the capture leg: stored). */
  settle?: (seen: number, seconds: number) => Promise<void>;
  /** After the round (the capture leg: whether the stream holds every event of the round once). */
  afterRound?: () => Promise<void>;
}

interface EventRate {
  sent: number;
  events: number;
  seconds: number;
  per_second: number;
  complete: boolean;
  /** The relay under test (the floor, the daemon), per event: `us_per_request` is µs per event. */
  cpu?: CpuUse;
  janus_cpu?: CpuUse;
  /** nats-server CPU over the same span. */
  nats_cpu?: CpuUse;
  /** Messages on the event subject that were not `"janus":"event"` (none expected). */
  non_event_messages?: number;
}

/**
 * Sends `total` fire-and-forget messages (transactions `<prefix><i>`), at most EVENT_WINDOW
 * ahead of the events seen, and times until the last event arrives (or until nothing came for 5 s).
 */
function eventBurst(leg: EventLeg, total: number, prefix: string): Promise<EventRate> {
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
      leg.onEvent = ignoreEvent;
      const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
      resolve({ sent, events, seconds, per_second: events / seconds, complete });
    };
    const pump = (): void => {
      while (sent < total && sent - events < EVENT_WINDOW) leg.send(prefix + sent++);
    };
    leg.onEvent = () => {
      events++;
      lastProgress = Date.now();
      if (events >= total) finish(true);
      else if ((events & 63) === 0) pump();
    };
    const idle = setInterval(() => {
      pump();
      if (Date.now() - lastProgress > 5_000) finish(false);
    }, 20);
    pump();
  });
}

/** Time from sending a message to its event reaching the leg's client. */
interface EventDelays {
  sent: number;
  received: number;
  /** Messages sent per second; 0: one at a time, each once the previous one's event came. */
  rate: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

/** `n` messages (transactions `<prefix><i>`), `perSecond` (0: one at a time); each one's delay until its event. */
async function eventDelays(leg: EventLeg, n: number, perSecond: number, prefix: string): Promise<EventDelays> {
  const sentAt = new Map<string, bigint>();
  const delays: number[] = [];
  let wake = (): void => {};
  leg.onEvent = (transaction) => {
    const t = transaction();
    const at = t ? sentAt.get(t) : undefined;
    if (at === undefined) return;
    delays.push(Number(process.hrtime.bigint() - at) / 1e6);
    sentAt.delete(t!);
    wake();
  };
  const fire = (i: number): void => {
    const t = prefix + i;
    sentAt.set(t, process.hrtime.bigint());
    leg.send(t);
  };
  /** Until `done()`, or `ms` at most. */
  const until = (done: () => boolean, ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (done()) return resolve();
      const end = (): void => {
        clearTimeout(timer);
        wake = () => {};
        resolve();
      };
      const timer = setTimeout(end, ms);
      wake = () => {
        if (done()) end();
      };
    });
  if (perSecond === 0) {
    for (let i = 0; i < n; i++) {
      fire(i);
      await until(() => sentAt.size === 0, 5_000);
      sentAt.clear();
    }
  } else {
    await new Promise<void>((resolve) => {
      const begin = process.hrtime.bigint();
      let i = 0;
      const timer = setInterval(() => {
        const due = Math.min(n, Math.floor((Number(process.hrtime.bigint() - begin) / 1e9) * perSecond) + 1);
        while (i < due) fire(i++);
        if (i >= n) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    await until(() => sentAt.size === 0, 5_000);
  }
  leg.onEvent = ignoreEvent;
  delays.sort((a, b) => a - b);
  return {
    sent: n,
    received: delays.length,
    rate: perSecond,
    p50_ms: percentile(delays, 50),
    p99_ms: percentile(delays, 99),
    max_ms: delays[delays.length - 1] ?? NaN,
  };
}

interface EventRound {
  burst: EventRate;
  /** One at a time, then paced at EVENT_RATE: the delay from sending to the event's arrival. */
  delay_one_at_a_time: EventDelays;
  delay_paced: EventDelays;
}

/** One round of an event leg: a burst of EVENTS (rate and CPU), then the delays one at a time and paced. */
async function eventRound(leg: EventLeg, round: number): Promise<EventRound> {
  // Unmeasured: a process left idle while the other legs ran starts slow (its first burst after a
  // pause cost up to twice the CPU per event of the next, in every leg, on this 2-core machine).
  await eventBurst(leg, EVENT_ROUND_WARMUP, `r${round}-`);
  await leg.beforeRound?.();
  const readCpu = async (probe: CpuProbe | (() => Promise<number>) | undefined): Promise<number> =>
    probe === undefined ? 0 : typeof probe === 'function' ? probe() : probe.read();
  const other = leg.other;
  const received = leg.received;
  const before = { cpu: await readCpu(leg.cpu), janus: leg.janus.read(), nats: leg.nats?.read() ?? 0 };
  const burst = await eventBurst(leg, EVENTS, `b${round}-`);
  await leg.settle?.(leg.received - received, burst.seconds);
  const used = (us: number): CpuUse => ({ cpu_ms: us / 1000, us_per_request: us / EVENTS });
  if (leg.cpu) burst.cpu = used((await readCpu(leg.cpu)) - before.cpu);
  burst.janus_cpu = used(leg.janus.read() - before.janus);
  if (leg.nats) burst.nats_cpu = used(leg.nats.read() - before.nats);
  const delay_one_at_a_time = await eventDelays(leg, EVENT_ONE_AT_A_TIME, 0, `s${round}-`);
  const delay_paced = await eventDelays(leg, EVENT_PACED, EVENT_RATE, `p${round}-`);
  burst.non_event_messages = leg.other - other;
  await leg.afterRound?.();
  return { burst, delay_one_at_a_time, delay_paced };
}

/** An event leg's result: each figure the median of its rounds (complete: every round), and every round. */
type EventLegResult = EventRate & Omit<EventRound, 'burst'> & { rounds: EventRound[] };

/** The event legs take turns, one round each, ROUNDS times, as the request legs do. */
async function measureEventLegs<K extends string>(legs: Record<K, EventLeg>): Promise<Record<K, EventLegResult>> {
  const names = Object.keys(legs) as K[];
  const rounds = Object.fromEntries(names.map((name) => [name, [] as EventRound[]])) as Record<K, EventRound[]>;
  for (let i = 0; i < ROUNDS; i++) {
    for (const name of names) {
      log(`events round ${i + 1}/${ROUNDS}: ${name}`);
      rounds[name].push(await eventRound(legs[name], i + 1));
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const { burst, ...delays } = medianByField(rounds[name]);
      burst.complete = rounds[name].every((round) => round.burst.complete);
      burst.non_event_messages = rounds[name].reduce((sum, round) => sum + round.burst.non_event_messages!, 0);
      return [name, { ...burst, ...delays, rounds: rounds[name] }];
    }),
  ) as Record<K, EventLegResult>;
}

/**
 * An event leg over NATS (the event floor, a daemon): `message`s published on
 * janus.request.<id> for `handle`, events counted by a plain subscriber on janus.event.<id>
 * (the transaction read from the Janus-Transaction header when a phase asks for it).
 */
async function natsEventLeg(
  nc: NatsConnection,
  janusId: string,
  probes: Pick<EventLeg, 'cpu' | 'janus' | 'nats'>,
): Promise<EventLeg & { handle: number; detach(): Promise<void> }> {
  const request = `janus.request.${janusId}`;
  const attached = JSON.parse(
    (
      await nc.request(request, Buffer.from('{"janus":"attach","plugin":"janus.plugin.echotest"}'), {
        timeout: 5_000,
      })
    ).string(),
  ) as { data?: { id: number } };
  if (!attached.data) throw new Error(`attach through ${janusId} answered ${JSON.stringify(attached)}`);
  const handle = attached.data.id;
  const leg = {
    ...probes,
    handle,
    received: 0,
    other: 0,
    onEvent: ignoreEvent,
    send: (transaction: string): void =>
      nc.publish(
        request,
        Buffer.from(`{"janus":"message","handle_id":${handle},"body":{"audio":true},"transaction":"${transaction}"}`),
      ),
    detach: async (): Promise<void> => {
      sub.unsubscribe();
      await nc.request(request, Buffer.from(`{"janus":"detach","handle_id":${handle}}`), { timeout: 5_000 });
    },
  };
  const sub = nc.subscribe(`janus.event.${janusId}`, {
    callback: (_err, msg) => {
      leg.received++;
      if (EVENT_PATTERN.test(msg.string())) leg.onEvent(() => msg.headers?.get('Janus-Transaction') || undefined);
      else leg.other++;
    },
  });
  await nc.flush();
  return leg;
}

const EVENT_PATTERN = /"janus"\s*:\s*"event"/;

/** Messages the stream holds (undefined while it does not exist yet: info() rejects then). */
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

/** Until the stream holds at least `least` messages and no more came for `steadyMs` (or the deadline). */
function waitStreamSteady(
  jsm: JetStreamManager,
  name: string,
  least: number,
  steadyMs: number,
  deadlineMs: number,
): Promise<number | undefined> {
  let lastCount = -1;
  let steadySince = Date.now();
  return waitStream(jsm, name, deadlineMs, (messages) => {
    if (messages !== lastCount) {
      lastCount = messages;
      steadySince = Date.now();
    }
    return messages >= least && Date.now() - steadySince >= steadyMs;
  });
}
// ---------------------------------------------------------------- the run

const cleanups: (() => Promise<unknown>)[] = [];
/** Never rejects: a step that fails must not keep the others from running. */
async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

/**
 * A bench helper process (echo responder, relay floor, event floor) from dist-bench/bench, once it prints "ready";
 * under `node --cpu-prof` into `profileDir` when given.
 */
async function startResponder(script: string, args: string[], profileDir?: string): Promise<Managed> {
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const flags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...flags, join(import.meta.dirname, script), ...args], {
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
  const profileRelayFloor = PROFILE ? join(PROFILE_DIR, 'relay-floor') : undefined;
  const floor = await startResponder(
    'relay-floor.js',
    [echoNats.url, `ws://127.0.0.1:${janus.wsPort}/janus`],
    profileRelayFloor,
  );
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
  const relayFloorProfile = profileRelayFloor ? await profileOf(profileRelayFloor, 'relay floor') : undefined;
  await echo.stop();

  // ---------------------------------------------------------------- the four event legs, all up at once
  // direct: the same ws client and session, an echotest handle of its own.
  const attached = await direct.request({ janus: 'attach', session_id: session, plugin: 'janus.plugin.echotest' });
  const directHandle = (attached.data as { id: number }).id;
  const directEventLeg: EventLeg = {
    send: (transaction) =>
      direct.send({
        janus: 'message',
        session_id: session,
        handle_id: directHandle,
        body: { audio: true },
        transaction,
      }),
    onEvent: ignoreEvent,
    received: 0,
    other: 0,
    janus: janusCpu(janus),
  };
  direct.onOther = (body) => {
    // Janus's `ack` to each message is not an event: the direct client drops it, as the relays do.
    if (body.janus === 'ack') return;
    directEventLeg.received++;
    if (body.janus === 'event') directEventLeg.onEvent(() => body.transaction);
    else directEventLeg.other++;
  };

  /**
   * A minimal event relay (bench/event-floor.ts) on `server` as the leg `janusId`; with `capture`, publishing as a
   * JetStream publish does. Profiled into PROFILE_DIR/`profileName` with BENCH_PROFILE.
   */
  const eventFloorLeg = async (
    server: { url: string; pid: number },
    client: NatsConnection,
    janusId: string,
    profileName: string,
    capture = false,
  ) => {
    const profileDir = PROFILE ? join(PROFILE_DIR, profileName) : undefined;
    const relay = await startResponder(
      'event-floor.js',
      [server.url, `ws://127.0.0.1:${janus.wsPort}/janus`, janusId, ...(capture ? ['capture'] : [])],
      profileDir,
    );
    cleanups.push(() => relay.stop());
    const leg = await natsEventLeg(client, janusId, {
      cpu: cpuOver(client, 'bench.event-floor.cpu'),
      janus: janusCpu(janus),
      nats: { read: () => procCpuMicros(server.pid) },
    });
    return { leg, relay, profileDir };
  };

  // floor: the least an event relay does, on the echo leg's nats-server.
  const {
    leg: floorEventLeg,
    relay: eventFloor,
    profileDir: profileEventFloor,
  } = await eventFloorLeg(echoNats, echoNc, 'floor', 'event-floor');

  // bridge: the daemon of the request legs (capture off).
  const bridgeEventLeg = await natsEventLeg(nc, 'bench', {
    cpu: { read: () => procCpuMicros(bridgeDaemon.pid) },
    janus: janusCpu(janus),
    nats: { read: () => procCpuMicros(nats.pid) },
  });

  // capture: its own daemon (events.stream.enabled) on its own nats-server with JetStream, the
  // stream as a user gets it by default (file storage, one replica) in a temporary store directory.
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
    config: {
      events: {
        stream: { enabled: true, name: STREAM, storage: STREAM_STORAGE, replicas: 1, maxPending: STREAM_MAX_PENDING },
      },
    },
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
  log(`capture: request warm-up (${WARMUP + WARMUP * 4} requests)`);
  await sequential(WARMUP, captureOnce);
  await windowed(WARMUP * 4, WINDOW, captureOnce);
  const captureEventLeg = await natsEventLeg(jsNc, 'capture', {
    cpu: { read: () => procCpuMicros(captureDaemon.pid) },
    janus: janusCpu(janus),
    nats: { read: () => procCpuMicros(jsNats.pid) },
  });
  /** Per round: what the stream holds of the events the subscriber saw (the stream is emptied before each round). */
  const streamRounds: {
    /** Once the burst's events were all seen: until the stream held as many. */
    messages_after_burst: number | null;
    seconds_until_stored: number | null;
    /** At the end of the round (burst, one at a time, paced), once no more came for STREAM_STEADY_MS. */
    messages: number | null;
    expected: number;
    stored_once: boolean;
  }[] = [];
  let receivedAtPurge = 0;
  let burstStored: Pick<(typeof streamRounds)[number], 'messages_after_burst' | 'seconds_until_stored'>;
  captureEventLeg.beforeRound = async () => {
    await waitStreamSteady(jsm, STREAM, 0, STREAM_STEADY_MS, 5_000);
    await jsm.streams.purge(STREAM);
    receivedAtPurge = captureEventLeg.received;
  };
  captureEventLeg.settle = async (seen, seconds) => {
    // The daemon awaits its acks asynchronously: the stream may trail the subscriber a little.
    const settleBegin = process.hrtime.bigint();
    const messages = await waitStream(jsm, STREAM, 5_000, (count) => count >= seen);
    const stored = messages !== undefined && messages >= seen;
    burstStored = {
      messages_after_burst: messages ?? null,
      seconds_until_stored: stored ? seconds + Number(process.hrtime.bigint() - settleBegin) / 1e9 : null,
    };
  };
  captureEventLeg.afterRound = async () => {
    const expected = captureEventLeg.received - receivedAtPurge;
    const messages = await waitStreamSteady(jsm, STREAM, expected, STREAM_STEADY_MS, 5_000);
    streamRounds.push({ ...burstStored, messages: messages ?? null, expected, stored_once: messages === expected });
  };

  // capture floor: the event floor publishing as a JetStream publish does, into the same stream, on the capture
  // leg's nats-server: what capturing costs any relay, and what the server's ingest alone does to live consumers.
  const { leg: captureFloorEventLeg } = await eventFloorLeg(jsNats, jsNc, 'floorcap', 'capture-floor', true);

  const eventLegs = {
    direct: directEventLeg,
    floor: floorEventLeg,
    bridge: bridgeEventLeg,
    captureFloor: captureFloorEventLeg,
    capture: captureEventLeg,
  };
  for (const [name, leg] of Object.entries(eventLegs)) {
    log(`${name}: event warm-up (${EVENT_WARMUP} events)`);
    await eventBurst(leg, EVENT_WARMUP, 'w-');
    await eventDelays(leg, 100, 0, 'ws-');
    await eventDelays(leg, Math.min(EVENT_PACED, 500), EVENT_RATE, 'wp-');
  }
  log(
    `${ROUNDS} event rounds, each leg in turn: ${EVENTS} events (≤ ${EVENT_WINDOW} outstanding), ` +
      `${EVENT_ONE_AT_A_TIME} one at a time, ${EVENT_PACED} at ${EVENT_RATE}/s`,
  );
  const {
    direct: directEvents,
    floor: floorEvents,
    bridge: bridgeEvents,
    captureFloor: captureFloorEvents,
    capture: captureEvents,
  } = await measureEventLegs(eventLegs);

  direct.onOther = () => {};
  await direct.request({ janus: 'detach', session_id: session, handle_id: directHandle });
  await direct.request({ janus: 'destroy', session_id: session });
  await direct.close();
  await floorEventLeg.detach();
  await bridgeEventLeg.detach();
  await captureEventLeg.detach();
  await eventFloor.stop();
  const eventFloorProfile = profileEventFloor ? await profileOf(profileEventFloor, 'event floor') : undefined;
  await echoNc.close();
  await echoNats.stop();

  const bridgeRss = procRssMiB(bridgeDaemon.pid);
  const bridgeLogs = bridgeDaemon.logCounts();
  const bridgeProblems = bridgeDaemon.problems();
  const bridgeShutdownMs = await bridgeDaemon.stop(20_000);
  const bridgeProfile = profileBridge ? await profileOf(profileBridge, 'daemon, bridge + events phases') : undefined;

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
  const lastStream = streamRounds[streamRounds.length - 1];
  const captureResult = {
    ...captureEvents,
    stream: {
      name: STREAM,
      storage: STREAM_STORAGE,
      replicas: 1,
      max_pending: STREAM_MAX_PENDING,
      /** Every round: the stream held exactly the events the subscriber saw (each stored once). */
      stored_once: streamRounds.every((round) => round.stored_once),
      /** The last round (emptied before it): messages held, and the events the subscriber saw. */
      messages: lastStream?.messages ?? null,
      expected: lastStream?.expected ?? 0,
      /** Median over the rounds, from the first message of the burst until the stream held its events (null: not). */
      seconds_until_stored: streamRounds.some((round) => round.seconds_until_stored === null)
        ? null
        : percentile(
            streamRounds.map((round) => round.seconds_until_stored!).sort((a, b) => a - b),
            50,
          ),
      rounds: streamRounds,
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
    // The guard of issue 19: the daemon within 1.1× the minimal relay, in p50 and CPU per request (256 in flight).
    bridge_over_floor_p50_target: ratio(bridgeLeg.sequential.p50_ms / floorLeg.sequential.p50_ms, 1.1, true),
    bridge_over_floor_cpu_target: ratio(
      bridgeLeg.cpu_window!.us_per_request / floorLeg.cpu_window!.us_per_request,
      1.1,
      true,
    ),
  };
  // Events (issue 19): ratios of the medians; `per_round` the same ratio in each round (legs seconds apart).
  const perRound = (of: (round: number) => number): number[] => Array.from({ length: ROUNDS }, (_, i) => of(i));
  const eventRate = (leg: EventLegResult, i: number): number => leg.rounds[i]!.burst.per_second;
  const eventCpu = (leg: EventLegResult, i: number): number => leg.rounds[i]!.burst.cpu!.us_per_request;
  const eventRatios = {
    bridge_over_direct_rate: {
      ...ratio(bridgeEvents.per_second / directEvents.per_second, 0.9, false),
      per_round: perRound((i) => eventRate(bridgeEvents, i) / eventRate(directEvents, i)),
    },
    bridge_cpu_us_per_event: ratio(bridgeEvents.cpu!.us_per_request, 15, true),
    bridge_over_floor_cpu: {
      ...ratio(bridgeEvents.cpu!.us_per_request / floorEvents.cpu!.us_per_request, 1.2, true),
      per_round: perRound((i) => eventCpu(bridgeEvents, i) / eventCpu(floorEvents, i)),
    },
    floor_over_direct_rate: floorEvents.per_second / directEvents.per_second,
    bridge_over_floor_rate: bridgeEvents.per_second / floorEvents.per_second,
    capture_over_direct_rate: {
      ...ratio(captureEvents.per_second / directEvents.per_second, 0.6, false),
      per_round: perRound((i) => eventRate(captureEvents, i) / eventRate(directEvents, i)),
    },
    capture_cpu_us_per_event: ratio(captureEvents.cpu!.us_per_request, 35, true),
    capture_stored_once: captureResult.stream.stored_once,
    // Against the capture floor (info: the issue's targets are absolute).
    capture_over_capture_floor_cpu: {
      value: captureEvents.cpu!.us_per_request / captureFloorEvents.cpu!.us_per_request,
      per_round: perRound((i) => eventCpu(captureEvents, i) / eventCpu(captureFloorEvents, i)),
    },
    capture_floor_over_direct_rate: captureFloorEvents.per_second / directEvents.per_second,
    capture_over_capture_floor_rate: captureEvents.per_second / captureFloorEvents.per_second,
  };
  // Capture must not delay live consumers: its send → event delays against capture off's, per phase.
  const delayCheck = (phase: 'delay_one_at_a_time' | 'delay_paced') => {
    const off = bridgeEvents[phase];
    const on = captureEvents[phase];
    const allowed = Math.max(off.p50_ms * DELAY_TOLERANCE.share, DELAY_TOLERANCE.ms);
    return {
      capture_off: { p50_ms: off.p50_ms, p99_ms: off.p99_ms },
      capture_on: { p50_ms: on.p50_ms, p99_ms: on.p99_ms },
      added_p50_ms: on.p50_ms - off.p50_ms,
      added_p99_ms: on.p99_ms - off.p99_ms,
      delays_live_consumers: !(on.p50_ms - off.p50_ms <= allowed) || on.received < on.sent,
    };
  };
  // What capture adds to a relay's delays whoever relays: the capture floor against the floor (same code).
  const floorDelay = (phase: 'delay_one_at_a_time' | 'delay_paced') => ({
    floor: { p50_ms: floorEvents[phase].p50_ms, p99_ms: floorEvents[phase].p99_ms },
    capture_floor: { p50_ms: captureFloorEvents[phase].p50_ms, p99_ms: captureFloorEvents[phase].p99_ms },
    added_p50_ms: captureFloorEvents[phase].p50_ms - floorEvents[phase].p50_ms,
  });
  const eventDelayCheck = {
    tolerance: `capture p50 ≤ capture-off p50 + max(${DELAY_TOLERANCE.share * 100}%, ${DELAY_TOLERANCE.ms} ms)`,
    one_at_a_time: delayCheck('delay_one_at_a_time'),
    paced: delayCheck('delay_paced'),
    floor_one_at_a_time: floorDelay('delay_one_at_a_time'),
    floor_paced: floorDelay('delay_paced'),
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
      event_warmup: EVENT_WARMUP,
      event_one_at_a_time: EVENT_ONE_AT_A_TIME,
      event_paced: EVENT_PACED,
      event_rate: EVENT_RATE,
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
    events: {
      direct: directEvents,
      floor: floorEvents,
      bridge: bridgeEvents,
      floor_jetstream: captureFloorEvents,
      bridge_jetstream: captureResult,
    },
    event_ratios: eventRatios,
    event_delays: eventDelayCheck,
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
    profiles: PROFILE
      ? {
          relay_floor: relayFloorProfile,
          event_floor: eventFloorProfile,
          bridge: bridgeProfile,
          capture: captureProfile,
          connections: connectionProfiles,
        }
      : undefined,
  };

  const table = render(results);
  process.stdout.write(table + '\n');
  const outFile =
    process.env.BENCH_OUT || (PROFILE ? join(PROFILE_DIR, 'results.json') : join(REPO, 'bench-results/latest.json'));
  mkdirSync(dirname(outFile), { recursive: true });
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
    `requests: Janus keepalive; ${r.parameters.warmup} warm-up, ` +
      `then ${r.parameters.rounds} rounds of ${r.parameters.sequential} sequential ` +
      `and ${r.parameters.requests} with ${r.parameters.window} in flight (medians of the rounds); ` +
      'daemon log level info',
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
    `  (info) sequential CPU ratio, daemon / echo: ` +
      `${(r.bridge.cpu_sequential.us_per_request / r.echo.cpu_sequential.us_per_request).toFixed(2)}; ` +
      `echo CPU from /proc/<pid>/stat over both phases: ${f(r.echo.cpu_us_per_request_from_proc_stat, 1)} µs/req`,
  );
  const fr = r.floor_ratios;
  lines.push(
    `the minimal relay on the same ratios: latency ${f(fr.floor_latency_p50, 2)}, ` +
      `throughput ${f(fr.floor_throughput, 2)}, CPU ${f(fr.floor_cpu_per_request, 2)} (256 in flight)`,
  );
  lines.push(
    `daemon over the minimal relay: p50 ${f(fr.bridge_over_floor_latency_p50, 2)}×, ` +
      `CPU ${f(fr.bridge_over_floor_cpu_window, 2)}× (256 in flight), ` +
      `${f(fr.bridge_over_floor_cpu_sequential, 2)}× (sequential)`,
  );
  lines.push(
    `daemon with 1 connection: RSS ${f(r.bridge.rss_mib, 1)} MiB, ` +
      `${f(r.bridge.log_bytes_per_request, 2)} log bytes/request, shutdown ${r.bridge.shutdown_ms} ms`,
  );
  lines.push('');
  const ev = r.events;
  const p = r.parameters;
  lines.push(
    `events: echotest fire-and-forget message → event; ${p.rounds} rounds of ${k(p.events)} ` +
      `(≤ ${k(p.event_window)} outstanding), then ${k(p.event_one_at_a_time)} one at a time ` +
      `and ${k(p.event_paced)} at ${k(p.event_rate)}/s (delay: message sent → event received; medians of the rounds)`,
  );
  const delay = (d: any): string => (d ? `${f(d.p50_ms, 3)} / ${f(d.p99_ms, 3)}` : '—');
  const evRow = (name: string, e: any): string[] => [
    name,
    k(e.per_second) + (e.complete ? '' : ' (stalled)'),
    f(e.cpu?.us_per_request, 1),
    f(e.janus_cpu?.us_per_request, 1),
    f(e.nats_cpu?.us_per_request, 1),
    delay(e.delay_one_at_a_time),
    delay(e.delay_paced),
  ];
  lines.push(
    ...grid([
      ['leg', 'events/s', 'relay CPU µs/event', 'Janus µs/event', 'nats-server µs/event', 'delay 1-at-a-time', 'paced'],
      ['', '', '(floor or daemon)', '', '', 'p50 / p99 ms', 'p50 / p99 ms'],
      evRow('direct (ws ↔ Janus)', ev.direct),
      evRow('floor (NATS → minimal event relay → NATS)', ev.floor),
      evRow('bridge (daemon, capture off)', ev.bridge),
      evRow('capture floor (minimal relay, capture on)', ev.floor_jetstream),
      evRow('capture (daemon, JetStream capture on)', ev.bridge_jetstream),
    ]),
  );
  lines.push('');
  const er = r.event_ratios;
  lines.push(`events/s   daemon / direct                         ${verdict(er.bridge_over_direct_rate)}`);
  lines.push(`CPU        daemon µs/event                         ${verdict(er.bridge_cpu_us_per_event)}`);
  lines.push(`CPU        daemon / event floor µs/event           ${verdict(er.bridge_over_floor_cpu)}`);
  lines.push(`events/s   capture / direct                        ${verdict(er.capture_over_direct_rate)}`);
  lines.push(`CPU        capture daemon µs/event                 ${verdict(er.capture_cpu_us_per_event)}`);
  const st = ev.bridge_jetstream.stream;
  const stored =
    st.seconds_until_stored === null
      ? ' (NOT all stored within 5 s of a burst)'
      : `, a burst all stored ${f(st.seconds_until_stored, 2)} s after its first was sent`;
  lines.push(
    `capture stores every event once: ${st.stored_once ? 'yes  PASS' : 'NO  MISS'} ` +
      `(stream ${st.name}, ${st.storage}, R${st.replicas}, ≤ ${st.max_pending} acks pending; ` +
      `last round ${st.messages === null ? '—' : k(st.messages)} stored of ${k(st.expected)} seen${stored})`,
  );
  const dc = r.event_delays;
  const added = (x: any): string =>
    `p50 ${f(x.capture_off.p50_ms)} → ${f(x.capture_on.p50_ms)} ms, p99 ${f(x.capture_off.p99_ms)} → ` +
    `${f(x.capture_on.p99_ms)} ms`;
  const delays = dc.one_at_a_time.delays_live_consumers || dc.paced.delays_live_consumers;
  lines.push(`capture delays live consumers? ${delays ? 'YES  MISS' : 'no  PASS'} (capture off → on; ${dc.tolerance})`);
  lines.push(`  one at a time: ${added(dc.one_at_a_time)}; paced: ${added(dc.paced)}`);
  lines.push(
    `  (info) the same for the minimal relay (floor → capture floor): one at a time p50 ` +
      `${f(dc.floor_one_at_a_time.floor.p50_ms)} → ${f(dc.floor_one_at_a_time.capture_floor.p50_ms)} ms, paced p50 ` +
      `${f(dc.floor_paced.floor.p50_ms)} → ${f(dc.floor_paced.capture_floor.p50_ms)} ms; capture daemon / capture ` +
      `floor CPU ${f(er.capture_over_capture_floor_cpu.value, 2)} (by round ` +
      `${er.capture_over_capture_floor_cpu.per_round.map((v: number) => v.toFixed(2)).join(', ')}), events/s ` +
      `${f(er.capture_over_capture_floor_rate, 2)}; capture floor / direct events/s ` +
      `${f(er.capture_floor_over_direct_rate, 2)}`,
  );
  const rounds = (values: number[]): string => values.map((v) => v.toFixed(2)).join(', ');
  lines.push(
    `  (info) events/s floor / direct ${f(er.floor_over_direct_rate, 2)}, ` +
      `daemon / floor ${f(er.bridge_over_floor_rate, 2)}; ` +
      `by round: daemon / direct ${rounds(er.bridge_over_direct_rate.per_round)}, ` +
      `capture / direct ${rounds(er.capture_over_direct_rate.per_round)}, ` +
      `daemon / floor CPU ${rounds(er.bridge_over_floor_cpu.per_round)}`,
  );
  const captureLogs = ev.bridge_jetstream.log_lines;
  lines.push(
    `  other messages on the event subjects (floor / daemon / capture): ${ev.floor.non_event_messages} / ` +
      `${ev.bridge.non_event_messages} / ${ev.bridge_jetstream.non_event_messages}; ` +
      `capture daemon ${captureLogs.warn ?? 0}/${(captureLogs.error ?? 0) + (captureLogs.fatal ?? 0)} warn/error logs`,
  );
  lines.push(
    `requests, daemon / relay floor: p50 ${verdict(fr.bridge_over_floor_p50_target)}; ` +
      `CPU µs/req (256) ${verdict(fr.bridge_over_floor_cpu_target)}`,
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
    const upIn10s = t.all_up_under_10s;
    const rssUnder250 = t.rss_under_250mib;
    lines.push(
      `1,000 up in < 10 s: ${f(upIn10s.value_ms ?? undefined, 0)} ms  ${upIn10s.pass ? 'PASS' : 'MISS'};  ` +
        `RSS < 250 MB: ${f(rssUnder250.value_mib, 1)} MiB  ${rssUnder250.pass ? 'PASS' : 'MISS'}`,
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
