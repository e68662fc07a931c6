/**
 * Several daemon replicas sharing real Janus servers through one nats-server with JetStream,
 * or through a NATS cluster (`natsNodes`, test/support/nats-cluster.ts): the
 * servers, the replicas as processes (`node dist/main.js --config <file>`), each replica
 * reaching NATS through its own loopback TCP proxy (on a cluster: one per node, every node
 * listed, the replica placed on a home node of its own), their JSON log lines kept in memory,
 * the ownership table, which NATS node each replica and each test client is on over time,
 * a load generator that records every failed request, and a watch of the events the bridge
 * publishes next to what its event stream stored. Everything started here is stopped by
 * `stop()`, also after a failed start.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createInbox, NatsError, type ConnectionOptions, type Msg, type NatsConnection } from 'nats';
import { Client, type Collector } from './bridge.js';
import { selected } from './environment.js';
import { listSessions } from './janus-admin.js';
import { jetStreamReady, startNatsCluster, streamClusterInfo, type NatsCluster } from './nats-cluster.js';
import {
  manage,
  REPO,
  startJanus,
  startNats,
  type JanusServer,
  type ManagedProcess,
  type NatsServer,
} from './processes.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/**
 * The daemon the replicas run: the build in dist/, or JNB_HA_MAIN (another build of it, e.g.
 * one with a fix to try).
 */
export const MAIN = process.env.JNB_HA_MAIN || join(REPO, 'dist/main.js');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface HaClusterOptions {
  /** Real Janus servers (default 5). */
  janusCount?: number;
  /** janus_ids per Janus, each its own connection and session (default 3). */
  idsPerJanus?: number;
  /** Janus reclaim_session_timeout in seconds (default 30: sessions outlive a dead replica's socket). */
  reclaimTimeout?: number;
  subjectPrefix?: string;
  /** ha.leaseTtl in seconds (default 3). */
  leaseTtl?: number;
  /** ha.handoverTimeout in seconds (default: not set, the daemon's default). */
  handoverTimeout?: number;
  /** janus.cmdTimeout in ms (default 5000). */
  cmdTimeout?: number;
  /** Each replica reaches NATS through its own TCP proxy (default true; on a cluster always, one per node). */
  proxies?: boolean;
  logLevel?: string;
  /**
   * Run on a NATS cluster of this many nodes (JetStream, routes through TCP proxies so that
   * a node can be isolated) instead of one nats-server (default 0: one server).
   */
  natsNodes?: number;
  /** ha.bucketReplicas (default: the daemon's). */
  bucketReplicas?: number;
  /** events.stream: capture events in the event stream with this many replicas (default 0: no capture). */
  eventStreamReplicas?: number;
}

/** One line a replica wrote on stdout, parsed. */
export interface LogLine {
  replica: string;
  /** Which start of that replica wrote it (1 for the first process, 2 after a restart...). */
  generation: number;
  /** Epoch ms, from the line's `time` (epoch ms or ISO text). */
  time: number;
  msg: string;
  fields: Record<string, unknown>;
}

/** One process of a replica, from spawn to exit. */
export interface Lifetime {
  replica: string;
  generation: number;
  pid: number;
  startedAt: number;
  exitedAt?: number;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
}

/** One row of `<prefix>.admin.owners`: the daemon's own type, so the test follows the contract. */
export type { OwnerRow } from '../../src/ha/lease-ownership.js';
import type { OwnerRow } from '../../src/ha/lease-ownership.js';

export interface OwnersTable {
  bucket: string;
  replicas: Array<{ replica: string; instance: string; since: string }>;
  owners: OwnerRow[];
}

export interface StatusReply {
  host: string;
  instance: string;
  replica: string;
  version: string;
  connections: Array<{ janus_id: string; state: string; session_id: number | null } & Record<string, unknown>>;
}

export interface StopResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From SIGTERM to exit. */
  ms: number;
}

/** A replica: a replica id, its config file and proxy, and the process currently running it (if any). */
export class Replica {
  generation = 0;
  private current: ManagedProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private lifetime: Lifetime | undefined;

  constructor(
    private readonly cluster: HaCluster,
    readonly replicaId: string,
    readonly configFile: string,
    readonly proxy: TcpProxy | undefined,
    /** On a NATS cluster: this replica's proxy to each node, by node index. */
    readonly nodeProxies: TcpProxy[] = [],
  ) {}

  /** On a NATS cluster: the node it is placed on when started by HaCluster.startReplica. */
  home = 0;

  get running(): boolean {
    return this.lifetime !== undefined && this.lifetime.exitedAt === undefined;
  }

  get pid(): number | undefined {
    return this.running ? this.lifetime!.pid : undefined;
  }

  /** Spawns a new process for this replica id (the previous one must have exited). */
  start(): void {
    if (this.running) throw new Error(`replica ${this.replicaId} is already running`);
    const child = spawn(process.execPath, [MAIN, '--config', this.configFile], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const generation = ++this.generation;
    const lifetime: Lifetime = { replica: this.replicaId, generation, pid: child.pid!, startedAt: Date.now() };
    this.lifetime = lifetime;
    this.cluster.lifetimes.push(lifetime);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        lifetime.exitedAt = Date.now();
        lifetime.exitCode = code;
        lifetime.signal = signal;
        resolve();
      }),
    );
    let partial = '';
    child.stdout.on('data', (data: Buffer) => {
      const lines = (partial + data.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.cluster.addLogLine(this.replicaId, generation, line);
    });
    child.stdout.once('end', () => {
      if (partial) this.cluster.addLogLine(this.replicaId, generation, partial);
    });
    this.current = manage(child);
  }

  /** SIGTERM; waits for the exit (SIGKILL after graceMs) and returns the exit code. */
  async stop(graceMs = 30_000): Promise<StopResult> {
    const lifetime = this.lifetime;
    if (!this.current || !lifetime || !this.running)
      return { code: lifetime?.exitCode ?? null, signal: lifetime?.signal ?? null, ms: 0 };
    const started = Date.now();
    this.current.child.kill('SIGTERM');
    const timer = setTimeout(() => this.current?.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    return { code: lifetime.exitCode ?? null, signal: lifetime.signal ?? null, ms: Date.now() - started };
  }

  /** SIGKILL, waiting until the process is gone. */
  async kill(): Promise<void> {
    if (!this.current || !this.running) return;
    await this.current.kill();
    await this.exited;
  }

  /** Stops the running process (SIGTERM) if any, and starts a new one with the same replica id and config. */
  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  /** This replica's log lines, every generation. */
  logs(): LogLine[] {
    return this.cluster.logs.filter((line) => line.replica === this.replicaId);
  }

  /** The current (or last) process's stdout and stderr, for error messages. */
  output(chars = 4000): string {
    return this.current?.output().slice(-chars) ?? '';
  }

  /** Whether the last process exited, and how: for error messages. */
  describeExit(): string {
    const l = this.lifetime;
    if (!l) return `${this.replicaId}: never started`;
    if (l.exitedAt === undefined) return `${this.replicaId}: running (pid ${l.pid})`;
    return `${this.replicaId}: exited with code ${l.exitCode} signal ${l.signal} after ${l.exitedAt - l.startedAt} ms`;
  }
}

/** Where a replica's NATS connection was from `from` to `to` (epoch ms); `node` undefined: disconnected. */
export interface NodeSpan {
  from: number;
  to: number;
  node: number | undefined;
  generation: number;
}

export interface ClusterLayout {
  janusId: string;
  janus: JanusServer;
  janusIndex: number;
}

export class HaCluster {
  readonly options: Required<Omit<HaClusterOptions, 'handoverTimeout' | 'bucketReplicas'>> & {
    handoverTimeout?: number;
    bucketReplicas?: number;
  };
  /** The one nats-server (without natsNodes). */
  nats!: NatsServer;
  /** The NATS cluster (with natsNodes). */
  natsCluster: NatsCluster | undefined;
  readonly janus: JanusServer[] = [];
  readonly layout: ClusterLayout[] = [];
  /** The test's NATS client (admin requests, pings, the status collector). */
  client!: Client;
  /** Every message on `<prefix>.status.>` since start. */
  status!: Collector;
  readonly replicas = new Map<string, Replica>();
  readonly logs: LogLine[] = [];
  /** Lines that were not JSON, with their replica. */
  readonly rawLines: Array<{ replica: string; line: string }> = [];
  readonly lifetimes: Lifetime[] = [];
  /** An echotest handle per janus_id, attached by attachHandles(). */
  readonly handles = new Map<string, number>();
  private readonly dirs: string[] = [];
  private readonly proxies: TcpProxy[] = [];
  private readonly clients: Client[] = [];
  /** Client port of a node, or port of a replica's proxy to it → node index. */
  private readonly portToNode = new Map<number, number>();
  private stopped = false;

  constructor(options: HaClusterOptions = {}) {
    this.options = {
      janusCount: options.janusCount ?? 5,
      idsPerJanus: options.idsPerJanus ?? 3,
      reclaimTimeout: options.reclaimTimeout ?? 30,
      subjectPrefix: options.subjectPrefix ?? 'janus',
      leaseTtl: options.leaseTtl ?? 3,
      cmdTimeout: options.cmdTimeout ?? 5000,
      proxies: options.proxies ?? true,
      logLevel: options.logLevel ?? 'info',
      natsNodes: options.natsNodes ?? 0,
      eventStreamReplicas: options.eventStreamReplicas ?? 0,
      ...(options.handoverTimeout !== undefined ? { handoverTimeout: options.handoverTimeout } : {}),
      ...(options.bucketReplicas !== undefined ? { bucketReplicas: options.bucketReplicas } : {}),
    };
  }

  /** The ownership bucket, as the daemon names it by default, and its stream. */
  get bucket(): string {
    return `${this.prefix.replace(/[^A-Za-z0-9_-]/g, '_')}_owners`;
  }

  get bucketStream(): string {
    return `KV_${this.bucket}`;
  }

  /** The event stream, as the daemon names it by default. */
  get eventStream(): string {
    return `${this.prefix.toUpperCase().replace(/[^A-Za-z0-9_-]/g, '_')}_EVENTS`;
  }

  /** Every NATS server's client URL (one without a cluster). */
  get natsUrls(): string[] {
    return this.natsCluster ? this.natsCluster.urls : [this.nats.url];
  }

  get prefix(): string {
    return this.options.subjectPrefix;
  }

  get ids(): string[] {
    return this.layout.map((l) => l.janusId);
  }

  /** Starts NATS (JetStream, temporary store) and the Janus servers; no replica yet. */
  async start(): Promise<void> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
    if (this.options.natsNodes > 0) {
      // Local nats-server processes in any environment (as nats-stall.test.ts): routes, kills and partitions need them.
      this.natsCluster = await startNatsCluster({ size: this.options.natsNodes, jetstream: true, routeProxies: true });
      for (const node of this.natsCluster.nodes) this.portToNode.set(node.port, node.index);
    } else {
      const store = this.tempDir('jnb-ha-js-');
      // A container gets its own store inside it (a bind mount of the host folder would be read-only).
      this.nats = await startNats(undefined, selected() === 'containers' ? ['-js'] : ['-js', '-sd', store]);
    }
    const started = await Promise.allSettled(
      Array.from({ length: this.options.janusCount }, () =>
        startJanus({ reclaimTimeout: this.options.reclaimTimeout }),
      ),
    );
    for (const result of started) if (result.status === 'fulfilled') this.janus.push(result.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [janusIndex, janus] of this.janus.entries()) {
      for (let k = 0; k < this.options.idsPerJanus; k++)
        this.layout.push({ janusId: `j${janusIndex + 1}-${k + 1}`, janus, janusIndex });
    }
    this.client = await this.newClient();
    this.status = this.client.collect(`${this.prefix}.status.>`);
    await this.client.nc.flush();
    if (this.natsCluster) {
      // JetStream in a cluster answers once its meta group has a leader, a second or two after the last node starts.
      const deadline = Date.now() + 30_000;
      while (!(await jetStreamReady(this.client.nc))) {
        if (Date.now() > deadline) throw new Error('JetStream of the NATS cluster not ready within 30 s');
        await sleep(200);
      }
    }
  }

  /**
   * A NATS client straight to the servers (not through a replica's proxy), closed by stop().
   * On a cluster it is on node `home` (default the first) and, when that node goes, on the next
   * one of the list (noRandomize): where each client is stays known.
   */
  async newClient(home = 0, name = 'ha-test'): Promise<Client> {
    const urls = this.natsUrls;
    const ordered = [...urls.slice(home), ...urls.slice(0, home)];
    // Passed as a variable: Client.connect's own `servers` is replaced by this list.
    const options: ConnectionOptions = {
      servers: ordered,
      noRandomize: true,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    };
    const client = await Client.connect(ordered[0]!, options);
    this.clients.push(client);
    return client;
  }

  /** Which node a test client is on now (undefined while disconnected, or without a cluster). */
  nodeOfClient(client: { nc: NatsConnection }): number | undefined {
    return client.nc.isClosed() ? undefined : this.nodeOfServer(client.nc.getServer());
  }

  /** The node a `host:port` (a node's client port, or a replica's proxy to it) leads to. */
  nodeOfServer(server: string | undefined): number | undefined {
    if (!server || !this.natsCluster) return undefined;
    const port = Number(/:(\d+)\/?$/.exec(server)?.[1]);
    return this.portToNode.get(port);
  }

  /**
   * Creates (first time: `overrides` apply then) and starts a replica; its proxy and config file
   * are kept for restarts.
   */
  /**
   * On a cluster, the replica lists every node (through a proxy of its own to each) and is
   * placed on node `home` (default: replicas in turn over the nodes): only that proxy listens
   * until the replica has connected, the others open right after. Later reconnects go
   * wherever nats.js goes (the nodes it learns from the cluster included); nodeTimeline()
   * says where it was when.
   */
  async startReplica(
    replicaId: string,
    overrides: { leaseTtl?: number; handoverTimeout?: number; home?: number } = {},
  ): Promise<Replica> {
    let replica = this.replicas.get(replicaId);
    if (!replica) {
      let servers: string[];
      let proxy: TcpProxy | undefined;
      const nodeProxies: TcpProxy[] = [];
      if (this.natsCluster) {
        for (const [index, node] of this.natsCluster.nodes.entries()) {
          const nodeProxy = await startTcpProxy(node.port);
          this.proxies.push(nodeProxy);
          this.portToNode.set(nodeProxy.port, index);
          nodeProxies.push(nodeProxy);
        }
        servers = nodeProxies.map((p) => `nats://127.0.0.1:${p.port}`);
      } else {
        proxy = this.options.proxies ? await startTcpProxy(this.nats.port) : undefined;
        if (proxy) this.proxies.push(proxy);
        servers = [proxy ? `nats://127.0.0.1:${proxy.port}` : this.nats.url];
      }
      const handoverTimeout = overrides.handoverTimeout ?? this.options.handoverTimeout;
      const config = {
        nats: { servers, subjectPrefix: this.prefix, name: `jnb-${replicaId}` },
        connections: this.layout.map((l) => ({ janus_id: l.janusId, janus_url: l.janus.url })),
        http: { host: '127.0.0.1', port: 0 },
        janus: { cmdTimeout: this.options.cmdTimeout },
        ha: {
          enabled: true,
          replicaId,
          leaseTtl: overrides.leaseTtl ?? this.options.leaseTtl,
          ...(handoverTimeout !== undefined ? { handoverTimeout } : {}),
          ...(this.options.bucketReplicas !== undefined ? { bucketReplicas: this.options.bucketReplicas } : {}),
        },
        ...(this.options.eventStreamReplicas > 0
          ? { events: { stream: { enabled: true, replicas: this.options.eventStreamReplicas } } }
          : {}),
        log: { level: this.options.logLevel },
      };
      const file = join(this.tempDir('jnb-ha-config-'), `${replicaId}.json`);
      writeFileSync(file, JSON.stringify(config, null, 2));
      replica = new Replica(this, replicaId, file, proxy, nodeProxies);
      replica.home = overrides.home ?? this.replicas.size % Math.max(1, nodeProxies.length);
      this.replicas.set(replicaId, replica);
    }
    if (replica.nodeProxies.length === 0) {
      replica.start();
      return replica;
    }
    const home = overrides.home ?? replica.home;
    replica.home = home;
    await Promise.all(replica.nodeProxies.map((p, index) => (index === home ? p.open() : p.cut())));
    replica.start();
    const generation = replica.generation;
    const deadline = Date.now() + 20_000;
    while (
      !this.logs.some((l) => l.replica === replicaId && l.generation === generation && l.msg === 'connected to NATS')
    ) {
      if (!replica.running) throw new Error(`${replica.describeExit()}\n${replica.output()}`);
      if (Date.now() > deadline)
        throw new Error(`${replicaId} did not connect to NATS node ${home} within 20 s\n${replica.output()}`);
      await sleep(50);
    }
    await Promise.all(replica.nodeProxies.map((p) => p.open()));
    return replica;
  }

  /**
   * Where a replica's NATS connection was, from its log lines (`connected to NATS`, `NATS
   * disconnected`, `NATS reconnected`): spans with the node index, or undefined while it was
   * disconnected. The last span ends at `now` (or the process's exit).
   */
  nodeTimeline(replicaId: string, now = Date.now()): NodeSpan[] {
    const spans: NodeSpan[] = [];
    let open: { from: number; node: number | undefined; generation: number } | undefined;
    const close = (at: number): void => {
      if (open) spans.push({ from: open.from, to: at, node: open.node, generation: open.generation });
      open = undefined;
    };
    for (const line of this.logs.filter((l) => l.replica === replicaId).sort((a, b) => a.time - b.time)) {
      if (open && open.generation !== line.generation) {
        const life = this.lifetimes.find((l) => l.replica === replicaId && l.generation === open!.generation);
        close(life?.exitedAt ?? line.time);
      }
      if (line.msg === 'connected to NATS') {
        close(line.time);
        open = {
          from: line.time,
          node: this.nodeOfServer(String(line.fields.server ?? '')),
          generation: line.generation,
        };
      } else if (line.msg.startsWith('NATS disconnected') || line.msg.startsWith('NATS server stalled')) {
        close(line.time);
        open = { from: line.time, node: undefined, generation: line.generation };
      } else if (line.msg.startsWith('NATS reconnected')) {
        close(line.time);
        open = {
          from: line.time,
          node: this.nodeOfServer(String(line.fields.data ?? '')),
          generation: line.generation,
        };
      }
    }
    if (open) {
      const life = this.lifetimes.find((l) => l.replica === replicaId && l.generation === open!.generation);
      close(life?.exitedAt ?? now);
    }
    return spans;
  }

  /** The node a replica's NATS connection was on at `at` (undefined: disconnected, or not known). */
  nodeOfReplicaAt(replicaId: string, at: number): number | undefined {
    return this.nodeTimeline(replicaId).find((s) => s.from <= at && at < s.to)?.node;
  }

  replica(replicaId: string): Replica {
    const replica = this.replicas.get(replicaId);
    if (!replica) throw new Error(`no replica ${replicaId}`);
    return replica;
  }

  runningReplicas(): Replica[] {
    return [...this.replicas.values()].filter((r) => r.running);
  }

  /** Makes exactly `wanted` run (stopping others with SIGTERM, starting missing ones) and waits for balance. */
  async ensureReplicas(wanted: string[], timeoutMs = 30_000): Promise<void> {
    for (const replica of this.runningReplicas()) if (!wanted.includes(replica.replicaId)) await replica.stop();
    for (const id of wanted) {
      const replica = this.replicas.get(id);
      if (!replica?.running) await this.startReplica(id);
    }
    await this.waitBalanced(wanted, timeoutMs);
  }

  addLogLine(replica: string, generation: number, text: string): void {
    if (!text.trim()) return;
    let fields: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
      fields = parsed as Record<string, unknown>;
    } catch {
      this.rawLines.push({ replica, line: text });
      return;
    }
    const raw = fields.time;
    const time = typeof raw === 'number' ? raw : typeof raw === 'string' ? Date.parse(raw) : Date.now();
    this.logs.push({
      replica,
      generation,
      time: Number.isFinite(time) ? time : Date.now(),
      msg: String(fields.msg ?? ''),
      fields,
    });
  }

  /** Log lines with this `msg` (and, optionally, this janus_id), every replica. */
  logsWith(msg: string, janusId?: string): LogLine[] {
    return this.logs.filter((l) => l.msg === msg && (janusId === undefined || l.fields.janus_id === janusId));
  }

  // ---- NATS operations ----

  async owners(timeoutMs = 2000): Promise<OwnersTable> {
    return (await this.client.request(`${this.prefix}.admin.owners`, {}, timeoutMs)).json as unknown as OwnersTable;
  }

  /** `<prefix>.admin.status` from every replica that answers within waitMs. */
  async statuses(waitMs = 500): Promise<StatusReply[]> {
    const replies = await this.gather(`${this.prefix}.admin.status`, {}, waitMs);
    return replies.map((m) => JSON.parse(m.string()) as StatusReply);
  }

  /** Publishes a request and collects every reply for waitMs. */
  async gather(subject: string, payload: unknown, waitMs: number): Promise<Msg[]> {
    const nc = this.client.nc;
    const inbox = createInbox();
    const sub = nc.subscribe(inbox);
    const replies: Msg[] = [];
    const reading = (async () => {
      for await (const msg of sub) replies.push(msg);
    })();
    nc.publish(subject, JSON.stringify(payload), { reply: inbox });
    await sleep(waitMs);
    sub.unsubscribe();
    await reading;
    return replies;
  }

  async request(janusId: string, body: Record<string, unknown>, timeoutMs = 5000): Promise<Record<string, unknown>> {
    return (await this.client.request(`${this.prefix}.request.${janusId}`, body, timeoutMs)).json;
  }

  /** True when a ping for janusId answers pong within timeoutMs. */
  async pings(janusId: string, timeoutMs = 2000): Promise<boolean> {
    try {
      return (await this.request(janusId, { janus: 'ping' }, timeoutMs)).janus === 'pong';
    } catch {
      return false;
    }
  }

  /** Ids that do not answer a ping, each with the reason. */
  async pingProblems(ids = this.ids, timeoutMs = 2000): Promise<string[]> {
    const results = await Promise.all(
      ids.map(async (id) => {
        try {
          const reply = await this.request(id, { janus: 'ping' }, timeoutMs);
          return reply.janus === 'pong' ? undefined : `${id}: ${JSON.stringify(reply)}`;
        } catch (err) {
          return `${id}: ${describeError(err)}`;
        }
      }),
    );
    return results.filter((r): r is string => r !== undefined);
  }

  /**
   * One probe of janusId: a ping answered pong, or (kind 'handle') an async echotest message
   * on the handle attached before answered with its event, which needs the session too.
   */
  async answers(janusId: string, kind: 'ping' | 'handle', timeoutMs: number): Promise<boolean> {
    const handle = this.handles.get(janusId);
    if (kind === 'ping' || handle === undefined) return this.pings(janusId, timeoutMs);
    try {
      const reply = await this.request(
        janusId,
        {
          janus: 'message',
          handle_id: handle,
          transaction: `probe-${Math.random().toString(36).slice(2)}`,
          body: { audio: true },
        },
        timeoutMs,
      );
      return reply.janus === 'event' && reply.sender === handle;
    } catch {
      return false;
    }
  }

  /**
   * For each id, probes every 50 ms until it answers (see answers()); returns ms from
   * `since` (epoch ms) to the first answer, or undefined when none came within timeoutMs.
   */
  async timeUntilAnswering(
    ids: string[],
    since: number,
    timeoutMs: number,
    kind: 'ping' | 'handle' = 'ping',
  ): Promise<Map<string, number | undefined>> {
    const deadline = Date.now() + timeoutMs;
    const results = await Promise.all(
      ids.map(async (id) => {
        while (Date.now() < deadline) {
          if (await this.answers(id, kind, 1000)) return [id, Date.now() - since] as const;
          await sleep(50);
        }
        return [id, undefined] as const;
      }),
    );
    return new Map(results);
  }

  /** Attaches an echotest handle for every janus_id that has none yet. */
  async attachHandles(): Promise<Map<string, number>> {
    await Promise.all(
      this.ids
        .filter((id) => !this.handles.has(id))
        .map(async (id) => {
          const reply = await this.request(id, { janus: 'attach', plugin: 'janus.plugin.echotest' });
          if (reply.janus !== 'success') throw new Error(`attach on ${id} answered ${JSON.stringify(reply)}`);
          this.handles.set(id, (reply.data as { id: number }).id);
        }),
    );
    return this.handles;
  }

  /** Sends an async echotest message on every attached handle; returns what did not come back as its event. */
  async handleProblems(ids = [...this.handles.keys()]): Promise<string[]> {
    const results = await Promise.all(
      ids.map(async (id) => {
        const handle = this.handles.get(id);
        if (handle === undefined) return `${id}: no handle attached`;
        const transaction = `check-${id}-${Math.random().toString(36).slice(2)}`;
        try {
          const reply = await this.request(
            id,
            { janus: 'message', handle_id: handle, transaction, body: { audio: true } },
            10_000,
          );
          const plugin = (reply.plugindata as { plugin?: string } | undefined)?.plugin;
          if (
            reply.janus === 'event' &&
            reply.sender === handle &&
            reply.transaction === transaction &&
            plugin === 'janus.plugin.echotest'
          )
            return undefined;
          return `${id} (handle ${handle}): ${JSON.stringify(reply).slice(0, 300)}`;
        } catch (err) {
          return `${id} (handle ${handle}): ${describeError(err)}`;
        }
      }),
    );
    return results.filter((r): r is string => r !== undefined);
  }

  /** Janus servers whose Admin API list_sessions does not show exactly one session per janus_id on them. */
  async sessionProblems(): Promise<{ problems: string[]; sessions: number[][] }> {
    const sessions = await Promise.all(this.janus.map((j) => listSessions(j.adminUrl)));
    const problems: string[] = [];
    for (const [index, list] of sessions.entries()) {
      const expected = this.layout.filter((l) => l.janusIndex === index).length;
      if (list.length !== expected)
        problems.push(`Janus ${index + 1}: ${list.length} sessions (${list.join(', ')}), expected ${expected}`);
    }
    return { problems, sessions };
  }

  /**
   * What keeps the ownership table from being "each id owned once, serving, by one of
   * `replicas`, at most ceil(ids/replicas) each and at least one each".
   */
  ownershipProblems(table: OwnersTable, replicas: string[]): string[] {
    const problems: string[] = [];
    const ids = this.ids;
    const fair = Math.ceil(ids.length / replicas.length);
    const counts = new Map(replicas.map((r) => [r, 0]));
    for (const id of ids) {
      const rows = table.owners.filter((o) => o.janus_id === id);
      if (rows.length !== 1) {
        problems.push(`${id}: ${rows.length} rows`);
        continue;
      }
      const row = rows[0]!;
      if (row.state !== 'serving') problems.push(`${id}: ${row.state} (${row.replica})`);
      if (!counts.has(row.replica)) problems.push(`${id}: owned by ${row.replica}, not one of ${replicas.join(',')}`);
      else counts.set(row.replica, counts.get(row.replica)! + 1);
    }
    for (const row of table.owners)
      if (!ids.includes(row.janus_id)) problems.push(`unknown janus_id ${row.janus_id} owned by ${row.replica}`);
    for (const [replica, count] of counts) {
      if (count > fair) problems.push(`${replica} holds ${count} > ${fair}`);
      if (count < 1 && ids.length >= replicas.length) problems.push(`${replica} holds none`);
    }
    return problems;
  }

  /** Connections per replica (state serving) in a table. */
  static counts(table: OwnersTable): Map<string, number> {
    const counts = new Map<string, number>();
    for (const row of table.owners)
      if (row.state === 'serving') counts.set(row.replica, (counts.get(row.replica) ?? 0) + 1);
    return counts;
  }

  static describeCounts(table: OwnersTable): string {
    return [...HaCluster.counts(table).entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([r, n]) => `${r}:${n}`)
      .join(' ');
  }

  /**
   * Polls admin.owners until the table is balanced over exactly `replicas` (see
   * ownershipProblems) and stays so, with the same owner for every id, for stableMs: a
   * settled state, not a moment of a rebalance still going on. Fails early when one of
   * them exited. Returns the table, and when the settled state began (epoch ms, and ms after the call).
   */
  async waitBalanced(
    replicas: string[],
    timeoutMs = 30_000,
    stableMs = 1000,
  ): Promise<{ table: OwnersTable; ms: number; at: number }> {
    const started = Date.now();
    let last: string;
    let settled: { since: number; assignment: string } | undefined;
    for (;;) {
      for (const id of replicas) {
        const replica = this.replicas.get(id);
        if (!replica?.running)
          throw new Error(
            `waiting for balance over ${replicas.join(',')}: ` +
              `${replica ? replica.describeExit() : `${id} never started`}\n${replica?.output() ?? ''}`,
          );
      }
      const polled = Date.now();
      try {
        const table = await this.owners(1000);
        const problems = this.ownershipProblems(table, replicas);
        if (problems.length === 0) {
          const assignment = JSON.stringify(table.owners.map((o) => [o.janus_id, o.instance]).sort());
          if (settled?.assignment !== assignment) settled = { since: polled, assignment };
          if (Date.now() - settled.since >= stableMs) return { table, ms: settled.since - started, at: settled.since };
          last =
            `balanced since ${Date.now() - settled.since} ms, not yet ${stableMs} ms | ` +
            `${HaCluster.describeCounts(table)}`;
        } else {
          settled = undefined;
          last =
            `${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (+${problems.length - 8})` : ''} | ` +
            `${HaCluster.describeCounts(table)}`;
        }
      } catch (err) {
        settled = undefined;
        last = `admin.owners: ${describeError(err)}`;
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`not balanced over ${replicas.join(',')} within ${timeoutMs} ms: ${last}`);
      await sleep(100);
    }
  }

  /**
   * Ownership moves in [from, to) from the logs: `serving` lines (takes, first ones
   * included) and `stopped serving` lines that were hand-overs.
   */
  moves(from: number, to = Date.now()): { takes: number; handOvers: number } {
    const within = (l: LogLine): boolean => l.time >= from && l.time < to;
    return {
      takes: this.logs.filter((l) => l.msg === 'serving' && within(l)).length,
      handOvers: this.logs.filter(
        (l) => l.msg === 'stopped serving' && within(l) && /^handed over/.test(String(l.fields.reason ?? '')),
      ).length,
    };
  }

  /** The fewest takes that turn ownership `before` into `after`: what each replica gained, summed. */
  static fewestMoves(before: OwnersTable | undefined, after: OwnersTable): number {
    const had = before ? HaCluster.counts(before) : new Map<string, number>();
    return [...HaCluster.counts(after)].reduce(
      (sum, [replica, n]) => sum + Math.max(0, n - (had.get(replica) ?? 0)),
      0,
    );
  }

  /** Writes every replica's log lines (as parsed, one JSON object a line) into dir/<replica>.log. */
  dumpLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const replica of this.replicas.keys()) {
      const lines = this.logs
        .filter((l) => l.replica === replica)
        .map((l) => JSON.stringify({ generation: l.generation, ...l.fields }));
      writeFileSync(join(dir, `${replica}.log`), lines.join('\n') + '\n');
    }
  }

  /** Everything, in reverse order of start; safe to call twice and after a failed start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.allSettled([...this.replicas.values()].map((r) => r.kill()));
    this.status?.stop();
    await Promise.allSettled(this.clients.map((c) => c.close()));
    await Promise.allSettled(this.proxies.map((p) => p.stop()));
    await Promise.allSettled(this.janus.map((j) => j.stop()));
    await this.nats?.stop();
    await this.natsCluster?.stop();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }

  private tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }
}

export function describeError(err: unknown): string {
  if (err instanceof NatsError)
    return `NATS ${err.code}${err.message && err.message !== err.code ? ` (${err.message})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

// ---- who served what, from the logs ----

export interface ServingInterval {
  janusId: string;
  replica: string;
  generation: number;
  from: number;
  /** Epoch ms; for an interval still open, the time of the analysis. */
  to: number;
  /** How it ended: a `stopped serving` line (with its reason), the process's exit, or still open. */
  end: { kind: 'log'; reason: string } | { kind: 'exit'; how: string } | { kind: 'open' };
}

/**
 * Intervals during which a replica process said it served a janus_id: from its `serving`
 * line to its `stopped serving` line, or to the process's exit (a SIGKILL writes no line).
 */
export function servingIntervals(logs: LogLine[], lifetimes: Lifetime[], now = Date.now()): ServingInterval[] {
  const open = new Map<string, { line: LogLine }>();
  const intervals: ServingInterval[] = [];
  const key = (l: LogLine): string => `${l.replica}#${l.generation}#${String(l.fields.janus_id)}`;
  for (const line of [...logs].sort((a, b) => a.time - b.time)) {
    if (typeof line.fields.janus_id !== 'string') continue;
    if (line.msg === 'serving') {
      if (!open.has(key(line))) open.set(key(line), { line });
    } else if (line.msg === 'stopped serving') {
      const started = open.get(key(line));
      if (!started) continue;
      open.delete(key(line));
      intervals.push({
        janusId: line.fields.janus_id,
        replica: line.replica,
        generation: line.generation,
        from: started.line.time,
        to: line.time,
        end: { kind: 'log', reason: String(line.fields.reason ?? '') },
      });
    }
  }
  for (const { line } of open.values()) {
    const life = lifetimes.find((l) => l.replica === line.replica && l.generation === line.generation);
    const exited = life?.exitedAt;
    intervals.push({
      janusId: String(line.fields.janus_id),
      replica: line.replica,
      generation: line.generation,
      from: line.time,
      to: exited ?? now,
      end:
        exited !== undefined
          ? { kind: 'exit', how: life?.signal ? `signal ${life.signal}` : `code ${life?.exitCode}` }
          : { kind: 'open' },
    });
  }
  return intervals;
}

export interface Overlap {
  janusId: string;
  first: ServingInterval;
  second: ServingInterval;
  ms: number;
}

/** Pairs of intervals of different processes serving one janus_id at the same time. */
export function servingOverlaps(intervals: ServingInterval[]): Overlap[] {
  const overlaps: Overlap[] = [];
  const byId = new Map<string, ServingInterval[]>();
  for (const i of intervals) byId.set(i.janusId, [...(byId.get(i.janusId) ?? []), i]);
  for (const [janusId, list] of byId) {
    list.sort((a, b) => a.from - b.from);
    for (let a = 0; a < list.length; a++) {
      for (let b = a + 1; b < list.length; b++) {
        const first = list[a]!;
        const second = list[b]!;
        if (first.replica === second.replica && first.generation === second.generation) continue;
        const ms = Math.min(first.to, second.to) - Math.max(first.from, second.from);
        if (ms > 0) overlaps.push({ janusId, first, second, ms });
      }
    }
  }
  return overlaps;
}

export function describeInterval(i: ServingInterval, origin = 0): string {
  const end =
    i.end.kind === 'log' ? `stopped (${i.end.reason})` : i.end.kind === 'exit' ? `process exit (${i.end.how})` : 'open';
  return `${i.replica}#${i.generation} ${i.from - origin}..${i.to - origin} ms ${end}`;
}

// ---- load ----

export interface LoadTarget {
  janusId: string;
  handleId: number;
}

export interface LoadFailure {
  /** Epoch ms when the request was sent. */
  at: number;
  janusId: string;
  verb: string;
  reason: string;
  ms: number;
  /** The generator's label (e.g. which node its client started on). */
  source?: string;
}

/** A request that got its right answer: when it was sent, for which id. */
export interface LoadAnswer {
  at: number;
  janusId: string;
}

export interface LoadReport {
  sent: number;
  answered: number;
  failed: LoadFailure[];
  durationMs: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const VERBS = ['ping', 'info', 'message'] as const;
export type LoadVerb = (typeof VERBS)[number];

/**
 * Requests at a fixed rate, cycling ping, info and an async echotest `message` over every
 * target (request k goes to target k mod n, verb (k div n) mod 3; `verbs` narrows the cycle,
 * e.g. to `message` alone). A failure is a NATS error (no responders, timeout), a reply
 * carrying Nats-Service-Error headers, a Janus `error`, or any answer that is not the one that
 * request must get. Every right answer is kept too (when its request was sent), for the gaps.
 */
export class LoadGenerator {
  private readonly latencies: number[] = [];
  readonly failures: LoadFailure[] = [];
  readonly answers: LoadAnswer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private stoppedAt = 0;
  private sent = 0;
  private answered = 0;
  private readonly runId = Math.random().toString(36).slice(2, 8);

  constructor(
    private readonly client: { readonly nc: NatsConnection },
    private readonly prefix: string,
    private readonly targets: LoadTarget[],
    private readonly options: { rate?: number; timeoutMs?: number; verbs?: readonly LoadVerb[]; label?: string } = {},
  ) {
    if (targets.length === 0) throw new Error('no load targets');
  }

  get rate(): number {
    return this.options.rate ?? 200;
  }

  start(): void {
    this.startedAt = Date.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.startedAt) * this.rate) / 1000);
      while (this.sent < due) this.fire(this.sent++);
    }, 5);
  }

  /** Stops sending, waits for every request in flight, and reports. */
  async stop(): Promise<LoadReport> {
    clearInterval(this.timer);
    this.stoppedAt = Date.now();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    return this.report();
  }

  report(): LoadReport {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const pct = (p: number): number =>
      sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
    return {
      sent: this.sent,
      answered: this.answered,
      failed: [...this.failures],
      durationMs: (this.stoppedAt || Date.now()) - this.startedAt,
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    };
  }

  private fire(k: number): void {
    const target = this.targets[k % this.targets.length]!;
    const verbs = this.options.verbs ?? VERBS;
    const verb = verbs[Math.floor(k / this.targets.length) % verbs.length]!;
    const transaction = `load-${this.runId}-${k}`;
    const body =
      verb === 'message'
        ? { janus: 'message', handle_id: target.handleId, transaction, body: { audio: true } }
        : { janus: verb, transaction };
    const at = Date.now();
    const started = performance.now();
    const fail = (reason: string): void => {
      this.failures.push({
        at,
        janusId: target.janusId,
        verb,
        reason,
        ms: Math.round(performance.now() - started),
        ...(this.options.label !== undefined ? { source: this.options.label } : {}),
      });
    };
    const request = (async () => {
      try {
        const msg = await this.client.nc.request(`${this.prefix}.request.${target.janusId}`, JSON.stringify(body), {
          timeout: this.options.timeoutMs ?? 5000,
        });
        const ms = performance.now() - started;
        this.answered++;
        const code = msg.headers?.get('Nats-Service-Error-Code') ?? '';
        let reply: Record<string, unknown>;
        try {
          reply = JSON.parse(msg.string()) as Record<string, unknown>;
        } catch {
          fail(`not JSON: ${msg.string().slice(0, 200)}`);
          return;
        }
        if (code !== '')
          return fail(
            `Nats-Service-Error ${code} ${msg.headers?.get('Nats-Service-Error') ?? ''}: ` +
              `${JSON.stringify(reply).slice(0, 200)}`,
          );
        if (reply.janus === 'error') return fail(`Janus error ${JSON.stringify(reply.error)}`);
        const expected = verb === 'ping' ? 'pong' : verb === 'info' ? 'server_info' : 'event';
        if (reply.janus !== expected)
          return fail(`answered ${String(reply.janus)}, expected ${expected}: ${JSON.stringify(reply).slice(0, 200)}`);
        if (reply.transaction !== transaction)
          return fail(`transaction ${String(reply.transaction)}, expected ${transaction}`);
        if (verb === 'message') {
          const plugin = (reply.plugindata as { plugin?: string } | undefined)?.plugin;
          if (reply.sender !== target.handleId || plugin !== 'janus.plugin.echotest')
            return fail(`event of sender ${String(reply.sender)} plugin ${plugin}, expected handle ${target.handleId}`);
        }
        this.latencies.push(ms);
        this.answers.push({ at, janusId: target.janusId });
      } catch (err) {
        fail(describeError(err));
      }
    })();
    this.inFlight.add(request);
    void request.finally(() => this.inFlight.delete(request));
  }
}

/** "12,340" */
export const count = (n: number): string => n.toLocaleString('en-US');
/** "4.1 ms" */
export const millis = (n: number): string => `${n.toFixed(1)} ms`;

/** Failures grouped by reason, for messages: "NATS 503 ×12 (j1-1,j1-2); ...". */
export function summarizeFailures(failures: LoadFailure[], origin?: number): string {
  const groups = new Map<string, LoadFailure[]>();
  for (const f of failures) {
    const reason = f.reason.replace(/load-\w+-\d+/g, 'load-…');
    groups.set(reason, [...(groups.get(reason) ?? []), f]);
  }
  return [...groups.entries()]
    .map(([reason, list]) => {
      const ids = [...new Set(list.map((f) => f.janusId))].join(',');
      const when =
        origin !== undefined ? ` at +${list[0]!.at - origin}..+${list[list.length - 1]!.at - origin} ms` : '';
      return `${reason} ×${list.length} (${ids})${when}`;
    })
    .join('; ');
}

// ---- events: what the bridge published, and what its event stream stored ----

/** One event the bridge published, by its Nats-Msg-Id. */
export interface SeenEvent {
  msgId: string;
  janusId: string;
  /** Janus-Transaction (a plugin event answering a fire-and-forget message carries the client's). */
  transaction: string | undefined;
  /** Epoch ms of the first sighting. */
  at: number;
  /** Sightings: a publish retried after a lost acknowledgement is seen again, with the same id. */
  sightings: number;
}

/**
 * Core NATS subscribers on `<prefix>.event.>`, one pinned to each node of the cluster (only
 * that node, reconnecting to it after a restart): a JetStream publish is a core message
 * too, delivered to the subscribers of the node it reaches, so together they see every
 * event a replica handed to NATS, retries included, whatever its node.
 */
export class EventWatch {
  readonly seen = new Map<string, SeenEvent>();
  private readonly connections: NatsConnection[] = [];

  private constructor(private readonly prefix: string) {}

  static async start(urls: string[], prefix: string): Promise<EventWatch> {
    const watch = new EventWatch(prefix);
    try {
      for (const url of urls) {
        const nc = await connect({
          servers: [url],
          ignoreClusterUpdates: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          name: 'event-watch',
        });
        watch.connections.push(nc);
        nc.subscribe(`${prefix}.event.>`, {
          callback: (err, msg) => {
            if (!err) watch.note(msg);
          },
        });
        await nc.flush();
      }
    } catch (err) {
      await watch.stop();
      throw err;
    }
    return watch;
  }

  private note(msg: Msg): void {
    const msgId = msg.headers?.get('Nats-Msg-Id') ?? '';
    if (!msgId) return;
    const known = this.seen.get(msgId);
    if (known) {
      known.sightings++;
      return;
    }
    this.seen.set(msgId, {
      msgId,
      janusId: msg.headers?.get('Janus-Id') ?? '',
      transaction: msg.headers?.get('Janus-Transaction') || undefined,
      at: Date.now(),
      sightings: 1,
    });
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.connections.map((nc) => nc.close()));
  }
}

/** One message of the event stream, headers only. */
export interface StoredEvent {
  seq: number;
  msgId: string;
  janusId: string;
  transaction: string | undefined;
}

/** Every message of `stream` (headers only), read with an ordered consumer up to its last sequence now. */
export async function readStoredEvents(nc: NatsConnection, stream: string, timeoutMs = 20_000): Promise<StoredEvent[]> {
  const info = await streamClusterInfo(nc, stream, 2000);
  if (!info) throw new Error(`stream ${stream}: no info (no leader?)`);
  const stored: StoredEvent[] = [];
  if (info.messages === 0) return stored;
  const consumer = await nc.jetstream().consumers.get(stream, { headers_only: true });
  const messages = await consumer.consume({ max_messages: 1000 });
  const timer = setTimeout(() => void messages.close(), timeoutMs);
  try {
    for await (const msg of messages) {
      stored.push({
        seq: msg.seq,
        msgId: msg.headers?.get('Nats-Msg-Id') ?? '',
        janusId: msg.headers?.get('Janus-Id') ?? '',
        transaction: msg.headers?.get('Janus-Transaction') || undefined,
      });
      if (msg.seq >= info.lastSeq) break;
    }
  } finally {
    clearTimeout(timer);
    await messages.close();
  }
  if (stored.length === 0 || stored[stored.length - 1]!.seq < info.lastSeq)
    throw new Error(
      `stream ${stream}: read up to ${stored.at(-1)?.seq ?? 0} of ${info.lastSeq} within ${timeoutMs} ms`,
    );
  return stored;
}

/**
 * A fire-and-forget echotest message sent by EventSource: Janus answers it with a plugin event
 * carrying its transaction.
 */
export interface SentEvent {
  at: number;
  janusId: string;
  transaction: string;
}

/**
 * Fire-and-forget echotest `message`s (no reply subject) at a fixed rate over the attached
 * handles: each one that reaches Janus comes back as one plugin event on the event subject,
 * with its transaction, which the event stream must store once.
 */
export class EventSource {
  readonly sent: SentEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly runId = Math.random().toString(36).slice(2, 8);

  constructor(
    private readonly client: { readonly nc: NatsConnection },
    private readonly prefix: string,
    private readonly targets: LoadTarget[],
    private readonly rate = 20,
  ) {}

  start(): void {
    const startedAt = Date.now();
    const base = this.sent.length;
    let k = base;
    this.timer = setInterval(() => {
      const due = base + Math.floor(((Date.now() - startedAt) * this.rate) / 1000);
      for (; k < due; k++) {
        const target = this.targets[k % this.targets.length]!;
        const transaction = `ev-${this.runId}-${k}`;
        if (this.client.nc.isClosed()) return;
        this.sent.push({ at: Date.now(), janusId: target.janusId, transaction });
        this.client.nc.publish(
          `${this.prefix}.request.${target.janusId}`,
          JSON.stringify({ janus: 'message', handle_id: target.handleId, transaction, body: { audio: true } }),
        );
      }
    }, 20);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Which node a test client is on over time, from its own status events (it starts on the
 * node newClient placed it on); undefined while it is disconnected.
 */
export class ClientNodes {
  readonly spans: Array<{ from: number; to: number | undefined; node: number | undefined }> = [];

  constructor(
    private readonly cluster: HaCluster,
    client: { readonly nc: NatsConnection },
  ) {
    this.spans.push({ from: Date.now(), to: undefined, node: cluster.nodeOfClient(client) });
    void (async () => {
      for await (const status of client.nc.status()) {
        if (status.type === 'disconnect') this.move(undefined);
        else if (status.type === 'reconnect')
          this.move(cluster.nodeOfServer(typeof status.data === 'string' ? status.data : client.nc.getServer()));
      }
    })().catch(() => undefined);
  }

  private move(node: number | undefined): void {
    const now = Date.now();
    const last = this.spans[this.spans.length - 1]!;
    last.to = now;
    this.spans.push({ from: now, to: undefined, node });
  }

  /** The spans overlapping [from, to]. */
  during(from: number, to: number): Array<{ from: number; to: number; node: number | undefined }> {
    return this.spans
      .map((s) => ({ from: s.from, to: s.to ?? Number.POSITIVE_INFINITY, node: s.node }))
      .filter((s) => s.from <= to && s.to >= from);
  }
}
