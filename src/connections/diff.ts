import type { ConnectionSpec } from './spec.js';

export interface ConnectionDiff {
  readonly added: ConnectionSpec[];
  readonly removed: ConnectionSpec[];
  /**
   * Same janus_id, another janus_url (reconnect) or only another janus_admin_url (the Admin API link alone reconnects).
   */
  readonly changed: ConnectionSpec[];
  readonly unchanged: ConnectionSpec[];
}

/** What it takes to go from `current` to `next`; connections are identified by janus_id. */
export function diffConnections(current: Iterable<ConnectionSpec>, next: Iterable<ConnectionSpec>): ConnectionDiff {
  const before = new Map([...current].map((spec) => [spec.janusId, spec]));
  const diff: ConnectionDiff = { added: [], removed: [], changed: [], unchanged: [] };
  const seen = new Set<string>();
  for (const spec of next) {
    seen.add(spec.janusId);
    const old = before.get(spec.janusId);
    if (!old) diff.added.push(spec);
    else if (old.configuredUrl !== spec.configuredUrl || old.configuredAdminUrl !== spec.configuredAdminUrl)
      diff.changed.push(spec);
    else diff.unchanged.push(old);
  }
  for (const [id, spec] of before) if (!seen.has(id)) diff.removed.push(spec);
  return diff;
}

/** A change of the Admin API URL alone: the connection and its session stay, only its Admin API link is replaced. */
export function onlyAdminUrlChanged(old: ConnectionSpec, next: ConnectionSpec): boolean {
  return old.configuredUrl === next.configuredUrl && old.configuredAdminUrl !== next.configuredAdminUrl;
}
