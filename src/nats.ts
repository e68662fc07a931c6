/** The NATS client, set up for a daemon: waits for a server at start, reconnects forever. */
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type MsgHdrs, type NatsConnection } from 'nats';
import type { BridgeConfig } from './config/schema.js';
import type { Secrets } from './config/secrets.js';
import type { Logger } from './log.js';

/** Messages published while NATS is away wait in the client's buffer, up to this many per outage. */
export const MAX_BUFFERED_DURING_OUTAGE = 10_000;

/** Client options: reconnect forever, wait for a server at start, and whichever credentials are configured. */
export function natsOptions(config: BridgeConfig['nats'], secrets: Secrets['nats']): ConnectionOptions {
  const options: ConnectionOptions = {
    servers: config.servers,
    name: config.name,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
  };
  if (secrets.user) {
    options.user = secrets.user;
    options.pass = secrets.password;
  }
  if (secrets.token) options.token = secrets.token;
  if (secrets.creds) options.authenticator = credsAuthenticator(secrets.creds);
  else if (secrets.nkeySeed) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(secrets.nkeySeed));
  const { caFile, certFile, keyFile } = config.tls;
  if (caFile || certFile) options.tls = { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile, keyFile } : {}) };
  return options;
}

export async function connectNats(config: BridgeConfig['nats'], secrets: Secrets['nats'], log: Logger): Promise<NatsConnection> {
  const nc = await connect(natsOptions(config, secrets));
  log.info({ server: nc.getServer() }, 'connected to NATS');
  return nc;
}

export type PublishResult = 'sent' | 'buffered' | 'dropped';

/**
 * Publishing that accounts for NATS outages: while the client is reconnecting, messages
 * are buffered up to MAX_BUFFERED_DURING_OUTAGE and the rest dropped, and the numbers
 * are logged when NATS is back, so nothing is lost without a count.
 */
export class NatsLink {
  private connected = true;
  private buffered = 0;
  private dropped = 0;
  private failed = 0;
  /** Totals since start, for tests and metrics. */
  readonly totals = { buffered: 0, dropped: 0, failed: 0 };
  private readonly reconnectListeners: Array<() => void> = [];

  constructor(readonly nc: NatsConnection, private readonly log: Logger) {
    void this.watch();
  }

  get isConnected(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  /** Called each time the client is connected again after an outage. */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): PublishResult {
    if (!this.connected) {
      if (this.buffered >= MAX_BUFFERED_DURING_OUTAGE) {
        this.dropped++;
        this.totals.dropped++;
        return 'dropped';
      }
      this.buffered++;
      this.totals.buffered++;
    }
    try {
      this.nc.publish(subject, data, headers ? { headers } : undefined);
    } catch (err) {
      this.failed++;
      this.totals.failed++;
      this.log.warn({ err: (err as Error).message, subject }, 'message not published');
      return 'dropped';
    }
    return this.connected ? 'sent' : 'buffered';
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'pingTimer') continue;
      const data = typeof status.data === 'string' ? status.data : undefined;
      if (status.type === 'disconnect') {
        this.connected = false;
        this.log.warn({ nats_status: status.type, data }, 'NATS disconnected: messages are buffered until it is back');
      } else if (status.type === 'reconnect') {
        this.connected = true;
        this.log.info({ nats_status: status.type, data, buffered_sent: this.buffered, dropped: this.dropped, failed: this.failed },
          `NATS reconnected: ${this.buffered} messages buffered during the outage sent, ${this.dropped} dropped`);
        this.buffered = 0;
        this.dropped = 0;
        this.failed = 0;
        for (const listener of this.reconnectListeners) listener();
      } else {
        this.log[status.type === 'error' ? 'warn' : 'debug']({ nats_status: status.type, data }, `NATS ${status.type}`);
      }
    }
  }
}
