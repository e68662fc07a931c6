/**
 * Prometheus metrics (prom-client), served on /metrics. Per-connection series carry a
 * `janus_id` label and are removed when the connection is no longer served.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { LeaseMetrics } from '../ha/lease-ownership.js';
import { ADMIN_LINK_STATES } from '../janus/admin-link.js';
import { CONNECTION_STATES } from '../janus/connection.js';
import { VERSION } from '../version.js';
import {
  OUTCOMES,
  PUBLISH_KINDS,
  REFUSED_REPLY_KINDS,
  type ConnectionMetrics,
  type PublishKind,
  type RefusedReplyKind,
  type RequestOutcome,
} from '../bridge/reporting.js';
import type { EventHandlerFigures } from '../eventhandlers/tally.js';

/** The bucket bounds of janus_bridge_request_duration_seconds, in seconds. */
const DURATION_BOUNDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface MetricsSources {
  /** Current state and waiting requests of each served connection, read at scrape time. */
  connections(): Array<{
    janusId: string;
    state: string;
    pending: number;
    /** The Admin API link's state, when the connection has one. */ adminState?: string | undefined;
  }>;
  natsConnected(): boolean;
  /** Events waiting for JetStream (capture on), or undefined without capture. */
  eventsWaiting?(): number | undefined;
  /** Bytes handed to NATS and not yet confirmed, plus those kept during an outage. */
  natsPendingBytes?(): number;
}

/** Why an event was dropped, every one of them (series start at 0). */
const DROP_REASONS = ['nats_unavailable', 'buffer_full', 'refused', 'too_large'] as const;

export class Metrics {
  readonly registry = new Registry();
  /** The requests of each janus_id, counted in plain fields and published at scrape time (see RequestTally). */
  private readonly tallies = new Map<string, RequestTally>();
  private readonly requests = new Counter({
    name: 'janus_bridge_requests_total',
    help: 'Requests handled, by outcome',
    labelNames: ['janus_id', 'outcome'],
    registers: [this.registry],
    collect: () => {
      this.requests.reset();
      for (const [janusId, tally] of this.tallies) {
        // Every outcome from the start, at 0: increase() and alerts see the first one.
        for (const outcome of OUTCOMES) this.requests.inc({ janus_id: janusId, outcome }, tally.outcomes[outcome]);
      }
    },
  });
  // Registered here, after the counter, so /metrics lists the metrics in the same order as before.
  private readonly duration = registerCollector(this.registry, new RequestDurations(this.tallies));
  private readonly events = new Counter({
    name: 'janus_bridge_events_published_total',
    help: 'Events published on the event subject (including those buffered during a NATS outage)',
    labelNames: ['janus_id'],
    registers: [this.registry],
  });
  private readonly eventsDropped = new Counter({
    name: 'janus_bridge_events_dropped_total',
    help:
      'Events lost, by reason: nats_unavailable (NATS away or stalled and nats.maxPendingBytes reached), buffer_full ' +
      "(JetStream too slow), refused (JetStream refused them), too_large (larger than the NATS server's max_payload)",
    labelNames: ['janus_id', 'reason'],
    registers: [this.registry],
  });
  private readonly reconnects = new Counter({
    name: 'janus_bridge_reconnects_total',
    help: 'Reconnect attempts to Janus',
    labelNames: ['janus_id'],
    registers: [this.registry],
  });
  private readonly replacements = new Counter({
    name: 'janus_bridge_session_replacements_total',
    help: 'Sessions replaced by a new one (every handle lost)',
    labelNames: ['janus_id'],
    registers: [this.registry],
  });
  private readonly claims = new Counter({
    name: 'janus_bridge_session_claims_total',
    help: 'Sessions claimed back after a reconnect (handles kept)',
    labelNames: ['janus_id'],
    registers: [this.registry],
  });
  private readonly publishFailures = new Counter({
    name: 'janus_bridge_publish_failures_total',
    help:
      'Messages the bridge could not publish, by kind: reply (to a Janus request), event, status, admin (admin, ' +
      'service-discovery and relay answers)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly refusedReplySubjects = new Counter({
    name: 'janus_bridge_reply_subjects_refused_total',
    help:
      'Requests left unanswered because their reply subject is one the bridge never publishes on (its own subjects, ' +
      '$-subjects, wildcards), by the subjects they came on: request, admin, discovery, relay, adminapi',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly adminRequests = new Counter({
    name: 'janus_bridge_admin_requests_total',
    help: "Requests on <prefix>.adminapi.<janus_id> (Janus's Admin API), by outcome",
    labelNames: ['janus_id', 'outcome'],
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'janus_bridge_build_info',
      help: 'Always 1; the labels say which version runs on which Node.js',
      labelNames: ['version', 'node_version'],
      registers: [this.registry],
    }).set({ version: VERSION, node_version: process.versions.node }, 1);
    new Gauge({
      name: 'janus_bridge_events_capture_waiting',
      help: 'Events waiting to be stored in the JetStream event stream (with events.stream.enabled)',
      registers: [this.registry],
      collect() {
        const waiting = sources.eventsWaiting?.();
        if (waiting !== undefined) this.set(waiting);
      },
    });
    new Gauge({
      name: 'janus_bridge_nats_pending_bytes',
      help:
        'Bytes handed to NATS and not yet confirmed by the server, plus those kept during an outage (bounded by ' +
        'nats.maxPendingBytes)',
      registers: [this.registry],
      collect() {
        this.set(sources.natsPendingBytes?.() ?? 0);
      },
    });
    // Every kind from the start: an alert on an increase needs the series before the first failure.
    for (const kind of PUBLISH_KINDS) this.publishFailures.inc({ kind }, 0);
    for (const kind of REFUSED_REPLY_KINDS) this.refusedReplySubjects.inc({ kind }, 0);
    new Gauge({
      name: 'janus_bridge_connection_state',
      help: '1 for the state each Janus connection is in, 0 for the others',
      labelNames: ['janus_id', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const connection of sources.connections()) {
          for (const state of CONNECTION_STATES)
            this.set({ janus_id: connection.janusId, state }, connection.state === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'janus_bridge_admin_connection_state',
      help:
        '1 for the state each Janus Admin API link is in, 0 for the others (connections with a janus_admin_url ' +
        'only)',
      labelNames: ['janus_id', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const connection of sources.connections()) {
          if (connection.adminState === undefined) continue;
          for (const state of ADMIN_LINK_STATES)
            this.set({ janus_id: connection.janusId, state }, connection.adminState === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'janus_bridge_pending_requests',
      help: 'Requests waiting for Janus',
      labelNames: ['janus_id'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const connection of sources.connections()) this.set({ janus_id: connection.janusId }, connection.pending);
      },
    });
    new Gauge({
      name: 'janus_bridge_nats_connected',
      help: '1 while the NATS connection is up',
      registers: [this.registry],
      collect() {
        this.set(sources.natsConnected() ? 1 : 0);
      },
    });
  }

  publishFailed(kind: PublishKind): void {
    this.publishFailures.inc({ kind });
  }

  replySubjectRefused(kind: RefusedReplyKind): void {
    this.refusedReplySubjects.inc({ kind });
  }

  private readonly removed = new Set<string>();

  /** Which connection reports for each janus_id now: a new one may start while the old one finishes (a takeover). */
  private readonly current = new Map<string, ConnectionMetrics>();

  forConnection(janusId: string): ConnectionMetrics {
    this.removed.delete(janusId);
    // Acks of events queued before a removal may come later: they must not bring the series back.
    const live = (): boolean => !this.removed.has(janusId);
    // A takeover's newer connection keeps adding to the same tally, as to the same series.
    if (!this.tallies.has(janusId)) this.tallies.set(janusId, new RequestTally());
    const events = this.events.labels({ janus_id: janusId });
    // Every series of the connection from the start, at 0: increase() and alerts see the first event.
    events.inc(0);
    for (const reason of DROP_REASONS) this.eventsDropped.inc({ janus_id: janusId, reason }, 0);
    for (const metric of [this.reconnects, this.replacements, this.claims]) metric.inc({ janus_id: janusId }, 0);
    const reporter: ConnectionMetrics = {
      request: (outcome, seconds) => {
        // Looked up on every call: a removed id has no tally (nothing is counted), a re-added one a new tally.
        this.tallies.get(janusId)?.add(outcome, seconds);
      },
      event: (result) => {
        if (!live()) return;
        if (result === 'published') events.inc();
        else this.eventsDropped.inc({ janus_id: janusId, reason: result });
      },
      status: (change) => {
        if (!live()) return;
        if (change.state === 'reconnecting') this.reconnects.inc({ janus_id: janusId });
        else if (change.state === 'session-replaced') this.replacements.inc({ janus_id: janusId });
        else if (change.state === 'connected' && change.resumed) this.claims.inc({ janus_id: janusId });
      },
      adminRequest: (outcome) => {
        if (live()) this.adminRequests.inc({ janus_id: janusId, outcome });
      },
      // Not per janus_id, and counted even after a removal: a failure is the process's, whoever caused it.
      publishFailed: (kind) => this.publishFailed(kind),
      replySubjectRefused: (kind) => this.replySubjectRefused(kind),
    };
    this.current.set(janusId, reporter);
    return reporter;
  }

  /** The ownership metrics, registered only when several replicas share the connections. */
  leaseOwnership(held: () => number): LeaseMetrics & { relayed(taken: boolean): void } {
    const registers = [this.registry];
    const relayed = new Counter({
      name: 'janus_bridge_ha_relayed_answers_total',
      help:
        "Answers to another replica's requests that reached this one after a takeover, by result: taken (passed to " +
        'that replica) or published (nobody claimed them: published as events)',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['taken', 'published']) relayed.inc({ result }, 0);
    new Gauge({
      name: 'janus_bridge_ha_leases_held',
      help: 'Connections this replica holds the lease of (serving, taking over or handing over)',
      registers,
      collect() {
        this.set(held());
      },
    });
    const handOvers = new Counter({
      name: 'janus_bridge_ha_handovers_total',
      help: 'Connections handed over without losing the session, by direction (given, taken)',
      labelNames: ['direction'],
      registers,
    });
    const failovers = new Counter({
      name: 'janus_bridge_ha_failovers_total',
      help: 'Connections taken over from a replica whose lease expired',
      registers,
    });
    const renewals = new Histogram({
      name: 'janus_bridge_ha_lease_renewal_seconds',
      help: 'Time a heartbeat write took (the one periodic write, which keeps every lease of this replica alive)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const failures = new Counter({
      name: 'janus_bridge_ha_lease_renewal_failures_total',
      help: 'Heartbeat writes that failed (NATS or JetStream unreachable, or the bucket without a leader)',
      registers,
    });
    for (const direction of ['given', 'taken']) handOvers.inc({ direction }, 0);
    return {
      renewal: (seconds, ok) => {
        renewals.observe(seconds);
        if (!ok) failures.inc();
      },
      handOver: (direction) => handOvers.inc({ direction }),
      failover: () => failovers.inc(),
      relayed: (taken) => relayed.inc({ result: taken ? 'taken' : 'published' }),
    };
  }

  /**
   * The event-handler metrics, registered only when eventHandler.port is set. Counted in plain
   * fields on the hot path (an event costs a few ns) and published here at scrape time; a
   * janus_id the figures no longer hold (left the list) has no series.
   */
  eventHandlers(figures: EventHandlerFigures): void {
    const registers = [this.registry];
    const perJanus = (
      name: string,
      help: string,
      value: (f: { received: number; published: number }) => number,
    ): void => {
      new Counter({
        name,
        help,
        labelNames: ['janus_id'],
        registers,
        collect() {
          this.reset();
          for (const [janusId, f] of figures.perJanus()) this.inc({ janus_id: janusId }, value(f));
        },
      });
    };
    perJanus(
      'janus_bridge_evh_events_received_total',
      'Events received from Janus event handlers (each element of a grouped message; a message that is not JSON ' +
        'counts one)',
      (f) => f.received,
    );
    perJanus(
      'janus_bridge_evh_events_published_total',
      'Event-handler events published on <prefix>.evh.<janus_id>.<type> (with capture: acknowledged by JetStream)',
      (f) => f.published,
    );
    new Counter({
      name: 'janus_bridge_evh_events_dropped_total',
      help:
        'Event-handler events lost, by reason: malformed (not a JSON event object), nats_unavailable, buffer_full, ' +
        'refused, too_large (as for janus_bridge_events_dropped_total)',
      labelNames: ['janus_id', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const [janusId, f] of figures.perJanus()) {
          for (const [reason, count] of Object.entries(f.dropped)) this.inc({ janus_id: janusId, reason }, count);
        }
      },
    });
    new Gauge({
      name: 'janus_bridge_evh_links',
      help: 'Event-handler WebSocket links open, per janus_id (one per Janus normally)',
      labelNames: ['janus_id'],
      registers,
      collect() {
        this.reset();
        for (const [janusId, f] of figures.perJanus()) this.set({ janus_id: janusId }, f.links);
      },
    });
    new Counter({
      name: 'janus_bridge_evh_refused_total',
      help:
        'Event-handler connections refused at the upgrade, by reason: unauthorized (401), unknown_janus_id (404), ' +
        'list_not_loaded (503), stopping (503)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of Object.entries(figures.refusals())) this.inc({ reason }, count);
      },
    });
  }

  /** Drops every series of a connection that is no longer served. */
  removeConnection(janusId: string, reporter?: ConnectionMetrics): void {
    // Not when a newer connection for the same janus_id reports already.
    if (reporter && this.current.get(janusId) !== reporter) return;
    this.current.delete(janusId);
    this.removed.add(janusId);
    const labels = { janus_id: janusId };
    for (const metric of [this.events, this.reconnects, this.replacements, this.claims]) metric.remove(labels);
    for (const reason of DROP_REASONS) this.eventsDropped.remove({ ...labels, reason });
    for (const outcome of OUTCOMES) this.adminRequests.remove({ ...labels, outcome });
    this.tallies.delete(janusId);
  }
}

/**
 * One janus_id's requests: what janus_bridge_requests_total and janus_bridge_request_duration_seconds
 * show for it. Counted here rather than in prom-client because `request()` is on the hot path of every
 * request and prom-client validates and hashes the labels on every `inc()` / `observe()` (well over half
 * a microsecond a request); plain fields cost a few ns, and the metrics read them only when /metrics is scraped.
 */
class RequestTally {
  readonly outcomes: Record<RequestOutcome, number> = {
    ok: 0,
    janus_error: 0,
    timeout: 0,
    unavailable: 0,
    rejected: 0,
  };
  /**
   * Durations per bucket, not cumulative: `inBucket[i]` counts those in (bound i-1, bound i]; those above the last
   * bound are only in `count`.
   */
  readonly inBucket: number[] = DURATION_BOUNDS.map(() => 0);
  sum = 0;
  count = 0;

  add(outcome: RequestOutcome, seconds: number): void {
    this.outcomes[outcome] += 1;
    // prom-client's observe() threw on such a duration (after the outcome was counted); a NaN would stick in the sum
    // for good.
    if (!Number.isFinite(seconds)) return;
    let i = 0;
    while (i < DURATION_BOUNDS.length && seconds > DURATION_BOUNDS[i]!) i++;
    if (i < DURATION_BOUNDS.length) this.inBucket[i]! += 1;
    this.sum += seconds;
    this.count += 1;
  }
}

type Sample = { labels: Record<string, string | number>; value: number; metricName: string };

/**
 * janus_bridge_request_duration_seconds, read from the tallies at scrape time. prom-client's Histogram
 * can only be fed one observation at a time, so this is a collector of its own: the registry needs only
 * name, help, type, aggregator, get() and reset() (prom-client lib/registry.js), and get() gives the
 * same samples, with the same labels, as Histogram.get().
 */
class RequestDurations {
  readonly name = 'janus_bridge_request_duration_seconds';
  readonly help = "Time from a request's arrival to its reply";
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(private readonly tallies: Map<string, RequestTally>) {}

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const [janusId, tally] of this.tallies) {
      // A Histogram has no series for a janus_id until its first observation.
      if (tally.count === 0) continue;
      let cumulative = 0;
      DURATION_BOUNDS.forEach((le, i) => {
        cumulative += tally.inBucket[i]!;
        values.push({ labels: { le, janus_id: janusId }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push(
        { labels: { le: '+Inf', janus_id: janusId }, value: tally.count, metricName: `${this.name}_bucket` },
        { labels: { janus_id: janusId }, value: tally.sum, metricName: `${this.name}_sum` },
        { labels: { janus_id: janusId }, value: tally.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** For Registry.resetMetrics(): starts every tally again from zero (both request metrics, then). */
  reset(): void {
    for (const janusId of this.tallies.keys()) this.tallies.set(janusId, new RequestTally());
  }
}

/** Registers a metric of our own; prom-client's typings admit only its own metric classes. */
function registerCollector<T extends { name: string }>(registry: Registry, collector: T): T {
  registry.registerMetric(collector as unknown as Metric);
  return collector;
}
