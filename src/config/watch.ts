/**
 * Notices that the configuration file changed, the way a Kubernetes ConfigMap update lands:
 * the mounted file is a symlink through `..data`, and the kubelet swaps `..data` to a new
 * directory at once. Polling a stat that follows the links sees every such swap (a watch on
 * the file itself would keep watching the old target); the content decides, so a touch or a
 * swap to identical content is no change.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** What the file holds now, or why it cannot be read. */
export function fingerprint(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (err) {
    return `unreadable: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

export interface ConfigWatch {
  stop(): void;
}

/** Calls `onChange` after each change of `file`'s content, checking every `intervalMs`. */
export function watchConfigFile(file: string, intervalMs: number, onChange: () => void): ConfigWatch {
  let last = fingerprint(file);
  const timer = setInterval(() => {
    const now = fingerprint(file);
    if (now === last) return;
    last = now;
    onChange();
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * The top-level keys whose values differ between two configurations, other than the
 * connection list (which a reload applies): they need a restart. Names only, never values.
 */
export function keysNeedingRestart(running: object, next: object): string[] {
  const changed: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (path === 'connections') return;
    if (
      typeof a === 'object' &&
      a !== null &&
      !Array.isArray(a) &&
      typeof b === 'object' &&
      b !== null &&
      !Array.isArray(b)
    ) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const key of keys)
        walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) changed.push(path);
  };
  walk(running, next, '');
  return changed.sort();
}
