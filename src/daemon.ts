/**
 * Wires the parts: NATS, the connection list, the connections this process serves,
 * their subjects, and the health endpoint. Returns a handle that shuts it all down.
 */
import type { NatsConnection, Subscription } from 'nats';
import type { Server } from 'node:http';
import { serveReload } from './bridge/admin.js';
import { BridgedConnection } from './bridge/bridged-connection.js';
import type { BridgeConfig } from './config/schema.js';
import { chooseSource, type ConfigReader } from './connections/choose-source.js';
import { ListKeeper, type ReloadResult } from './connections/list-keeper.js';
import { ServeEverything, type Ownership } from './connections/ownership.js';
import { ServedConnections } from './connections/served.js';
import type { Logger } from './log.js';
import { connectNats, NatsLink } from './nats.js';
import { startHealthServer } from './ops/health.js';

export interface Daemon {
  readonly nc: NatsConnection;
  readonly link: NatsLink;
  readonly served: ServedConnections<BridgedConnection>;
  readonly httpPort: number;
  /** Resolves once the first connection list is applied; rejects when it cannot be (wrong table version, no table). */
  readonly listLoaded: Promise<void>;
  /** Loads the connection list again and applies the difference. */
  reload(trigger: string): Promise<ReloadResult>;
  /** Graceful stop: no new requests, in-flight ones finish (up to cmdTimeout), sessions destroyed, NATS drained. */
  shutdown(reason: string): Promise<void>;
}

export interface DaemonOptions {
  /** Reads the configuration again, for reloads of a config-file list. */
  rereadConfig?: ConfigReader;
}

export async function startDaemon(config: BridgeConfig, log: Logger, options: DaemonOptions = {}): Promise<Daemon> {
  let stopping = false;
  let keeper: ListKeeper | undefined;
  let link: NatsLink | undefined;
  const health = await startHealthServer(config.http.host, config.http.port, {
    notReadyBecause: () => [
      ...(stopping ? ['shutting down'] : []),
      ...(!link?.isConnected ? ['NATS not connected'] : []),
      ...(keeper?.notLoadedBecause ? [keeper.notLoadedBecause] : !keeper ? ['connection list not loaded'] : []),
    ],
  });
  log.info({ host: config.http.host, port: health.port }, 'health endpoint listening');

  const natsConnection = await connectNats(config.nats, log);
  const natsLink = new NatsLink(natsConnection, log);
  link = natsLink;
  const served = new ServedConnections((spec) => new BridgedConnection(spec, natsLink, config, log), log);
  const ownership: Ownership = new ServeEverything();
  ownership.onServedChange((specs) => served.apply(specs));

  const source = chooseSource(config, options.rereadConfig, log);
  const list = new ListKeeper(source, ownership, log);
  keeper = list;
  log.info({ source: source.description }, 'loading the connection list');
  const listLoaded = list.start();
  listLoaded.catch(() => {});

  const adminSubscriptions: Subscription[] = [serveReload(natsConnection, config.nats.subjectPrefix, (trigger) => list.reload(trigger), log)];
  const interval = config.db.url && config.db.reloadInterval > 0
    ? setInterval(() => void list.reload('interval'), config.db.reloadInterval * 1000)
    : undefined;

  return {
    nc: natsConnection,
    link: natsLink,
    served,
    httpPort: health.port,
    listLoaded,
    reload: (trigger) => list.reload(trigger),
    shutdown: async (reason) => {
      if (stopping) return;
      stopping = true;
      log.info({ reason }, 'shutting down');
      clearInterval(interval);
      list.cancel();
      for (const subscription of adminSubscriptions) subscription.unsubscribe();
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
