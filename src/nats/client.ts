/** The NATS client, set up for a daemon: waits for a server at start, reconnects forever. */
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import type { BridgeConfig } from '../config/schema.js';
import type { Secrets } from '../config/secrets.js';
import type { Logger } from '../log.js';

/** Client options: reconnect forever, wait for a server at start, and whichever credentials are configured. */
export function natsOptions(config: BridgeConfig['nats'], secrets: Secrets['nats']): ConnectionOptions {
  const options: ConnectionOptions = {
    servers: config.servers,
    name: config.name,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    // A server that accepts the TCP connection and then says nothing (a stopped one does) is skipped
    // quickly: the stalled server is dialed last, but several may be stalled.
    timeout: dialTimeoutMs(config.stallTimeout),
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

/** A server answers a new connection at once; one that does not within half the stall timeout is skipped. */
export function dialTimeoutMs(stallTimeoutMs: number): number {
  return Math.max(1000, Math.round(stallTimeoutMs / 2));
}

export async function connectNats(
  config: BridgeConfig['nats'],
  secrets: Secrets['nats'],
  log: Logger,
): Promise<NatsConnection> {
  const nc = await connect(natsOptions(config, secrets));
  log.info({ server: nc.getServer() }, 'connected to NATS');
  return nc;
}
