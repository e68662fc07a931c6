/**
 * A safety net for "every server a test starts is stopped by the test": each server
 * process is registered for the run, unregistered when it exits, and whatever is still
 * registered when the run ends is killed and reported by the global teardown.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RUN_VARIABLE = 'JNB_TEST_RUN';

function directory(): string | undefined {
  const run = process.env[RUN_VARIABLE];
  return run ? join(tmpdir(), `jnb-test-processes-${run}`) : undefined;
}

export function registerProcess(pid: number, command: string): void {
  const dir = directory();
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, String(pid)), command);
}

export function unregisterProcess(pid: number): void {
  const dir = directory();
  if (dir) rmSync(join(dir, String(pid)), { force: true });
}

/** Kills what is still registered; returns what it found alive, described. */
export function killLeftovers(): string[] {
  const dir = directory();
  if (!dir || !existsSync(dir)) return [];
  const alive: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: false }).map(String)) {
    try {
      process.kill(Number(name), 'SIGKILL');
      alive.push(`${name}: ${readFileSync(join(dir, name), 'utf8')}`);
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return alive;
}
