/**
 * A NATS cluster on loopback for tests and the benchmark: `size` nats-server processes with
 * routes between them, each on its own free client and route ports, with JetStream and a
 * store directory of its own when asked. Every node is stopped by `stop()`.
 *
 * With `routeProxies`, every route goes through a loopback TCP proxy the test controls (one
 * per pair of nodes and direction: node i dials node j through proxy i→j), and each node
 * advertises a cluster address nobody listens on, so that no node learns another's real
 * route port from the gossip and bypasses the proxies with an implicit route. Cutting a
 * node's proxies (both directions) isolates it from the others while it keeps running and
 * keeps its clients: a network partition. `heal` lets the routes through again.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { freePort, manage, waitForPort, type ServerHandle } from './processes.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export interface ClusterNode extends ServerHandle {
  /** The server name (`-n`), as JetStream names it in `cluster.leader` and `cluster.replicas`. */
  readonly name: string;
  readonly index: number;
  readonly port: number;
  readonly url: string;
  readonly routePort: number;
  /** HTTP monitoring port (`-m`: /varz, /routez, /connz, /jsz). */
  readonly monitorPort: number;
  /** Starts this node again on the same ports and store (after kill/stop). */
  restart(): Promise<ClusterNode>;
}

export interface NatsCluster {
  /** The current process of each node (restart() replaces the entry). */
  readonly nodes: ClusterNode[];
  /** Every node's client URL. */
  readonly urls: string[];
  readonly names: string[];
  /** The node index of a server name (as in `cluster.leader`), or -1. */
  indexOf(name: string): number;
  /** Whether node `index`'s process is running. */
  running(index: number): boolean;
  /** SIGKILL of node `index`. */
  kill(index: number): Promise<void>;
  /** SIGTERM of node `index` (a clean shutdown); resolves with the ms it took. */
  shutdown(index: number): Promise<number>;
  /** Starts node `index` again on its ports and store. */
  restart(index: number): Promise<ClusterNode>;
  /** Cuts every route between node `index` and the others (routeProxies only); the node keeps running. */
  isolate(index: number): Promise<void>;
  /** Lets node `index`'s routes through again. */
  heal(index: number): Promise<void>;
  /** Routes node `index` has now, from its /routez (the names of the nodes at the other end). */
  routes(index: number): Promise<string[]>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly size?: number;
  readonly jetstream?: boolean;
  /** Routes through TCP proxies, so that a node can be isolated and healed (see above). */
  readonly routeProxies?: boolean;
}

/** `count` distinct ports, from this test worker's slice (freePort: below the ephemeral range, each checked). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}

export async function startNatsCluster(options: ClusterOptions = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const clusterName = `jnb-${process.pid}-${Date.now().toString(36)}`;
  const free = await distinctFreePorts(3 * size);
  const ports = Array.from({ length: size }, (_, i) => ({
    client: free[3 * i]!,
    route: free[3 * i + 1]!,
    monitor: free[3 * i + 2]!,
  }));
  /** proxies[i][j]: node i's route to node j. */
  const proxies: Array<Array<TcpProxy | undefined>> = Array.from({ length: size }, () =>
    Array.from({ length: size }, () => undefined),
  );
  const proxyList: Array<{ from: number; to: number; proxy: TcpProxy }> = [];
  if (options.routeProxies) {
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        if (i === j) continue;
        // A proxy's own port is any free one: not one handed to a node above (free again until the node binds it).
        let proxy = await startTcpProxy(ports[j]!.route);
        while (free.includes(proxy.port)) {
          const taken = proxy;
          proxy = await startTcpProxy(ports[j]!.route);
          await taken.stop();
        }
        proxies[i]![j] = proxy;
        proxyList.push({ from: i, to: j, proxy });
      }
    }
  }
  // Without proxies every node is given every route (its own is ignored); with them, its own proxies to the others.
  const routesOf = (index: number): string =>
    (options.routeProxies
      ? ports.flatMap((_, j) => (j === index ? [] : [`nats://127.0.0.1:${proxies[index]![j]!.port}`]))
      : ports.map((p) => `nats://127.0.0.1:${p.route}`)
    ).join(',');
  // An address nobody listens on (port 1 needs root): gossiped route addresses lead nowhere.
  const nowhere = '127.0.0.1:1';
  const stores: string[] = [];
  const names = ports.map((_, index) => `${clusterName}-n${index + 1}`);
  const nodes: ClusterNode[] = [];
  const startNode = async (index: number): Promise<ClusterNode> => {
    const { client, route, monitor } = ports[index]!;
    const name = names[index]!;
    const args = [
      '-a',
      '127.0.0.1',
      '-p',
      String(client),
      '-m',
      String(monitor),
      '-n',
      name,
      '--cluster_name',
      clusterName,
      '-cluster',
      `nats://127.0.0.1:${route}`,
      '-routes',
      routesOf(index),
    ];
    if (options.routeProxies) args.push('--cluster_advertise', nowhere);
    if (options.jetstream) {
      stores[index] ??= mkdtempSync(join(tmpdir(), `jnb-nats-${index + 1}-`));
      args.push('-js', '-sd', stores[index]!);
    }
    const managed = manage(spawn('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await waitForPort(client);
    } catch (err) {
      await managed.kill();
      throw new Error(
        `cluster node ${name} did not start: ${(err as Error).message}\n${managed.output().slice(-2000)}`,
        { cause: err },
      );
    }
    const node: ClusterNode = {
      ...managed,
      name,
      index,
      port: client,
      url: `nats://127.0.0.1:${client}`,
      routePort: route,
      monitorPort: monitor,
      restart: async () => (nodes[index] = await startNode(index)),
    };
    return node;
  };
  const exited = new Set<number>();
  const track = (node: ClusterNode): ClusterNode => {
    exited.delete(node.index);
    (node as unknown as { child: { once(e: string, f: () => void): void } }).child.once('exit', () => {
      if (nodes[node.index] === node) exited.add(node.index);
    });
    return node;
  };
  const setProxies = async (index: number, open: boolean): Promise<void> => {
    if (!options.routeProxies) throw new Error('isolate/heal need routeProxies');
    const affected = proxyList.filter((p) => p.from === index || p.to === index).map((p) => p.proxy);
    await Promise.all(affected.map((p) => (open ? p.open() : p.cut())));
  };
  try {
    for (let i = 0; i < size; i++) nodes.push(track(await startNode(i)));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.kill()));
    await Promise.all(proxyList.map((p) => p.proxy.stop()));
    throw err;
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    names,
    indexOf: (name) => names.indexOf(name),
    running: (index) => !exited.has(index),
    kill: async (index) => {
      await nodes[index]!.kill();
      exited.add(index);
    },
    shutdown: async (index) => {
      const ms = await nodes[index]!.stop(10_000);
      exited.add(index);
      return ms;
    },
    restart: async (index) => {
      if (!exited.has(index)) throw new Error(`node ${names[index]} is running`);
      return track(await nodes[index]!.restart());
    },
    isolate: (index) => setProxies(index, false),
    heal: (index) => setProxies(index, true),
    routes: async (index) => {
      const response = await fetch(`http://127.0.0.1:${ports[index]!.monitor}/routez`, {
        signal: AbortSignal.timeout(2000),
      });
      const body = (await response.json()) as { routes?: Array<{ remote_id: string; remote_name?: string }> };
      return (body.routes ?? []).map((r) => r.remote_name ?? r.remote_id).sort();
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await Promise.all(proxyList.map((p) => p.proxy.stop()));
      for (const dir of stores) if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- JetStream in a cluster ----

export interface StreamClusterInfo {
  /** Server name of the leader; undefined while there is none (an election). */
  leader: string | undefined;
  /** Every peer, the leader included, with whether it is current. */
  peers: Array<{ name: string; current: boolean; leader: boolean }>;
  replicas: number;
  messages: number;
  lastSeq: number;
}

/**
 * `$JS.API.STREAM.INFO.<stream>` asked as a plain request (so that an answer without a
 * leader, or none, is an answer and not an exception): who leads, who follows.
 */
export async function streamClusterInfo(
  nc: NatsConnection,
  stream: string,
  timeoutMs = 1000,
): Promise<StreamClusterInfo | undefined> {
  try {
    const reply = await nc.request(`$JS.API.STREAM.INFO.${stream}`, new Uint8Array(0), { timeout: timeoutMs });
    const info = JSON.parse(new TextDecoder().decode(reply.data)) as {
      error?: unknown;
      config?: { num_replicas?: number };
      state?: { messages?: number; last_seq?: number };
      cluster?: { leader?: string; replicas?: Array<{ name: string; current?: boolean; offline?: boolean }> };
    };
    if (info.error || !info.config) return undefined;
    const leader = info.cluster?.leader || undefined;
    const peers = [
      ...(leader ? [{ name: leader, current: true, leader: true }] : []),
      ...(info.cluster?.replicas ?? []).map((r) => ({
        name: r.name,
        current: r.current === true && r.offline !== true,
        leader: false,
      })),
    ];
    return {
      leader,
      peers,
      replicas: info.config.num_replicas ?? 1,
      messages: info.state?.messages ?? 0,
      lastSeq: info.state?.last_seq ?? 0,
    };
  } catch {
    return undefined;
  }
}

/** Whether the JetStream meta group has a leader (`$JS.API.INFO` answers without an error). */
export async function jetStreamReady(nc: NatsConnection, timeoutMs = 1000): Promise<boolean> {
  try {
    const reply = await nc.request('$JS.API.INFO', new Uint8Array(0), { timeout: timeoutMs });
    const info = JSON.parse(new TextDecoder().decode(reply.data)) as { error?: unknown };
    return !info.error;
  } catch {
    return false;
  }
}

/** Asks the stream's leader to step down (another peer is elected). */
export async function stepDownStreamLeader(nc: NatsConnection, stream: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const reply = await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, new Uint8Array(0), {
      timeout: timeoutMs,
    });
    const answer = JSON.parse(new TextDecoder().decode(reply.data)) as { success?: boolean };
    return answer.success === true;
  } catch {
    return false;
  }
}

/** A stream's leader as polled at `at`: undefined when the stream answered without one, or did not answer. */
export interface LeaderSample {
  at: number;
  leader: string | undefined;
}

/**
 * Polls `$JS.API.STREAM.INFO` of each stream every `intervalMs`, keeping who led when: the
 * windows without a leader are the elections (or the lost quorum) a test went through.
 */
export class LeaderWatch {
  readonly samples = new Map<string, LeaderSample[]>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly nc: NatsConnection,
    streams: string[],
    intervalMs = 200,
  ) {
    for (const stream of streams) this.samples.set(stream, []);
    this.loop = (async () => {
      while (this.running) {
        await Promise.all(
          streams.map(async (stream) => {
            const info = await streamClusterInfo(this.nc, stream, intervalMs * 2);
            this.samples.get(stream)!.push({ at: Date.now(), leader: info?.leader });
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  /** The leader at the sample nearest before `at` (undefined: none then, or no sample yet). */
  leaderAt(stream: string, at: number): string | undefined {
    const samples = this.samples.get(stream) ?? [];
    let found: LeaderSample | undefined;
    for (const sample of samples) {
      if (sample.at > at) break;
      found = sample;
    }
    return found?.leader;
  }

  /**
   * Spans in [from, to] during which polls found no leader: from the first such poll to the
   * next one that found one.
   */
  leaderless(stream: string, from = 0, to = Date.now()): Array<{ from: number; to: number }> {
    const spans: Array<{ from: number; to: number }> = [];
    let start: number | undefined;
    for (const sample of this.samples.get(stream) ?? []) {
      if (sample.at < from || sample.at > to) continue;
      if (sample.leader === undefined && start === undefined) start = sample.at;
      else if (sample.leader !== undefined && start !== undefined) {
        spans.push({ from: start, to: sample.at });
        start = undefined;
      }
    }
    if (start !== undefined) spans.push({ from: start, to });
    return spans;
  }

  /** Distinct leaders seen in [from, to], in order. */
  leadersDuring(stream: string, from: number, to: number): string[] {
    const leaders: string[] = [];
    for (const sample of this.samples.get(stream) ?? []) {
      if (sample.at < from || sample.at > to || sample.leader === undefined) continue;
      if (leaders[leaders.length - 1] !== sample.leader) leaders.push(sample.leader);
    }
    return leaders;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** A consumer of a stream: its name, where it is pushed (an inbox of some client), and the server that hosts it. */
export interface ConsumerPlace {
  name: string;
  deliverSubject: string | undefined;
  server: string | undefined;
}

/**
 * `$JS.API.CONSUMER.LIST.<stream>`: every consumer of the stream and the server hosting it (an
 * R1 consumer: its only peer).
 */
export async function consumersOf(nc: NatsConnection, stream: string, timeoutMs = 2000): Promise<ConsumerPlace[]> {
  const reply = await nc.request(`$JS.API.CONSUMER.LIST.${stream}`, new TextEncoder().encode('{}'), {
    timeout: timeoutMs,
  });
  const answer = JSON.parse(new TextDecoder().decode(reply.data)) as {
    error?: { description?: string };
    consumers?: Array<{ name: string; config?: { deliver_subject?: string }; cluster?: { leader?: string } }>;
  };
  if (answer.error)
    throw new Error(`consumer list of ${stream}: ${answer.error.description ?? JSON.stringify(answer.error)}`);
  return (answer.consumers ?? []).map((c) => ({
    name: c.name,
    deliverSubject: c.config?.deliver_subject,
    server: c.cluster?.leader,
  }));
}

/** The client connections of a node, from its /connz: name and subscriptions. */
export async function clientsOf(
  cluster: NatsCluster,
  index: number,
): Promise<Array<{ name: string; subscriptions: string[] }>> {
  const response = await fetch(`http://127.0.0.1:${cluster.nodes[index]!.monitorPort}/connz?subs=1&limit=1024`, {
    signal: AbortSignal.timeout(2000),
  });
  const body = (await response.json()) as { connections?: Array<{ name?: string; subscriptions_list?: string[] }> };
  return (body.connections ?? []).map((c) => ({ name: c.name ?? '', subscriptions: c.subscriptions_list ?? [] }));
}
