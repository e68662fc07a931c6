/** One served Janus connection, wired to its subjects, its metrics and its service statistics. */
import type { Subscription } from 'nats';
import type { BridgeConfig } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { ConnectionSpec } from '../connections/spec.js';
import type { Running, StartHow, StopHow } from '../connections/served.js';
import type { AnswerRelay } from '../ha/relay.js';
import { JanusConnection, type StatusChange } from '../janus/connection.js';
import type { Logger } from '../log.js';
import type { NatsLink } from '../nats.js';
import type { ConnectionMetrics, Metrics } from '../ops/metrics.js';
import { EndpointStats } from '../ops/service-discovery.js';
import type { EventSink } from './event-sink.js';
import { eventPublisher, statusPublisher } from './publishers.js';
import { serveRequests } from './requests.js';
import { REQUEST_QUEUE_GROUP, subjects } from './subjects.js';

/** What every connection shares. */
export interface BridgeContext {
  readonly link: NatsLink;
  readonly config: BridgeConfig;
  readonly secrets: Secrets;
  readonly metrics: Metrics;
  readonly events: EventSink;
  readonly log: Logger;
  /** With several replicas: passes answers owed to another replica's requests on to it. */
  readonly relay?: AnswerRelay;
}

export class BridgedConnection implements Running {
  readonly connection: JanusConnection;
  readonly stats: EndpointStats;
  private subscription: Subscription | undefined;
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

  constructor(readonly spec: ConnectionSpec, private readonly context: BridgeContext, how: StartHow = {}) {
    const { link, config, secrets, metrics, relay } = context;
    const names = subjects(config.nats.subjectPrefix);
    const log = context.log.child({ janus_id: spec.janusId });
    const connectionMetrics = metrics.forConnection(spec.janusId);
    this.reporter = connectionMetrics;
    this.stats = new EndpointStats(spec.janusId, names.request(spec.janusId), REQUEST_QUEUE_GROUP);
    this.serving = new Promise((resolve) => { this.markServing = resolve; });
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
        ...(relay ? {
          onUnknownAnswer: (message, text) => void relay.offer(spec.janusId, text).then((taken) => { if (!taken) onEvent(message, text); }),
        } : {}),
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
      this.subscriptionKnown = link.nc.flush().catch(() => undefined);
      this.markServing();
    };
    // A takeover answers requests only once the session is ours: until then the old owner does.
    if (!how.takeOver) this.subscribe();
    this.connection.start();
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
    const waited = new Promise<void>((resolve) => { timer = setTimeout(resolve, maxWaitMs); });
    await Promise.race([this.serving, waited]);
    clearTimeout(timer);
    if (!this.sessionReady && subscribeAnyway) this.subscribe();
    // "Serving" means the server routes requests to us: only then may the old owner let go.
    await this.subscriptionKnown;
    return this.sessionReady && this.subscription !== undefined;
  }

  /** No new requests reach this connection; those already taken still get answers. */
  stopAccepting(): void {
    this.closeRequests()?.unsubscribe();
  }

  /** The request subscription, taken out for good (nothing opens it again). */
  private closeRequests(): Subscription | undefined {
    const subscription = this.subscription;
    this.subscription = undefined;
    this.subscriptionSettled = true;
    this.markServing();
    return subscription;
  }

  async stop(reason: string, options: StopHow): Promise<void> {
    const subscription = this.closeRequests();
    // Drain, not unsubscribe, when requests may still be answered: those already on their way to us are taken too.
    if (options.handedOver || options.graceMs > 0) await subscription?.drain().catch(() => undefined);
    else subscription?.unsubscribe();
    await this.connection.stop(reason, { destroySession: options.destroySession, graceMs: options.graceMs, quiet: options.handedOver ?? false });
    this.context.metrics.removeConnection(this.spec.janusId, this.reporter);
  }
}
