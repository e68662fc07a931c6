/**
 * Wires the parts: NATS, the connection list, the connections this process serves,
 * their subjects, and the health endpoint. Returns a handle that shuts it all down.
 */
import type { NatsConnection } from 'nats';
import type { Server } from 'node:http';
import { BridgedConnection } from './bridge/bridged-connection.js';
import type { BridgeConfig } from './config/schema.js';
import { ConfigConnectionSource } from './connections/config-source.js';
import { ServeEverything, type Ownership } from './connections/ownership.js';
import { ServedConnections } from './connections/served.js';
import type { ConnectionSource } from './connections/spec.js';
import type { Logger } from './log.js';
import { connectNats } from './nats.js';
import { startHealthServer } from './ops/health.js';

export interface Daemon {
  readonly nc: NatsConnection;
  readonly served: ServedConnections<BridgedConnection>;
  readonly httpPort: number;
  /** Graceful stop: no new requests, in-flight ones finish (up to cmdTimeout), sessions destroyed, NATS drained. */
  shutdown(reason: string): Promise<void>;
}

export async function startDaemon(config: BridgeConfig, log: Logger): Promise<Daemon> {
  let listLoaded = false;
  let stopping = false;
  let nc: NatsConnection | undefined;
  const health = await startHealthServer(config.http.host, config.http.port, {
    notReadyBecause: () => [
      ...(stopping ? ['shutting down'] : []),
      ...(!nc || nc.isClosed() ? ['NATS not connected'] : []),
      ...(!listLoaded ? ['connection list not loaded'] : []),
    ],
  });
  log.info({ host: config.http.host, port: health.port }, 'health endpoint listening');

  nc = await connectNats(config.nats, log);
  const natsConnection = nc;
  const served = new ServedConnections((spec) => new BridgedConnection(spec, natsConnection, config, log), log);
  const ownership: Ownership = new ServeEverything();
  ownership.onServedChange((specs) => void served.apply(specs));

  const source: ConnectionSource = new ConfigConnectionSource(config.connections);
  const list = await source.load();
  for (const skipped of list.skipped) log.warn(skipped, 'connection entry skipped');
  if (list.specs.length === 0) log.warn({ source: source.description }, 'the connection list is empty: no Janus to serve');
  ownership.offer(list.specs);
  listLoaded = true;

  return {
    nc: natsConnection,
    served,
    httpPort: health.port,
    shutdown: async (reason) => {
      if (stopping) return;
      stopping = true;
      log.info({ reason }, 'shutting down');
      for (const { instance } of served.entries()) instance.stopAccepting();
      await served.stopAll('bridge shutting down', { destroySession: true, graceMs: config.janus.cmdTimeout });
      await natsConnection.drain().catch((err: Error) => log.warn({ err: err.message }, 'NATS drain failed'));
      await closeServer(health.server);
      log.info('stopped');
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
