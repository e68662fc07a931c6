/** One served Janus connection, wired to its subjects, its metrics and its service statistics. */
import type { Subscription } from 'nats';
import type { BridgeConfig } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { ConnectionSpec } from '../connections/spec.js';
import type { ServedConnection, StartOptions, StopOptions } from '../connections/served.js';
import { AdminLink, type AdminLinkStats } from '../janus/admin-link.js';
import { allowedVerbs } from '../janus/admin-protocol.js';
import { JanusConnection, type JanusConnectionStats } from '../janus/connection.js';
import type { JanusMessage } from '../janus/protocol.js';
import type { Logger } from '../log.js';
import type { NatsPublisher } from '../nats/publisher.js';
import { sleep } from '../sleep.js';
import type { ConnectionMetrics, ConnectionMetricsSource } from './reporting.js';
import { EndpointStats } from './endpoint-stats.js';
import { serveAdminApi } from './admin-api.js';
import type { EventSink } from './event-sink.js';
import { eventPublisher, statusPublisher, type StatusMessage } from './publishers.js';
import { serveRequests } from './requests.js';
import { REQUEST_QUEUE_GROUP, subjects } from './subjects.js';

/**
 * With several replicas (src/ha/relay.ts): offers an answer owed to the previous owner's request to it; true when
 * taken.
 */
export interface AnswerHandOff {
  offer(janusId: string, text: string): Promise<boolean>;
}

/**
 * Told Janus's answer to the first `info` of each connection, with the server it came from
 * (host:port) and the connection's log, to check Janus's settings against the daemon's (the
 * HA layer's reclaim check, src/ha/reclaim-check.ts).
 */
export interface JanusInfoCheck {
  check(info: JanusMessage, server: string, log: Logger): void;
}

/**
 * How long a stop without grace keeps refusing requests already on their way (one round trip to the NATS server;
 * a stop must not wait on a server that no longer answers).
 */
const REFUSAL_DRAIN_MS = 2000;

/** What every connection shares. */
export interface BridgeContext {
  readonly publisher: NatsPublisher;
  readonly config: BridgeConfig;
  readonly secrets: Secrets;
  readonly metrics: ConnectionMetricsSource;
  readonly events: EventSink;
  readonly log: Logger;
  /** With several replicas: passes answers owed to another replica's requests on to it. */
  readonly relay?: AnswerHandOff;
  readonly janusInfo?: JanusInfoCheck;
}

/** A connection's Admin API link as `<prefix>.admin.status` shows it (never with the secret). */
export interface AdminLinkStatus {
  /** Redacted, without its admin_secret. */
  janus_admin_url: string;
  state: string;
  since: string;
  pending: number;
  /** Whether an admin secret is put on its requests (from the URL or janus.adminSecret). */
  secret: boolean;
}

/** What a served connection reports about itself: its Janus connection, and its Admin API link if it has one. */
export interface ConnectionStats extends JanusConnectionStats {
  readonly admin: AdminLinkStats | undefined;
}

export class BridgedConnection implements ServedConnection {
  private readonly connection: JanusConnection;
  /** What NATS service discovery reports for its request endpoint. */
  readonly endpoint: EndpointStats;
  /** The Admin API link, when the spec has a janus_admin_url; a reload may replace it. */
  private adminLink: AdminLink | undefined;
  private currentSpec: ConnectionSpec;
  private subscription: Subscription | undefined;
  /** `<prefix>.adminapi.<janus_id>`: opened and closed with the request subscription. */
  private adminSubscription: Subscription | undefined;
  /** The request subscription was opened, or will never be (stopping). */
  private subscriptionSettled = false;
  private readonly subscribe: () => void;
  private readonly serving: Promise<void>;
  private markServing: () => void = () => {};
  /** Whether requests were opened because the session was ready (not because the wait ran out). */
  private sessionReady = false;
  /** Resolves once the NATS server has the request subscription. */
  private subscriptionKnown: Promise<unknown> = Promise.resolve();
  private readonly reporter: ConnectionMetrics;
  /** Publishes on this connection's status subject. */
  readonly announce: (status: StatusMessage) => void;
  private readonly log: Logger;
  private stopped = false;

  constructor(
    spec: ConnectionSpec,
    private readonly context: BridgeContext,
    start: StartOptions = {},
  ) {
    const { publisher, config, secrets, metrics, relay, janusInfo } = context;
    this.currentSpec = spec;
    const names = subjects(config.nats.subjectPrefix);
    const log = context.log.child({ janus_id: spec.janusId });
    this.log = log;
    const connectionMetrics = metrics.forConnection(spec.janusId);
    this.reporter = connectionMetrics;
    this.endpoint = new EndpointStats(spec.janusId, names.request(spec.janusId), REQUEST_QUEUE_GROUP);
    this.serving = new Promise((resolve) => {
      this.markServing = resolve;
    });
    const target = { publisher, janusId: spec.janusId, janusUrl: spec.url.redacted, log, metrics: connectionMetrics };
    const onEvent = eventPublisher(target, context.events, names.event(spec.janusId), config.events.subjects);
    const onStatus = statusPublisher(target, names.status(spec.janusId));
    this.announce = onStatus;
    this.connection = new JanusConnection(
      {
        janusId: spec.janusId,
        url: spec.url,
        cmdTimeoutMs: config.janus.cmdTimeout,
        sendTimeoutMs: config.janus.sendTimeout,
        pingIntervalMs: Math.round(config.janus.pingInterval * 1000),
        maxMessageBytes: config.janus.maxMessageBytes,
        reconnect: config.janus.reconnect,
        // The URL's own credentials win over the configured defaults.
        credentials: {
          apiSecret: spec.url.credentials.apiSecret ?? secrets.janus.apiSecret,
          token: spec.url.credentials.token ?? secrets.janus.token,
        },
        recentTransactions: { ttlMs: config.events.transactionTtl * 1000, max: config.events.transactionMax },
        ...(start.replaces ? { replaces: start.replaces } : {}),
        ...(start.takeOver?.sessionId !== undefined ? { resumeSession: start.takeOver.sessionId } : {}),
      },
      {
        onEvent,
        onStatus: (change) => {
          connectionMetrics.status(change);
          onStatus(change);
          if (change.state === 'connected') {
            this.sessionReady = true;
            this.subscribe();
          }
        },
        // Answers owed to the replica we took the session from go to it; what it does not claim is an event.
        ...(relay
          ? {
              onUnknownAnswer: (message, text) =>
                void relay.offer(spec.janusId, text).then((taken) => {
                  if (!taken) onEvent(message, text);
                }),
            }
          : {}),
        ...(janusInfo
          ? { onFirstInfo: (info: JanusMessage) => janusInfo.check(info, new URL(spec.url.wsUrl).host, log) }
          : {}),
      },
      log,
    );
    this.subscribe = () => {
      if (this.subscriptionSettled) return;
      this.subscriptionSettled = true;
      this.subscription = serveRequests({
        nc: publisher.nc,
        subject: names.request(spec.janusId),
        target: this.connection,
        maxMessageBytes: config.janus.maxMessageBytes,
        cmdTimeoutMs: config.janus.cmdTimeout,
        log,
        metrics: connectionMetrics,
        observe: (outcome, seconds, error) => {
          connectionMetrics.request(outcome, seconds);
          this.endpoint.record(seconds, error);
        },
      });
      const allowVerbs = allowedVerbs(config.adminApi.allowVerbs);
      this.adminSubscription = serveAdminApi({
        nc: publisher.nc,
        subject: names.adminApi(spec.janusId),
        target: () => this.adminLink,
        allowVerbs,
        maxMessageBytes: config.janus.maxMessageBytes,
        cmdTimeoutMs: config.janus.cmdTimeout,
        log: log.child({ component: 'adminapi' }),
        metrics: connectionMetrics,
        observe: (outcome) => connectionMetrics.adminRequest(outcome),
      });
      // Without NATS the flush fails: the subscription is sent on reconnect, and serving waits for nothing more.
      this.subscriptionKnown = publisher.nc.flush().catch(() => undefined);
      this.markServing();
    };
    this.adminLink = this.newAdminLink(spec);
    // A takeover answers requests only once the session is ours: until then the old owner does.
    if (!start.takeOver) this.subscribe();
    this.connection.start();
    // The Admin API link needs no session: it opens at once, also while a takeover claims the session.
    this.adminLink?.start();
  }

  get spec(): ConnectionSpec {
    return this.currentSpec;
  }

  /** The Admin API link's state, or null when the connection has no janus_admin_url. */
  get adminStatus(): AdminLinkStatus | null {
    const admin = this.adminLink;
    if (!admin) return null;
    const stats = admin.stats();
    return {
      janus_admin_url: admin.redactedUrl,
      state: stats.state,
      since: new Date(stats.since).toISOString(),
      pending: stats.pendingRequests,
      secret: this.adminSecretOf(this.currentSpec) !== undefined,
    };
  }

  stats(): ConnectionStats {
    return { ...this.connection.stats(), admin: this.adminLink?.stats() };
  }

  /**
   * A reload changed only janus_admin_url: the Admin API link is replaced; the session and its handles are not touched.
   */
  async changeAdminUrl(spec: ConnectionSpec): Promise<void> {
    if (this.stopped) return;
    const old = this.adminLink;
    this.currentSpec = spec;
    this.adminLink = this.newAdminLink(spec);
    this.adminLink?.start();
    this.log.info({ admin_url: spec.adminUrl?.redacted ?? null }, 'janus_admin_url changed: Admin API link replaced');
    await old?.stop('janus_admin_url changed');
  }

  private newAdminLink(spec: ConnectionSpec): AdminLink | undefined {
    if (!spec.adminUrl) return undefined;
    const { config } = this.context;
    return new AdminLink(
      {
        url: spec.adminUrl,
        adminSecret: this.adminSecretOf(spec),
        cmdTimeoutMs: config.janus.cmdTimeout,
        sendTimeoutMs: config.janus.sendTimeout,
        pingIntervalMs: Math.round(config.janus.pingInterval * 1000),
        maxMessageBytes: config.janus.maxMessageBytes,
        reconnect: config.janus.reconnect,
      },
      this.log.child({ component: 'adminapi' }),
    );
  }

  /** The URL's own admin_secret wins over janus.adminSecret(File). */
  private adminSecretOf(spec: ConnectionSpec): string | undefined {
    return spec.adminUrl?.credentials.adminSecret || this.context.secrets.janus.adminSecret || undefined;
  }

  get sessionId(): number | undefined {
    return this.connection.sessionId;
  }

  /**
   * A frame another replica received on our session (after it claimed the session) for a
   * request we sent: handled as if it had come on our socket. False when it is not ours.
   */
  routeRelayed(text: string): boolean {
    return this.connection.routeRelayed(text);
  }

  /**
   * For a takeover: resolves true once the session is claimed (or replaced) and requests
   * are taken. After `maxWaitMs` without Janus it resolves false; with `subscribeAnyway`
   * requests are then taken all the same (answered 611 until Janus is back), so that an
   * owner answers rather than nobody.
   */
  async whenServing(maxWaitMs: number, subscribeAnyway: boolean): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxWaitMs);
    });
    await Promise.race([this.serving, waited]);
    clearTimeout(timer);
    if (!this.sessionReady && subscribeAnyway) this.subscribe();
    // "Serving" means the server routes requests to us: only then may the old owner let go.
    await this.subscriptionKnown;
    return this.sessionReady && this.subscription !== undefined;
  }

  /** No new requests reach this connection; those already taken still get answers. */
  stopAccepting(): void {
    for (const subscription of this.closeRequests()) subscription.unsubscribe();
  }

  /** The request and Admin API subscriptions, taken out for good (nothing opens them again). */
  private closeRequests(): Subscription[] {
    const subscriptions = [this.subscription, this.adminSubscription].filter((s): s is Subscription => s !== undefined);
    this.subscription = undefined;
    this.adminSubscription = undefined;
    this.subscriptionSettled = true;
    this.markServing();
    return subscriptions;
  }

  async stop(reason: string, options: StopOptions): Promise<void> {
    this.stopped = true;
    const subscriptions = this.closeRequests();
    const stopJanusSide = () =>
      Promise.all([
        this.connection.stop(reason, {
          destroySession: options.destroySession,
          graceMs: options.graceMs,
          quiet: options.handedOver ?? false,
        }),
        this.adminLink?.stop(reason, options.graceMs),
      ]);
    if (options.handedOver || options.graceMs > 0) {
      // Drain, not unsubscribe: requests already on their way to us are taken too, and answered within the grace.
      await drainAll(subscriptions);
      await stopJanusSide();
    } else {
      // Without a grace the Janus side stops first (it refuses from that moment, synchronously), then the requests
      // already on their way to us are drained into that refusal: a clear 613 now rather than a client's timeout.
      await Promise.all([stopJanusSide(), this.refuseInFlight(subscriptions)]);
    }
    this.context.metrics.removeConnection(this.spec.janusId, this.reporter);
  }

  /**
   * Drains `subscriptions` (each message still delivered is refused by the stopped connection), for at most
   * REFUSAL_DRAIN_MS. While NATS is away they are unsubscribed instead: nothing is on its way then, and a drain would
   * only wait for the reconnect.
   */
  private async refuseInFlight(subscriptions: Subscription[]): Promise<void> {
    if (!this.context.publisher.isConnected) {
      for (const subscription of subscriptions) subscription.unsubscribe();
      return;
    }
    await Promise.race([drainAll(subscriptions), sleep(REFUSAL_DRAIN_MS)]);
    // Still draining (the server is slow to answer): nothing more is taken.
    for (const subscription of subscriptions) if (!subscription.isClosed()) subscription.unsubscribe();
  }
}

/** Drains every subscription; one that fails is left alone (NATS is closing or gone: nothing more can arrive). */
async function drainAll(subscriptions: Subscription[]): Promise<void> {
  await Promise.all(subscriptions.map((s) => s.drain().catch(() => undefined)));
}
