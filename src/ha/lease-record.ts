/**
 * What the ownership bucket holds: one key per janus_id (its lease) and one per live
 * replica (its heartbeat). A lease names its holder (replica and instance) and is written
 * only when it changes hands or state; the holder's heartbeat is what keeps all its leases
 * alive, so the writes a replica makes to stay the owner do not grow with the list.
 * Pure encoding, no I/O.
 */

/** Where a lease is in its life. */
export type LeaseState =
  /** The owner is taking the connection over (connecting, claiming the session). */
  | 'taking'
  /** The owner answers requests for it. */
  | 'serving'
  /** The owner wants to hand it over and still serves it until a taker is serving. */
  | 'releasing'
  /** Nobody serves it; the session id is kept for whoever takes it next. */
  | 'free';

export interface Lease {
  readonly replica: string;
  /** Unique per process: a restarted replica (same replica id) is another instance. */
  readonly instance: string;
  readonly session_id: number | null;
  /** When this owner took it (ISO 8601). */
  readonly since: string;
  readonly state: LeaseState;
  /** The replica this owner took it from (a hand-over or failover), for `owner-changed`. */
  readonly from?: string;
  /**
   * While releasing: the replica the owner hands it to. Others leave it to that one for a
   * moment (see designated-taker.ts); an older release ignores it and may take it at once.
   */
  readonly to?: string;
  /**
   * Version 1 leases (written by releases before heartbeat upkeep) live while renewed within
   * `ttl_ms`. Version 2 leases live while their holder's heartbeat does; they carry a
   * `ttl_ms` so long (LEGACY_READERS_TTL_MS) that a replica of the older release, during a
   * rolling upgrade, never takes them for expired.
   */
  readonly ttl_ms: number;
  readonly v?: 2;
}

/** What a version 2 lease says as its `ttl_ms`, for readers of version 1: a year. */
export const LEGACY_READERS_TTL_MS = 365 * 24 * 3600 * 1000;

export interface Heartbeat {
  readonly replica: string;
  readonly instance: string;
  readonly since: string;
  /** The writer's ha.leaseTtl: its leases are taken once its heartbeat has been silent this long. */
  readonly ttl_ms: number;
  /** Shutting down: it hands its connections over and counts no more in the fair share. */
  readonly leaving?: boolean;
  /**
   * Its watch has not shown what the bucket holds for a while (its consumer on a node cut off,
   * say): it cannot see who is dead, so it takes nothing, and counts in nobody's fair share
   * until it sees again; others take what a dead replica leaves, all of it if need be.
   */
  readonly blind?: boolean;
  /**
   * Which write of this instance it is (1, 2, …): the writer compares the revision the leader
   * acknowledged with the one its watch shows for the same write, and so sees a watch that
   * reads a copy of the stream numbered differently.
   */
  readonly n?: number;
}

const LEASE_PREFIX = 'owner.';
const HEARTBEAT_PREFIX = 'replica.';
const STATES: readonly LeaseState[] = ['taking', 'serving', 'releasing', 'free'];

/**
 * KV keys allow fewer characters than subject tokens: anything outside [A-Za-z0-9_-]
 * becomes `=` and two hex digits per UTF-8 byte, which is reversible.
 */
export function encodeKeyPart(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(char) ? char : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeKeyPart(part: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < part.length; i++) {
    if (part[i] === '=') {
      bytes.push(Number.parseInt(part.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(part.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export const leaseKey = (janusId: string): string => LEASE_PREFIX + encodeKeyPart(janusId);
export const heartbeatKey = (replica: string): string => HEARTBEAT_PREFIX + encodeKeyPart(replica);

export type ParsedKey = { kind: 'lease'; janusId: string } | { kind: 'heartbeat'; replica: string } | { kind: 'other' };

export function parseKey(key: string): ParsedKey {
  if (key.startsWith(LEASE_PREFIX)) return { kind: 'lease', janusId: decodeKeyPart(key.slice(LEASE_PREFIX.length)) };
  if (key.startsWith(HEARTBEAT_PREFIX))
    return { kind: 'heartbeat', replica: decodeKeyPart(key.slice(HEARTBEAT_PREFIX.length)) };
  return { kind: 'other' };
}

export function encodeRecord(record: Lease | Heartbeat): Uint8Array {
  return Buffer.from(JSON.stringify(record));
}

/** A lease as stored, or undefined when the bytes are not one (written by something else). */
export function decodeLease(bytes: Uint8Array): Lease | undefined {
  const value = parseObject(bytes);
  if (!value) return undefined;
  const { replica, instance, session_id: sessionId, since, state, from, to, ttl_ms: ttl } = value;
  if (typeof replica !== 'string' || typeof instance !== 'string' || typeof since !== 'string') return undefined;
  if (!(sessionId === null || (typeof sessionId === 'number' && Number.isSafeInteger(sessionId)))) return undefined;
  if (!STATES.includes(state as LeaseState) || !isTtl(ttl)) return undefined;
  return {
    replica,
    instance,
    session_id: sessionId,
    since,
    state: state as LeaseState,
    ...(typeof from === 'string' ? { from } : {}),
    ...(typeof to === 'string' ? { to } : {}),
    ttl_ms: ttl,
    ...(value.v === 2 ? { v: 2 as const } : {}),
  };
}

export function decodeHeartbeat(bytes: Uint8Array): Heartbeat | undefined {
  const value = parseObject(bytes);
  if (
    !value ||
    typeof value.replica !== 'string' ||
    typeof value.instance !== 'string' ||
    typeof value.since !== 'string' ||
    !isTtl(value.ttl_ms)
  )
    return undefined;
  return {
    replica: value.replica,
    instance: value.instance,
    since: value.since,
    ttl_ms: value.ttl_ms,
    ...(value.leaving === true ? { leaving: true } : {}),
    ...(value.blind === true ? { blind: true } : {}),
    ...(typeof value.n === 'number' && Number.isSafeInteger(value.n) ? { n: value.n } : {}),
  };
}

function isTtl(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function parseObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
