/**
 * Wires the parts: HTTP operations, NATS, the connection list, the connections this
 * process serves, their subjects, service discovery. Returns a handle that shuts it all down.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { NatsConnection, Subscription } from 'nats';
import type { Server } from 'node:http';
import { serveAdmin } from './bridge/admin.js';
import { jetStreamNameFrom } from './nats-names.js';
import { BridgedConnection, type ConnectionStats } from './bridge/bridged-connection.js';
import { CoreEventSink, type EventSink } from './bridge/event-sink.js';
import { JetStreamEventSink } from './bridge/jetstream-sink.js';
import type { BridgeConfig } from './config/schema.js';
import { resolveSecrets, type Secrets } from './config/secrets.js';
import { keysNeedingRestart, watchConfigFile } from './config/watch.js';
import { startEventHandlers, type EventHandlers } from './eventhandlers/start.js';
import { chooseSource, type ConfigReader } from './config/list-source.js';
import { ListKeeper, type ReloadResult } from './connections/list-keeper.js';
import { ServeEverything, type Ownership } from './connections/ownership.js';
import { ServedConnections } from './connections/served.js';
import { AnswerRelay } from './ha/relay.js';
import type { LeaseOwnership } from './ha/lease-ownership.js';
import { ReclaimCheck } from './ha/reclaim-check.js';
import { replicaIdOf, startLeaseOwnership } from './ha/start-lease-ownership.js';
import type { Logger } from './log.js';
import { connectNats } from './nats/client.js';
import { NatsPublisher, type PublisherStats } from './nats/publisher.js';
import { startHttpServer } from './ops/http.js';
import { Metrics } from './ops/metrics.js';
import { readinessProblems } from './ops/readiness.js';
import { ServiceDiscovery } from './ops/service-discovery.js';
import { sleep } from './sleep.js';
import { VERSION } from './version.js';

export interface Daemon {
  readonly nc: NatsConnection;
  readonly httpPort: number;
  readonly discovery: ServiceDiscovery;
  readonly events: EventSink;
  /** Janus's event handlers to NATS (eventHandler.port set), else undefined. */
  readonly eventHandlers: EventHandlers | undefined;
  /** Resolves once the first connection list is applied; rejects when it cannot be (wrong table version, no table). */
  readonly listLoaded: Promise<void>;
  /** The janus_ids this process serves now. */
  servedIds(): string[];
  /** What a connection this process serves reports now; undefined when it does not serve `janusId`. */
  connectionStats(janusId: string): ConnectionStats | undefined;
  /** What publishing to NATS counted since start (messages kept, dropped, servers left as stalled, …). */
  natsStats(): PublisherStats;
  /** Loads the connection list again and applies the difference. */
  reload(trigger: string): Promise<ReloadResult>;
  /** Graceful stop: no new requests, in-flight ones finish (up to cmdTimeout), sessions destroyed, NATS drained. */
  shutdown(reason: string): Promise<void>;
}

export interface DaemonOptions {
  /** Reads the configuration again, for reloads of a config-file list. */
  rereadConfig?: ConfigReader;
  /** Resolved by the caller (to report problems as configuration errors); resolved here when absent. */
  secrets?: Secrets;
  /** The --config file: watched for changes (configWatch.interval), each reloading the list. */
  configFile?: string;
}

/**
 * What runs so far. The HTTP endpoint answers from the start (liveness while NATS is not up
 * yet), so readiness and metrics read the parts as they come: each is set once, when built.
 */
class RunningParts {
  publisher: NatsPublisher | undefined;
  capture: JetStreamEventSink | undefined;
  served: ServedConnections<BridgedConnection> | undefined;
  keeper: ListKeeper | undefined;
  stopping = false;

  connections(): BridgedConnection[] {
    return (this.served?.entries() ?? []).map(({ connection }) => connection);
  }
}

export async function startDaemon(config: BridgeConfig, log: Logger, options: DaemonOptions = {}): Promise<Daemon> {
  const secrets = options.secrets ?? mustResolve(config);
  const parts = new RunningParts();
  const metrics = new Metrics({
    connections: () =>
      parts.connections().map((c) => {
        const stats = c.stats();
        return {
          janusId: c.spec.janusId,
          state: stats.state,
          pending: stats.pendingRequests,
          adminState: stats.admin?.state,
        };
      }),
    natsConnected: () => parts.publisher?.isConnected ?? false,
    natsPendingBytes: () => parts.publisher?.pendingBytes ?? 0,
    eventsWaiting: () => parts.capture?.waiting,
  });
  const http = await startHttpServer(
    config.http.host,
    config.http.port,
    {
      notReadyBecause: () =>
        readinessProblems({
          stopping: parts.stopping,
          natsConnected: parts.publisher?.isConnected ?? false,
          listProblem: parts.keeper ? parts.keeper.notLoadedBecause : 'connection list not loaded',
          connectionStates: parts.connections().map((c) => c.stats().state),
          readyShare: config.http.readyShare,
          adminStates: config.http.readyNeedsAdmin
            ? parts.connections().flatMap((c) => {
                const admin = c.stats().admin;
                return admin ? [admin.state] : [];
              })
            : undefined,
        }),
    },
    metrics.registry,
    { maxConnections: config.http.maxConnections },
  );
  log.info({ host: config.http.host, port: http.port }, 'HTTP endpoint listening (/healthz, /readyz, /metrics)');

  const nc = await connectNats(config.nats, secrets.nats, log);
  const publisher = new NatsPublisher(nc, log, {
    stallTimeoutMs: config.nats.stallTimeout,
    maxPendingBytes: config.nats.maxPendingBytes,
  });
  parts.publisher = publisher;
  const events = eventSink(config, publisher, log);
  if (events instanceof JetStreamEventSink) {
    parts.capture = events;
    // Connections start once the stream exists, so that their first status messages are captured too.
    if (!(await events.whenReady(STREAM_SETUP_WAIT_MS)))
      log.warn(
        { waited_ms: STREAM_SETUP_WAIT_MS },
        'the event stream is not set up yet: connections start anyway; what they publish before it is, is not captured',
      );
  }
  const eventHandlers =
    config.eventHandler.port > 0
      ? await startEventHandlers(config, { publisher, metrics, secret: secrets.eventHandler.secret, log })
      : undefined;
  /** This process, among the restarts of the same replica: in leases, admin.status and service discovery. */
  const processId = randomBytes(11).toString('hex').toUpperCase();
  const served = await serveConnections(config, { publisher, secrets, metrics, events, processId }, log);
  parts.served = served.connections;

  const source = chooseSource(config, options.rereadConfig, log);
  // Every listed janus_id may connect its event handler, whoever serves it (any replica takes it).
  const offered: Ownership = eventHandlers
    ? {
        offer: (specs) => {
          eventHandlers.setListed(specs.map((spec) => spec.janusId));
          return served.ownership.offer(specs);
        },
      }
    : served.ownership;
  const list = new ListKeeper(source, offered, log);
  parts.keeper = list;
  log.info({ source: source.description }, 'loading the connection list');
  const listLoaded = list.start();
  // Its failure is the caller's to report (listLoaded): not an unhandled rejection here.
  listLoaded.catch(() => undefined);

  const discovery = new ServiceDiscovery(
    nc,
    processId,
    {
      version: VERSION,
      description: 'Janus WebRTC servers over NATS: one request endpoint per janus_id',
      metadata: { subject_prefix: config.nats.subjectPrefix },
      endpoints: () => parts.connections().map((c) => c.endpoint),
    },
    { log, metrics, prefix: config.nats.subjectPrefix },
  );
  const leaseOwnership = served.leaseOwnership;
  const adminSubscriptions: Subscription[] = serveAdmin(
    nc,
    config.nats.subjectPrefix,
    {
      reload: (trigger) => list.reload(trigger),
      status: () =>
        parts.connections().map((c) => {
          const stats = c.stats();
          return {
            janus_id: c.spec.janusId,
            janus_url: c.spec.url.redacted,
            state: stats.state,
            session_id: stats.sessionId ?? null,
            since: new Date(stats.since).toISOString(),
            pending: stats.pendingRequests,
            admin: c.adminStatus,
          };
        }),
      instance: { id: processId, version: VERSION, replica: config.ha.enabled ? replicaIdOf(config) : hostname() },
      ...(leaseOwnership ? { owners: () => leaseOwnership.owners() } : {}),
    },
    log,
    metrics,
  );
  const configWatch =
    options.configFile && config.configWatch.interval > 0
      ? watchConfigFile(options.configFile, config.configWatch.interval * 1000, () => {
          const reread = options.rereadConfig?.();
          const restartKeys = reread?.ok ? keysNeedingRestart(config, reread.config) : [];
          log.info(
            { file: options.configFile, ...(restartKeys.length ? { needs_restart: restartKeys } : {}) },
            'configuration file changed: reloading the connection list',
          );
          void list.reload('config-file');
        })
      : undefined;
  const interval =
    config.db.url && config.db.reloadInterval > 0
      ? setInterval(() => {
          if (!list.reloading) void list.reload('interval');
        }, config.db.reloadInterval * 1000)
      : undefined;

  let shutdown: Promise<void> | undefined;
  return {
    nc,
    httpPort: http.port,
    discovery,
    listLoaded,
    events,
    eventHandlers,
    servedIds: () => served.connections.entries().map(({ spec }) => spec.janusId),
    connectionStats: (janusId) => served.connections.get(janusId)?.stats(),
    natsStats: () => publisher.stats(),
    reload: (trigger) => list.reload(trigger),
    shutdown: (reason) =>
      (shutdown ??= (async () => {
        parts.stopping = true;
        log.info({ reason }, 'shutting down');
        // Janus's event handlers reconnect (behind a Service: to another replica) while the rest stops.
        const eventHandlersClosed = eventHandlers?.close(EVENT_HANDLER_CLOSE_MS, config.janus.cmdTimeout);
        clearInterval(interval);
        configWatch?.stop();
        list.cancel();
        discovery.stop();
        for (const subscription of adminSubscriptions) subscription.unsubscribe();
        // With several replicas the sessions live on: the others take them over.
        await leaseOwnership?.leave();
        for (const { connection } of served.connections.entries()) connection.stopAccepting();
        await served.connections.stopAll('bridge shutting down', {
          destroySession: !leaseOwnership,
          graceMs: config.janus.cmdTimeout,
        });
        await events.flush(config.janus.cmdTimeout);
        events.stop();
        await eventHandlersClosed;
        publisher.stop();
        // A drain waits for the server: bounded, so that an unreachable NATS cannot hold the exit.
        const drained = nc.drain().then(
          () => true,
          (err: Error) => {
            log.warn({ err: err.message }, 'NATS drain failed');
            return false;
          },
        );
        // Closing after a failed or slow drain can fail too; there is nothing left to do about it.
        if (!(await Promise.race([drained, sleep(DRAIN_LIMIT_MS).then(() => false)])))
          await nc.close().catch(() => undefined);
        await closeServer(http.server);
        log.info('stopped');
      })()),
  };
}

/**
 * The connections this process runs, and who decides which: every listed one, or, with
 * several replicas, those whose lease this replica holds (with the relay of answers).
 */
async function serveConnections(
  config: BridgeConfig,
  shared: { publisher: NatsPublisher; secrets: Secrets; metrics: Metrics; events: EventSink; processId: string },
  log: Logger,
): Promise<{
  connections: ServedConnections<BridgedConnection>;
  ownership: Ownership;
  leaseOwnership: LeaseOwnership | undefined;
}> {
  const { publisher, secrets, metrics, events, processId } = shared;
  // Janus's reclaim_session_timeout is checked against what a takeover needs (with several replicas: a failover's
  // duration).
  const janusInfo = ReclaimCheck.forConfig(config);
  if (!config.ha.enabled) {
    const connections = new ServedConnections(
      (spec, start) =>
        new BridgedConnection(spec, { publisher, config, secrets, metrics, events, log, janusInfo }, start),
      log,
    );
    return {
      connections,
      ownership: new ServeEverything((specs) => connections.apply(specs)),
      leaseOwnership: undefined,
    };
  }
  // The leases-held gauge is registered before LeaseOwnership exists (which reports to it): it reads it once there.
  const holder: { leaseOwnership?: LeaseOwnership } = {};
  const leaseMetrics = metrics.leaseOwnership(() => holder.leaseOwnership?.leasesHeld ?? 0);
  const relay = new AnswerRelay(publisher.nc, config.nats.subjectPrefix, log, leaseMetrics.relayed, metrics);
  const connections = new ServedConnections(
    (spec, start) =>
      new BridgedConnection(spec, { publisher, config, secrets, metrics, events, log, relay, janusInfo }, start),
    log,
  );
  const leaseOwnership = await startLeaseOwnership(
    config,
    { publisher, served: connections, relay, metrics: leaseMetrics, instance: processId },
    log,
  );
  holder.leaseOwnership = leaseOwnership;
  return { connections, ownership: leaseOwnership, leaseOwnership };
}

/** How long the final NATS drain may take. */
const DRAIN_LIMIT_MS = 2000;

/** How long the start waits for the event stream (capture on) before it starts the connections anyway. */
const STREAM_SETUP_WAIT_MS = 5000;

/** How long each Janus may take to answer the close of its event-handler link. */
const EVENT_HANDLER_CLOSE_MS = 2000;

/** Core NATS, or JetStream capture when events.stream.enabled. */
function eventSink(config: BridgeConfig, publisher: NatsPublisher, log: Logger): EventSink {
  const stream = config.events.stream;
  if (!stream.enabled) return new CoreEventSink(publisher, log.child({ component: 'events' }));
  const prefix = config.nats.subjectPrefix;
  return new JetStreamEventSink(
    publisher.nc,
    {
      name: stream.name || `${jetStreamNameFrom(prefix.toUpperCase())}_EVENTS`,
      subjects: [`${prefix}.event.>`, ...(stream.captureStatus ? [`${prefix}.status.>`] : [])],
      maxAgeSeconds: stream.maxAge,
      maxBytes: stream.maxBytes,
      storage: stream.storage,
      replicas: stream.replicas,
      maxPending: stream.maxPending,
      bufferSize: stream.bufferSize,
    },
    log.child({ component: 'event-stream' }),
  );
}

function mustResolve(config: BridgeConfig): Secrets {
  const resolved = resolveSecrets(config);
  if (!resolved.ok) throw new Error(`configuration error: ${resolved.problem}`);
  return resolved.secrets;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
