/** One served Janus connection, wired to its subjects, its metrics and its service statistics. */
import type { Subscription } from 'nats';
import type { BridgeConfig } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { ConnectionSpec } from '../connections/spec.js';
import type { Replaces, Running } from '../connections/served.js';
import { JanusConnection } from '../janus/connection.js';
import type { Logger } from '../log.js';
import type { NatsLink } from '../nats.js';
import type { Metrics } from '../ops/metrics.js';
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
}

export class BridgedConnection implements Running {
  readonly connection: JanusConnection;
  readonly stats: EndpointStats;
  private subscription: Subscription | undefined;

  constructor(readonly spec: ConnectionSpec, private readonly context: BridgeContext, replaces?: Replaces) {
    const { link, config, secrets, metrics } = context;
    const names = subjects(config.nats.subjectPrefix);
    const log = context.log.child({ janus_id: spec.janusId });
    const connectionMetrics = metrics.forConnection(spec.janusId);
    this.stats = new EndpointStats(spec.janusId, names.request(spec.janusId), REQUEST_QUEUE_GROUP);
    const target = { link, janusId: spec.janusId, janusUrl: spec.url.redacted, log, metrics: connectionMetrics };
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
        ...(replaces ? { replaces } : {}),
      },
      {
        onEvent: eventPublisher(target, context.events, names.event(spec.janusId), config.events.subjects),
        onStatus: statusPublisher(target, names.status(spec.janusId)),
      },
      log,
    );
    this.subscription = serveRequests({
      nc: link.nc,
      subject: names.request(spec.janusId),
      target: this.connection,
      maxMessageBytes: config.janus.maxMessageBytes,
      log,
      observe: (outcome, seconds, error) => {
        connectionMetrics.request(outcome, seconds);
        this.stats.record(seconds, error);
      },
    });
    this.connection.start();
  }

  get sessionId(): number | undefined {
    return this.connection.sessionId;
  }

  /** No new requests reach this connection; those already taken still get answers. */
  stopAccepting(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  async stop(reason: string, options: { destroySession: boolean; graceMs: number }): Promise<void> {
    this.stopAccepting();
    await this.connection.stop(reason, options);
    this.context.metrics.removeConnection(this.spec.janusId);
  }
}
