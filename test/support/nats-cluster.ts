/**
 * A NATS cluster on loopback for tests and the benchmark: `size` nats-server processes with
 * routes between them, each on its own free client and route ports, with JetStream and a
 * store directory of its own when asked. Every node is stopped by `stop()`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, manage, waitForPort, type ServerHandle } from './processes.js';

export interface ClusterNode extends ServerHandle {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly routePort: number;
  /** Starts this node again on the same ports and store (after kill/stop). */
  restart(): Promise<ClusterNode>;
}

export interface NatsCluster {
  readonly nodes: ClusterNode[];
  /** Every node's client URL. */
  readonly urls: string[];
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly size?: number;
  readonly jetstream?: boolean;
}

export async function startNatsCluster(options: ClusterOptions = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const clusterName = `jnb-${process.pid}-${Date.now().toString(36)}`;
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(',');
  const stores: string[] = [];
  const startNode = async (index: number): Promise<ClusterNode> => {
    const { client, route } = ports[index]!;
    const name = `${clusterName}-n${index + 1}`;
    const args = ['-a', '127.0.0.1', '-p', String(client), '-n', name, '--cluster_name', clusterName,
      '-cluster', `nats://127.0.0.1:${route}`, '-routes', routes];
    if (options.jetstream) {
      stores[index] ??= mkdtempSync(join(tmpdir(), `jnb-nats-${index + 1}-`));
      args.push('-js', '-sd', stores[index]!);
    }
    const managed = manage(spawn('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await waitForPort(client);
    } catch (err) {
      await managed.kill();
      throw new Error(`cluster node ${name} did not start: ${(err as Error).message}\n${managed.output().slice(-2000)}`);
    }
    const node: ClusterNode = { ...managed, name, port: client, url: `nats://127.0.0.1:${client}`, routePort: route, restart: async () => (nodes[index] = await startNode(index)) };
    return node;
  };
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < size; i++) nodes.push(await startNode(i));
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      for (const dir of stores) if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
