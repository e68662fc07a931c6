/**
 * The event-handler leg: Janus's WebSocket event handler (wsevh) → the daemon → NATS.
 *
 * A load generator in this process speaks wsevh to the daemon (node dist/main.js, its own
 * process, eventHandler.port set): the subprotocol `janus-event-handlers`, grouped messages
 * (JSON arrays of up to 100 events, as wsevh's `grouping = true` sends them) in Janus's
 * default layout (json = "indented", 3 spaces), each event a media statistics event
 * (type 32, subtype 3) as Janus's ICE loop builds it. A plain NATS subscriber in this
 * process counts what arrives on janus.evh.bench.>. Two phases:
 *   paced     500 handles × audio and video, one statistics event each per second
 *             (janus.jcfg stats_period = 1, Janus's default): 1,000 events/s for
 *             BENCH_EVH_SECONDS (10) seconds, sent every 5 ms as they fall due; delay from
 *             sending to the subscriber, and the daemon's CPU per event and share of a core;
 *   flat-out  BENCH_EVH_EVENTS (200,000) events as fast as the daemon takes them, at most
 *             20,000 sent and not yet seen by the subscriber.
 * It is a fake sender: Janus itself cannot be made to emit 1,000 statistics events a second
 * without 500 real PeerConnections. A real Janus runs only for the daemon's connection.
 *
 * `node dist-bench/bench/evh.js` runs it alone (writes bench-results/evh.json); bench/run.ts
 * runs it as its last leg (BENCH_EVH=0 skips it there). BENCH_EVH_MAX_PENDING sets the
 * daemon's nats.maxPendingBytes (to see the daemon's own ceiling rather than the NatsLink's),
 * BENCH_EVH_PROFILE_DIR runs it under `node --cpu-prof` into that folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import WebSocket from 'ws';
import { startDaemon } from './daemon.js';
import { machine, percentile, procCpuMicros, procRssMiB } from './proc.js';
import { freePort, REPO, startJanus, startNats } from '../test/support/processes.js';

const envInt = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};

const HANDLES = 500;
const MEDIA_PER_HANDLE = 2;
const PACED_RATE = HANDLES * MEDIA_PER_HANDLE;
const PACED_SECONDS = envInt('BENCH_EVH_SECONDS', 10);
const FLAT_OUT_EVENTS = envInt('BENCH_EVH_EVENTS', 200_000);
const FLAT_OUT_WINDOW = 20_000;
/** wsevh groups at most 100 events per message. */
const GROUP = 100;
const SECRET = 'bench-secret';
const JANUS_ID = 'bench';

export interface EvhPhase {
  sent: number;
  events: number;
  seconds: number;
  per_second: number;
  complete: boolean;
  messages: number;
  bytes_sent: number;
  daemon_cpu_ms: number;
  daemon_cpu_us_per_event: number;
  /** Share of one core the daemon used over the phase. */
  daemon_cpu_share: number;
  /** The same less what the daemon uses idle (measured just before, as long): what the events cost. */
  daemon_net_cpu_us_per_event?: number;
  nats_cpu_us_per_event: number;
  delay_ms?: { p50: number; p99: number; max: number };
}

export interface EvhResult {
  parameters: {
    handles: number;
    media_per_handle: number;
    paced_rate: number;
    paced_seconds: number;
    flat_out_events: number;
    flat_out_window: number;
    group: number;
    layout: string;
  };
  paced: EvhPhase;
  flat_out: EvhPhase;
  event_bytes: number;
  /** Share of a core the daemon used idle, with its one Janus connection and the link open. */
  daemon_idle_cpu_share: number;
  daemon_rss_mib: number;
  /** The daemon's janus_bridge_evh_* series at the end (received, published, dropped by reason, links). */
  daemon_evh_metrics: string[];
  daemon_log_lines: Record<string, number>;
  problems: string[];
}

/** A media statistics event as Janus's ICE loop builds it (src/ice.c, JANUS_EVENT_SUBTYPE_MEDIA_STATS). */
function statsEvent(handle: number, video: boolean, tick: number, sentAtUs: number): Record<string, unknown> {
  return {
    emitter: 'MyJanusInstance',
    type: 32,
    subtype: 3,
    timestamp: sentAtUs,
    session_id: 4011520381924013 + handle,
    handle_id: 8913885244594609 + handle,
    opaque_id: `videoroomtest-${handle.toString(36)}`,
    event: {
      mid: video ? '1' : '0',
      mindex: video ? 1 : 0,
      media: video ? 'video' : 'audio',
      codec: video ? 'vp8' : 'opus',
      base: video ? 90000 : 48000,
      ...(video ? {} : { rtt: 12 }),
      lost: 0,
      'lost-by-remote': 0,
      'jitter-local': 3,
      'jitter-remote': 5,
      'in-link-quality': 100,
      'in-media-link-quality': 100,
      'out-link-quality': 100,
      'out-media-link-quality': 100,
      'packets-received': 1000 * tick + handle,
      'packets-sent': 990 * tick + handle,
      'bytes-received': 125000 * tick,
      'bytes-sent': 124000 * tick,
      'bytes-received-lastsec': 125000,
      'bytes-sent-lastsec': 124000,
      'nacks-received': 0,
      'nacks-sent': 0,
      'retransmissions-received': 0,
      ...(video ? { 'remb-bitrate': 1000000 } : {}),
    },
  };
}

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** One wsevh message: `count` events from the next handles in turn, indented as Janus's default json = "indented". */
class Generator {
  private next = 0;
  private tick = 0;
  messages = 0;
  bytes = 0;

  constructor(private readonly ws: WebSocket) {}

  send(count: number): void {
    const events: Record<string, unknown>[] = [];
    const at = nowUs();
    for (let i = 0; i < count; i++) {
      const n = this.next++;
      const handle = (n >> 1) % HANDLES;
      if (n % (HANDLES * MEDIA_PER_HANDLE) === 0) this.tick++;
      events.push(statsEvent(handle, (n & 1) === 1, this.tick, at));
    }
    const text = JSON.stringify(events, null, 3);
    this.messages++;
    this.bytes += Buffer.byteLength(text);
    this.ws.send(text);
  }
}

interface Counter {
  events: number;
  delays?: number[];
}

async function phase(
  name: string,
  ws: WebSocket,
  nc: NatsConnection,
  pids: { daemon: number; nats: number },
  run: (generator: Generator, counter: Counter, sent: () => number) => Promise<number>,
  withDelay: boolean,
): Promise<EvhPhase> {
  const counter: Counter = withDelay ? { events: 0, delays: [] } : { events: 0 };
  const sub = nc.subscribe(`janus.evh.${JANUS_ID}.>`, {
    callback: (_err, msg) => {
      counter.events++;
      if (counter.delays)
        counter.delays.push((nowUs() - (JSON.parse(msg.string()) as { timestamp: number }).timestamp) / 1000);
    },
  });
  await nc.flush();
  const generator = new Generator(ws);
  const before = { daemon: procCpuMicros(pids.daemon), nats: procCpuMicros(pids.nats) };
  const begin = process.hrtime.bigint();
  const sent = await run(generator, counter, () => generator.messages);
  // Until everything arrived, or nothing more for 3 s.
  let last = counter.events;
  let quietSince = Date.now();
  while (counter.events < sent && Date.now() - quietSince < 3_000) {
    await new Promise((r) => setTimeout(r, 10));
    if (counter.events !== last) {
      last = counter.events;
      quietSince = Date.now();
    }
  }
  const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
  const daemonUs = procCpuMicros(pids.daemon) - before.daemon;
  const natsUs = procCpuMicros(pids.nats) - before.nats;
  sub.unsubscribe();
  const result: EvhPhase = {
    sent,
    events: counter.events,
    seconds,
    per_second: counter.events / seconds,
    complete: counter.events >= sent,
    messages: generator.messages,
    bytes_sent: generator.bytes,
    daemon_cpu_ms: daemonUs / 1000,
    daemon_cpu_us_per_event: daemonUs / Math.max(1, counter.events),
    daemon_cpu_share: daemonUs / 1e6 / seconds,
    nats_cpu_us_per_event: natsUs / Math.max(1, counter.events),
  };
  if (counter.delays?.length) {
    const sorted = counter.delays.sort((a, b) => a - b);
    result.delay_ms = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1]! };
  }
  process.stderr.write(
    `evh ${name}: ${result.events}/${sent} events in ${seconds.toFixed(2)} s, ${Math.round(result.per_second)}/s, ` +
      `daemon ${result.daemon_cpu_us_per_event.toFixed(1)} µs/event ` +
      `(${(result.daemon_cpu_share * 100).toFixed(1)}% of a core)\n`,
  );
  return result;
}

/** Events at PACED_RATE, sent every 5 ms as they fall due. */
function paced(generator: Generator): Promise<number> {
  const total = PACED_RATE * PACED_SECONDS;
  return new Promise((resolve) => {
    let sent = 0;
    const start = performance.now();
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * PACED_RATE));
      while (sent < due) {
        const count = Math.min(GROUP, due - sent);
        generator.send(count);
        sent += count;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve(sent);
      }
    }, 5);
  });
}

/** FLAT_OUT_EVENTS as fast as they are taken, at most FLAT_OUT_WINDOW ahead of the subscriber. */
function flatOut(generator: Generator, counter: Counter, ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    const pump = (): void => {
      // Also bounded by what the socket has not written yet: a burst must not pile up here.
      while (sent < FLAT_OUT_EVENTS && sent - counter.events < FLAT_OUT_WINDOW && ws.bufferedAmount < 4 * 1024 * 1024) {
        const count = Math.min(GROUP, FLAT_OUT_EVENTS - sent);
        generator.send(count);
        sent += count;
      }
      if (sent >= FLAT_OUT_EVENTS) resolve(sent);
      else setTimeout(pump, 1);
    };
    pump();
  });
}

export async function runEvhLeg(
  log: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Promise<EvhResult> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const nats = await startNats();
    cleanups.push(() => nats.stop());
    const janus = await startJanus();
    cleanups.push(() => janus.stop());
    const evhPort = await freePort();
    const httpPort = await freePort();
    const daemon = startDaemon({
      natsUrl: nats.url,
      connections: [{ janus_id: JANUS_ID, janus_url: janus.url }],
      ...(process.env.BENCH_EVH_PROFILE_DIR ? { profileDir: process.env.BENCH_EVH_PROFILE_DIR } : {}),
      config: {
        ...(process.env.BENCH_EVH_MAX_PENDING
          ? { nats: { servers: [nats.url], maxPendingBytes: Number(process.env.BENCH_EVH_MAX_PENDING) } }
          : {}),
        http: { host: '127.0.0.1', port: httpPort },
        eventHandler: { port: evhPort, host: '127.0.0.1', secret: SECRET },
      },
    });
    cleanups.push(() => daemon.stop(20_000));
    const nc = await connect({ servers: nats.url, name: 'bench-evh-subscriber' });
    cleanups.push(() => nc.close());

    // The daemon listens once NATS is up and the list loaded: retry the link like wsevh does.
    let ws: WebSocket | undefined;
    for (let attempt = 0; !ws; attempt++) {
      try {
        ws = await new Promise<WebSocket>((resolve, reject) => {
          const socket = new WebSocket(
            `ws://127.0.0.1:${evhPort}/${JANUS_ID}?secret=${SECRET}`,
            'janus-event-handlers',
            { perMessageDeflate: false },
          );
          socket.once('open', () => resolve(socket));
          socket.once('error', reject);
          socket.once('unexpected-response', (_req, res) => {
            socket.terminate();
            reject(new Error(`HTTP ${res.statusCode}`));
          });
        });
      } catch (err) {
        if (attempt > 100)
          throw new Error(
            `the daemon's event-handler endpoint did not accept: ${(err as Error).message}\n` +
              daemon.problems().join('\n'),
            { cause: err },
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const link = ws;
    cleanups.push(async () => link.terminate());
    const pids = { daemon: daemon.pid, nats: nats.pid };

    log(`evh: warm-up (20,000 events)`);
    const warmup = { events: 0 };
    const warmSub = nc.subscribe(`janus.evh.${JANUS_ID}.>`, {
      callback: () => {
        warmup.events++;
      },
    });
    const warmGenerator = new Generator(link);
    for (let i = 0; i < 200; i++) warmGenerator.send(GROUP);
    const warmDeadline = Date.now() + 10_000;
    while (warmup.events < 20_000 && Date.now() < warmDeadline) await new Promise((r) => setTimeout(r, 10));
    warmSub.unsubscribe();

    log(`evh: idle for ${PACED_SECONDS} s (the daemon's own CPU without events)`);
    const idleBefore = procCpuMicros(daemon.pid);
    await new Promise((r) => setTimeout(r, PACED_SECONDS * 1000));
    const idleShare = (procCpuMicros(daemon.pid) - idleBefore) / 1e6 / PACED_SECONDS;
    log(`evh: paced, ${HANDLES} handles × ${MEDIA_PER_HANDLE} media = ${PACED_RATE} events/s for ${PACED_SECONDS} s`);
    const pacedResult = await phase('paced', link, nc, pids, (generator) => paced(generator), true);
    pacedResult.daemon_net_cpu_us_per_event = Math.max(
      0,
      ((pacedResult.daemon_cpu_share - idleShare) * pacedResult.seconds * 1e6) / Math.max(1, pacedResult.events),
    );
    log(`evh: flat-out, ${FLAT_OUT_EVENTS} events, ≤ ${FLAT_OUT_WINDOW} outstanding`);
    const flatResult = await phase(
      'flat-out',
      link,
      nc,
      pids,
      (generator, counter) => flatOut(generator, counter, link),
      false,
    );

    const sample = JSON.stringify(statsEvent(1, true, 1, nowUs()));
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const evhMetrics = metrics
      .split('\n')
      .filter((line) => line.startsWith('janus_bridge_evh_') && !line.startsWith('#'));
    return {
      parameters: {
        handles: HANDLES,
        media_per_handle: MEDIA_PER_HANDLE,
        paced_rate: PACED_RATE,
        paced_seconds: PACED_SECONDS,
        flat_out_events: FLAT_OUT_EVENTS,
        flat_out_window: FLAT_OUT_WINDOW,
        group: GROUP,
        layout: 'indented (3 spaces), as Janus\'s default json = "indented"',
      },
      paced: pacedResult,
      flat_out: flatResult,
      event_bytes: Buffer.byteLength(sample),
      daemon_idle_cpu_share: idleShare,
      daemon_rss_mib: procRssMiB(daemon.pid),
      daemon_evh_metrics: evhMetrics,
      daemon_log_lines: daemon.logCounts(),
      problems: daemon.problems().slice(-10),
    };
  } finally {
    // Best effort: a step that fails must not keep the others from running.
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  }
}

export function renderEvh(r: EvhResult): string[] {
  const f = (n: number | undefined, digits = 1): string => (n === undefined ? '—' : n.toFixed(digits));
  const k = (n: number): string => Math.round(n).toLocaleString('en-US');
  const row = (name: string, p: EvhPhase): string => {
    const lessIdle =
      p.daemon_net_cpu_us_per_event === undefined ? '' : ` (${f(p.daemon_net_cpu_us_per_event)} less idle)`;
    const delay = p.delay_ms ? `  delay p50 ${f(p.delay_ms.p50, 2)} ms, p99 ${f(p.delay_ms.p99, 2)} ms` : '';
    return (
      `  ${name.padEnd(9)} ${k(p.events).padStart(8)}/${k(p.sent).padEnd(8)} ${f(p.seconds, 2).padStart(6)} s ` +
      `${k(p.per_second).padStart(8)} events/s  ` +
      `daemon ${f(p.daemon_cpu_us_per_event).padStart(5)} µs/event${lessIdle} ` +
      `(${f(p.daemon_cpu_share * 100)}% of a core)  nats-server ${f(p.nats_cpu_us_per_event)} µs/event${delay}` +
      (p.complete ? '' : '  INCOMPLETE')
    );
  };
  const dropped =
    r.daemon_evh_metrics.filter((line) => /_dropped_total.* [1-9]/.test(line)).join(', ') || 'dropped no event';
  const logs = r.daemon_log_lines;
  return [
    'event handlers (fake wsevh → daemon → janus.evh.<id>.media; ' +
      `media statistics events of ${r.event_bytes} bytes compact, ` +
      `${r.parameters.group} per message, ${r.parameters.layout})`,
    row('paced', r.paced),
    row('flat-out', r.flat_out),
    `  daemon idle: ${f(r.daemon_idle_cpu_share * 100, 2)}% of a core; ${dropped}; RSS ${f(r.daemon_rss_mib)} MiB; ` +
      `warn/error logs ${logs.warn ?? 0}/${(logs.error ?? 0) + (logs.fatal ?? 0)}`,
  ];
}

// Run alone: node dist-bench/bench/evh.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runEvhLeg().then(
    (result) => {
      process.stdout.write(renderEvh(result).join('\n') + '\n');
      const out = join(REPO, 'bench-results');
      mkdirSync(out, { recursive: true });
      writeFileSync(
        join(out, 'evh.json'),
        JSON.stringify(
          {
            benchmark: 'janus-nats-bridge event handlers',
            at: new Date().toISOString(),
            machine: machine('see latest.json'),
            ...result,
          },
          null,
          2,
        ) + '\n',
      );
      process.stderr.write(`written: ${join(out, 'evh.json')}\n`);
      process.exit(0);
    },
    (err: Error) => {
      process.stderr.write(`evh benchmark failed: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
