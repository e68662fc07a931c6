/**
 * Picks where the integration tests' services come from and says so once, at the start.
 * Today: local processes (nats-server and Debian's janus, started per test file on free
 * loopback ports) and the PostgreSQL/MariaDB already running on this machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export default function setup(): void {
  const missing = ['janus', 'nats-server'].filter((c) => !has(c));
  if (missing.length) throw new Error(`integration tests need ${missing.join(' and ')} on PATH (make deps installs them)`);
  const docker = existsSync('/var/run/docker.sock') ? 'a Docker socket exists but is not used yet' : 'no Docker engine';
  process.stdout.write(`test environment: local processes (nats-server, janus on free loopback ports; ${docker})\n`);
}
