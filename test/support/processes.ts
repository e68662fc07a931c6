/**
 * Server processes for tests: a private nats-server and a Janus from Debian's package,
 * each on free loopback ports, each stopped by the test that started it. When global
 * setup chose containers (environment.ts), startNats/startJanus start them with
 * testcontainers instead (containers.ts), with the same interface.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { selected } from './environment.js';
import { registerProcess, unregisterProcess } from './leftovers.js';

/** The repository root, found from wherever this file was compiled to (tests, bench). */
export const REPO = findRepoRoot(import.meta.dirname);

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'scripts/janus-local.sh'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}

/**
 * Ports for test servers come from below the kernel's ephemeral range (32768 and up), so that
 * no outgoing connection's local port takes one between its choice and the server's bind, and
 * each test worker draws from its own slice, so that two files never choose the same one.
 */
const PORT_FLOOR = 20_000;
const PORTS_PER_WORKER = 500;
const PORT_SLICES = 25;
const portSlice = (Number(process.env.VITEST_POOL_ID) || 0) % PORT_SLICES;
let portTurn = Math.floor(Math.random() * PORTS_PER_WORKER);

export async function freePort(): Promise<number> {
  for (let tried = 0; tried < PORTS_PER_WORKER; tried++) {
    const port = PORT_FLOOR + portSlice * PORTS_PER_WORKER + (portTurn++ % PORTS_PER_WORKER);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port among the ${PORTS_PER_WORKER} of this test worker (slice ${portSlice})`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => done(true)));
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((done) => {
      const socket = tcpConnect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A server a test controls, as a local process or as a container. */
export interface ServerHandle {
  /** The server's pid on this machine (a container's main process included). */
  readonly pid: number;
  /** SIGSTOP / SIGCONT: a frozen server keeps its sockets open but answers nothing. */
  pause(): void;
  resume(): void;
  /** SIGKILL, waiting until the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs (5 s); resolves with the ms it took to exit. */
  stop(graceMs?: number): Promise<number>;
  output(): string;
}

export interface ManagedProcess extends ServerHandle {
  readonly child: ChildProcess;
}

export function manage(child: ChildProcess, keep = 200_000): ManagedProcess {
  registerProcess(child.pid!, child.spawnargs.slice(0, 6).join(' '));
  child.once('exit', () => unregisterProcess(child.pid!));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-keep);
  });
  child.stderr?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-keep);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    pid: child.pid!,
    child,
    pause: () => {
      child.kill('SIGSTOP');
      untilStopped(child.pid!);
    },
    resume: () => child.kill('SIGCONT'),
    kill: async () => {
      if (gone()) return;
      // No SIGCONT first: a frozen process must die without running another instruction.
      child.kill('SIGKILL');
      await exited;
    },
    stop: async (graceMs = 5_000) => {
      const started = Date.now();
      if (gone()) return 0;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      return Date.now() - started;
    },
    output: () => out,
  };
}

/**
 * kill() returns once the signal is queued; each thread stops when it next runs. Janus answered a
 * request sent right after SIGSTOP (5 ms later, on a loaded machine): wait until every thread
 * shows state T in /proc (at most a second; a process that is gone counts as stopped).
 */
function untilStopped(pid: number): void {
  const until = Date.now() + 1000;
  const stopped = (stat: string): boolean => stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  while (Date.now() < until) {
    try {
      const tasks = readdirSync(`/proc/${pid}/task`);
      if (tasks.every((task) => stopped(readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8')))) return;
    } catch {
      return;
    }
  }
}

export interface NatsServer extends ServerHandle {
  readonly port: number;
  readonly url: string;
  /** Starts a new server on the same port (after kill/stop). */
  restart(): Promise<NatsServer>;
}

/** A private nats-server; `args` adds flags (auth, TLS) and is kept for restarts. */
export async function startNats(port?: number, args: string[] = []): Promise<NatsServer> {
  if (selected() === 'containers') return (await import('./containers.js')).startNats(port, args);
  const chosen = port ?? (await freePort());
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(chosen), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const managed = manage(child);
  try {
    await waitForPort(chosen);
  } catch (err) {
    await managed.kill();
    throw new Error(`nats-server did not start: ${(err as Error).message}\n${managed.output().slice(-2000)}`, {
      cause: err,
    });
  }
  const scheme = args.includes('--tls') ? 'tls' : 'nats';
  return { ...managed, port: chosen, url: `${scheme}://127.0.0.1:${chosen}`, restart: () => startNats(chosen, args) };
}

export interface JanusServer extends ServerHandle {
  readonly wsPort: number;
  readonly adminPort: number;
  /** The OpenSIPS form of the URL, as users write it. */
  readonly url: string;
  readonly adminUrl: string;
  /** Starts a new Janus on the same ports and flags (after kill/stop). */
  restart(): Promise<JanusServer>;
}

export interface JanusOptions {
  /** janus -s: seconds without a keepalive before Janus expires a session. */
  sessionTimeout?: number;
  /** janus -m: seconds a session outlives its closed transport. */
  reclaimTimeout?: number;
  /** janus -a: the API secret every session request must carry. */
  apiSecret?: string;
  wsPort?: number;
  adminPort?: number;
  /**
   * Janus's WebSocket event handler (wsevh) sends every event to this URL, e.g.
   * ws://127.0.0.1:<port>/<janus_id>; off when absent (local processes only).
   */
  eventHandlerBackend?: string;
  /** wsevh's `grouping` (Janus's default: true, a JSON array per message). */
  eventHandlerGrouping?: boolean;
}

/** The environment janus-local.sh reads for the event handler, when one is asked for. */
function eventHandlerEnv(options: JanusOptions): NodeJS.ProcessEnv | undefined {
  if (options.eventHandlerBackend === undefined) return undefined;
  return {
    ...process.env,
    JANUS_EVH_BACKEND: options.eventHandlerBackend,
    ...(options.eventHandlerGrouping !== undefined ? { JANUS_EVH_GROUPING: String(options.eventHandlerGrouping) } : {}),
  };
}

/** The janus command-line flags for `options` (local processes and containers alike). */
export function janusFlags(options: JanusOptions): string[] {
  const flags: string[] = [];
  if (options.sessionTimeout !== undefined) flags.push('-s', String(options.sessionTimeout));
  if (options.reclaimTimeout !== undefined) flags.push('-m', String(options.reclaimTimeout));
  if (options.apiSecret !== undefined) flags.push('-a', options.apiSecret);
  return flags;
}

/**
 * Whether process `pid` has a TCP socket listening on 127.0.0.1:`port` (Linux: /proc/net/tcp,
 * the socket's inode among the process's descriptors). False when another process has it.
 */
export function listensOn(pid: number, port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // local_address, state 0A (LISTEN), inode
    if (fields[1] === local && fields[3] === '0A') inodes.add(fields[9]!);
  }
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // the process is gone
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) return true;
  }
  return false;
}

/** Tries at a Janus on ports found free: another test's server may bind one between the check and Janus's bind. */
const JANUS_START_ATTEMPTS = 3;

export async function startJanus(options: JanusOptions = {}): Promise<JanusServer> {
  if (selected() === 'containers') {
    // A container's Janus would dial its own loopback, not the test's endpoint.
    if (options.eventHandlerBackend !== undefined) throw new Error('eventHandlerBackend: local Janus processes only');
    return (await import('./containers.js')).startJanus(options);
  }
  const portsGiven = options.wsPort !== undefined || options.adminPort !== undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLocalJanus(options);
    } catch (err) {
      if (!(err instanceof PortTaken) || portsGiven || attempt >= JANUS_START_ATTEMPTS) throw err;
    }
  }
}

class PortTaken extends Error {}

async function startLocalJanus(options: JanusOptions): Promise<JanusServer> {
  const wsPort = options.wsPort ?? (await freePort());
  const adminPort = options.adminPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'janus-test-'));
  const flags = janusFlags(options);
  const env = eventHandlerEnv(options);
  const child = spawn(
    'bash',
    [join(REPO, 'scripts/janus-local.sh'), dir, String(wsPort), String(adminPort), ...flags],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env ? { env } : {}),
    },
  );
  const managed = manage(child);
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  try {
    await waitForPort(wsPort, 15_000);
    await waitForPort(adminPort, 5_000);
  } catch (err) {
    await managed.kill();
    throw new Error(`Janus did not start: ${(err as Error).message}\n${managed.output().slice(-2000)}`, { cause: err });
  }
  // Something listens on both ports: Janus, or another test's server that took one first (Janus runs without it then).
  const taken = [wsPort, adminPort].filter((port) => !listensOn(child.pid!, port));
  if (taken.length > 0) {
    await managed.kill();
    throw new PortTaken(`Janus did not get port ${taken.join(', ')}: another process listens there`);
  }
  return {
    ...managed,
    wsPort,
    adminPort,
    url: `janusws://127.0.0.1:${wsPort}/janus`,
    adminUrl: `ws://127.0.0.1:${adminPort}/admin`,
    restart: () => startJanus({ ...options, wsPort, adminPort }),
  };
}
