/** One served Janus connection, wired to its three subjects. */
import type { Subscription } from 'nats';
import type { BridgeConfig } from '../config/schema.js';
import type { ConnectionSpec } from '../connections/spec.js';
import type { Running } from '../connections/served.js';
import { JanusConnection } from '../janus/connection.js';
import type { Logger } from '../log.js';
import type { NatsLink } from '../nats.js';
import { eventPublisher, statusPublisher } from './publishers.js';
import { serveRequests } from './requests.js';
import { subjects } from './subjects.js';

export class BridgedConnection implements Running {
  readonly connection: JanusConnection;
  private subscription: Subscription | undefined;

  constructor(readonly spec: ConnectionSpec, link: NatsLink, config: BridgeConfig, log: Logger) {
    const names = subjects(config.nats.subjectPrefix);
    const connectionLog = log.child({ janus_id: spec.janusId });
    const target = { link, janusId: spec.janusId, janusUrl: spec.url.redacted, log: connectionLog };
    this.connection = new JanusConnection(
      {
        janusId: spec.janusId,
        url: spec.url,
        cmdTimeoutMs: config.janus.cmdTimeout,
        sendTimeoutMs: config.janus.sendTimeout,
        pingIntervalMs: Math.round(config.janus.pingInterval * 1000),
        maxMessageBytes: config.janus.maxMessageBytes,
        reconnect: config.janus.reconnect,
      },
      { onEvent: eventPublisher(target, names.event(spec.janusId)), onStatus: statusPublisher(target, names.status(spec.janusId)) },
      connectionLog,
    );
    this.subscription = serveRequests({
      nc: link.nc, subject: names.request(spec.janusId), target: this.connection, maxMessageBytes: config.janus.maxMessageBytes, log: connectionLog,
    });
    this.connection.start();
  }

  /** No new requests reach this connection; those already taken still get answers. */
  stopAccepting(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  async stop(reason: string, options: { destroySession: boolean; graceMs: number }): Promise<void> {
    this.stopAccepting();
    await this.connection.stop(reason, options);
  }
}
