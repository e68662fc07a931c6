/** One served Janus connection, wired to its subjects, its metrics and its service statistics. */
import type { Subscription } from 'nats';
import type { BridgeConfig } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { ConnectionSpec } from '../connections/spec.js';
import type { Running, StartHow, StopHow } from '../connections/served.js';
import { AdminLink } from '../janus/admin-link.js';
import { allowedVerbs } from '../janus/admin-protocol.js';
import { JanusConnection, type StatusChange } from '../janus/connection.js';
import type { Logger } from '../log.js';
import type { NatsLink } from '../nats/link.js';
import type { ConnectionMetrics, ConnectionMetricsSource } from './reporting.js';
import { EndpointStats } from './endpoint-stats.js';
import { serveAdminApi } from './admin-api.js';
import type { EventSink } from './event-sink.js';
import { eventPublisher, statusPublisher } from './publishers.js';
import { serveRequests } from './requests.js';
import { REQUEST_QUEUE_GROUP, subjects } from './subjects.js';

/**
 * With several replicas (src/ha/relay.ts): offers an answer owed to the previous owner's request to it; true when
 * taken.
 */
export interface AnswerHandOff {
  offer(janusId: string, text: string): Promise<boolean>;
}

/** What every connection shares. */
export interface BridgeContext {
  readonly link: NatsLink;
  readonly config: BridgeConfig;
  readonly secrets: Secrets;
  readonly metrics: ConnectionMetricsSource;
  readonly events: EventSink;
  readonly log: Logger;
  /** With several replicas: passes answers owed to another replica's requests on to it. */
  readonly relay?: AnswerHandOff;
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

export class BridgedConnection implements Running {
  readonly connection: JanusConnection;
  readonly stats: EndpointStats;
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
  readonly announce: (change: StatusChange) => void;
  private readonly log: Logger;
  private stopped = false;

  constructor(
    spec: ConnectionSpec,
    private readonly context: BridgeContext,
    how: StartHow = {},
  ) {
    const { link, config, secrets, metrics, relay } = context;
    this.currentSpec = spec;
    const names = subjects(config.nats.subjectPrefix);
    const log = context.log.child({ janus_id: spec.janusId });
    this.log = log;
    const connectionMetrics = metrics.forConnection(spec.janusId);
    this.reporter = connectionMetrics;
    this.stats = new EndpointStats(spec.janusId, names.request(spec.janusId), REQUEST_QUEUE_GROUP);
    this.serving = new Promise((resolve) => {
      this.markServing = resolve;
    });
    const target = { link, janusId: spec.janusId, janusUrl: spec.url.redacted, log, metrics: connectionMetrics };
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
        ...(how.replaces ? { replaces: how.replaces } : {}),
        ...(how.takeOver?.sessionId !== undefined ? { resumeSession: how.takeOver.sessionId } : {}),
        // A failover claims the session after the lease expired and a socket opened.
        ...(config.ha.enabled ? { reclaimNeededSeconds: config.ha.leaseTtl + 2 } : {}),
      },
      {
        onEvent,
        onStatus: (change) => {
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
      },
      log,
    );
    this.subscribe = () => {
      if (this.subscriptionSettled) return;
      this.subscriptionSettled = true;
      this.subscription = serveRequests({
        nc: link.nc,
        subject: names.request(spec.janusId),
        target: this.connection,
        maxMessageBytes: config.janus.maxMessageBytes,
        cmdTimeoutMs: config.janus.cmdTimeout,
        log,
        metrics: connectionMetrics,
        observe: (outcome, seconds, error) => {
          connectionMetrics.request(outcome, seconds);
          this.stats.record(seconds, error);
        },
      });
      const allowVerbs = allowedVerbs(config.adminApi.allowVerbs);
      this.adminSubscription = serveAdminApi({
        nc: link.nc,
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
      this.subscriptionKnown = link.nc.flush().catch(() => undefined);
      this.markServing();
    };
    this.adminLink = this.newAdminLink(spec);
    // A takeover answers requests only once the session is ours: until then the old owner does.
    if (!how.takeOver) this.subscribe();
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
    return {
      janus_admin_url: admin.redactedUrl,
      state: admin.state,
      since: new Date(admin.since).toISOString(),
      pending: admin.pendingRequests,
      secret: this.adminSecretOf(this.currentSpec) !== undefined,
    };
  }

  /** For tests and metrics: the Admin API link, if any. */
  get admin(): AdminLink | undefined {
    return this.adminLink;
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

  async stop(reason: string, options: StopHow): Promise<void> {
    this.stopped = true;
    const subscriptions = this.closeRequests();
    // Drain, not unsubscribe, when requests may still be answered: those already on their way to us are taken too.
    // A drain fails only when NATS is closing or gone: then nothing more can arrive anyway.
    if (options.handedOver || options.graceMs > 0)
      await Promise.all(subscriptions.map((s) => s.drain().catch(() => undefined)));
    else for (const subscription of subscriptions) subscription.unsubscribe();
    await Promise.all([
      this.connection.stop(reason, {
        destroySession: options.destroySession,
        graceMs: options.graceMs,
        quiet: options.handedOver ?? false,
      }),
      this.adminLink?.stop(reason, options.graceMs),
    ]);
    this.context.metrics.removeConnection(this.spec.janusId, this.reporter);
  }
}
