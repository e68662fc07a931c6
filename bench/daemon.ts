/**
 * The daemon as users run it: `node dist/main.js --config <file>`, in its own process.
 * BENCH_DAEMON_MAIN: another build's main.js (e.g. one of the last commit while src/ does not compile).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manage, REPO, type ManagedProcess as Managed } from '../test/support/processes.js';

export interface DaemonOptions {
  natsUrl: string;
  connections: { janus_id: string; janus_url: string }[];
  /** Directory for `node --cpu-prof`; no profiling when absent. */
  profileDir?: string;
  /** More top-level configuration sections, e.g. `{ events: { stream: { enabled: true } } }`. */
  config?: Record<string, unknown>;
}

export interface DaemonProcess extends Managed {
  readonly spawnedAt: number;
  /** Log lines so far, by level (pino JSON lines on stdout). */
  logCounts(): Record<string, number>;
  logBytes(): number;
  /** The last warn/error/fatal lines (at most 20). */
  problems(): string[];
}

const DAEMON_MAIN = process.env.BENCH_DAEMON_MAIN || join(REPO, 'dist/main.js');

export function startDaemon(options: DaemonOptions): DaemonProcess {
  const dir = mkdtempSync(join(tmpdir(), 'jnb-bench-'));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      nats: { servers: [options.natsUrl] },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
      connections: options.connections,
      ...options.config,
    }),
  );
  const flags = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, [...flags, DAEMON_MAIN, '--config', file], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Only what the config file says: no JNB_* from the caller's environment.
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('JNB_'))),
  });
  const managed = manage(child, 50_000);
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const counts: Record<string, number> = {};
  const problems: string[] = [];
  let bytes = 0;
  let partial = '';
  // BENCH_DAEMON_LOGS=<dir>: each daemon's log lines kept in <dir>/<pid>.log, to see where the time went.
  const keep = process.env.BENCH_DAEMON_LOGS;
  if (keep) mkdirSync(keep, { recursive: true });
  child.stdout!.on('data', (d: Buffer) => {
    if (keep) appendFileSync(join(keep, `${child.pid}.log`), d);
    bytes += d.length;
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const level = /"level":"(\w+)"/.exec(line)?.[1] ?? 'other';
      counts[level] = (counts[level] ?? 0) + 1;
      if (level === 'warn' || level === 'error' || level === 'fatal' || level === 'other') {
        problems.push(line.slice(0, 400));
        if (problems.length > 20) problems.shift();
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    problems.push(`stderr: ${d.toString().slice(0, 400)}`);
    if (problems.length > 20) problems.shift();
  });
  return {
    ...managed,
    spawnedAt,
    logCounts: () => ({ ...counts }),
    logBytes: () => bytes,
    problems: () => [...problems],
  };
}
