import { describe, expect, it } from 'vitest';
import {
  encodeRecord,
  heartbeatKey,
  leaseKey,
  type Heartbeat,
  type Lease,
  type LeaseState,
} from '../../src/ha/lease-record.js';
import { OwnershipView, type WatchedEntry } from '../../src/ha/ownership-view.js';

const TTL = 10_000;
const ME = 'instance-me';
const OTHER = 'instance-other';

function leaseOf(state: LeaseState, instance = OTHER, replica = 'bridge-1'): Lease {
  return { replica, instance, session_id: 77, since: '2024-01-01T00:00:00.000Z', state, ttl_ms: TTL };
}

function heartbeatOf(replica: string, instance = `${replica}-instance`): Heartbeat {
  return { replica, instance, since: '2024-01-01T00:00:00.000Z', ttl_ms: TTL };
}

/** This replica's heartbeat writes succeeded at these times: the bucket took writes then. */
function wrote(view: OwnershipView, ...times: number[]): OwnershipView {
  for (const at of times) view.ownWriteSucceeded(at);
  return view;
}

const put = (key: string, record: Lease | Heartbeat, revision: number): WatchedEntry => ({
  key,
  operation: 'PUT',
  value: encodeRecord(record),
  revision,
});
const del = (key: string, revision: number, operation: 'DEL' | 'PURGE' = 'DEL'): WatchedEntry => ({
  key,
  operation,
  value: new Uint8Array(),
  revision,
});

describe('OwnershipView leases', () => {
  it('calls a connection with no lease free, with nothing to write over', () => {
    const view = new OwnershipView(TTL);
    expect(view.takeReason('j1', ME, 0)).toBe('free');
    expect(view.takeBasis('j1')).toEqual({ revision: undefined, previous: undefined });
    expect(view.lease('j1')).toBeUndefined();
  });

  it('does not let a serving or taking lease of another instance be taken within the TTL', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('j1'), leaseOf('serving'), 5), 1_000);
    view.apply(put(leaseKey('j2'), leaseOf('taking'), 6), 1_000);
    expect(view.takeReason('j1', ME, 1_000)).toBeUndefined();
    expect(view.takeReason('j1', ME, 1_000 + TTL)).toBeUndefined();
    expect(view.takeReason('j2', ME, 1_000 + TTL)).toBeUndefined();
  });

  it('calls a lease not seen for more than the TTL expired, whatever its state', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('j1'), leaseOf('serving'), 5), 1_000);
    view.apply(put(leaseKey('j2'), leaseOf('releasing'), 6), 1_000);
    view.apply(put(leaseKey('j3'), leaseOf('free'), 7), 1_000);
    wrote(view, 3_000, 6_000, 9_000);
    for (const id of ['j1', 'j2', 'j3']) {
      expect(view.takeReason(id, ME, 1_000 + TTL + 1)).toBe('expired');
    }
    const seen = view.lease('j1')!;
    expect(view.leaseIsLive(seen, 1_000 + TTL)).toBe(true);
    expect(view.leaseIsLive(seen, 1_000 + TTL + 1)).toBe(false);
  });

  it('keeps a renewed lease live', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('j1'), leaseOf('serving'), 5), 0);
    view.apply(put(leaseKey('j1'), leaseOf('serving'), 9), TTL - 1);
    expect(view.takeReason('j1', ME, TTL + 5)).toBeUndefined();
    expect(view.lease('j1')).toMatchObject({ revision: 9, seenAt: TTL - 1 });
  });

  it("calls a releasing lease 'releasing' and a free one 'free'", () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('r'), leaseOf('releasing'), 1), 0);
    view.apply(put(leaseKey('f'), leaseOf('free'), 2), 0);
    expect(view.takeReason('r', ME, 100)).toBe('releasing');
    expect(view.takeReason('f', ME, 100)).toBe('free');
  });

  it("calls a lease of this very instance that it does not serve 'free', live or not", () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('j1'), leaseOf('serving', ME, 'bridge-0'), 3), 0);
    expect(view.takeReason('j1', ME, 10)).toBe('free');
    expect(view.takeReason('j1', ME, TTL * 5)).toBe('free');
    // The same lease seen by another instance is not takeable.
    expect(view.takeReason('j1', OTHER, 10)).toBeUndefined();
  });

  it('writes a take over the revision it saw, with the lease it replaces', () => {
    const view = new OwnershipView(TTL);
    const previous = leaseOf('releasing');
    expect(view.apply(put(leaseKey('j.1'), previous, 12), 0)).toEqual({ lease: 'j.1' });
    expect(view.takeBasis('j.1')).toEqual({ revision: 12, previous });
  });

  it('forgets a deleted lease and writes a take over the revision of the delete', () => {
    for (const operation of ['DEL', 'PURGE'] as const) {
      const view = new OwnershipView(TTL);
      view.apply(put(leaseKey('j1'), leaseOf('serving'), 12), 0);
      expect(view.apply(del(leaseKey('j1'), 13, operation), 5)).toEqual({ lease: 'j1' });
      expect(view.lease('j1')).toBeUndefined();
      expect(view.allLeases()).toEqual([]);
      expect(view.takeReason('j1', ME, 5)).toBe('free');
      expect(view.takeBasis('j1')).toEqual({ revision: 13, previous: undefined });
    }
  });

  it('writes over the newest revision once a deleted key is written again', () => {
    const view = new OwnershipView(TTL);
    view.apply(del(leaseKey('j1'), 13), 0);
    const again = leaseOf('serving');
    view.apply(put(leaseKey('j1'), again, 20), 1);
    expect(view.takeBasis('j1')).toEqual({ revision: 20, previous: again });
    view.apply(del(leaseKey('j1'), 21), 2);
    expect(view.takeBasis('j1')).toEqual({ revision: 21, previous: undefined });
  });

  it('drops a lease overwritten with something that is not a lease', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('j1'), leaseOf('serving'), 4), 0);
    view.apply({ key: leaseKey('j1'), operation: 'PUT', value: Buffer.from('garbage'), revision: 5 }, 1);
    expect(view.lease('j1')).toBeUndefined();
    expect(view.takeReason('j1', ME, 1)).toBe('free');
  });

  it('lists every lease it knows with its revision and when it was seen', () => {
    const view = new OwnershipView(TTL);
    const a = leaseOf('serving');
    const b = leaseOf('free', ME, 'bridge-0');
    view.apply(put(leaseKey('a'), a, 1), 100);
    view.apply(put(leaseKey('b b'), b, 2), 200);
    view.apply(put(heartbeatKey('bridge-1'), heartbeatOf('bridge-1'), 3), 200);
    const all = new Map(view.allLeases());
    expect([...all.keys()].sort()).toEqual(['a', 'b b']);
    expect(all.get('a')).toEqual({ lease: a, revision: 1, seenAt: 100 });
    expect(all.get('b b')).toEqual({ lease: b, revision: 2, seenAt: 200 });
  });

  it('ignores keys that are neither leases nor heartbeats', () => {
    const view = new OwnershipView(TTL);
    expect(view.apply(put('config.whatever', leaseOf('serving'), 1), 0)).toEqual({});
    expect(view.allLeases()).toEqual([]);
    expect(view.liveReplicas(0)).toEqual([]);
  });

  it('prunes what has not been written for the given age, and keeps the rest', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('old'), leaseOf('serving'), 1), 0);
    view.apply(del(leaseKey('gone'), 2), 0);
    view.apply(put(heartbeatKey('r-old'), heartbeatOf('r-old'), 3), 0);
    view.apply(put(leaseKey('new'), leaseOf('serving'), 4), 50_000);
    view.apply(put(heartbeatKey('r-new'), heartbeatOf('r-new'), 5), 50_000);
    wrote(view, 10_000, 20_000, 30_000);
    view.prune(60_001, 60_000);
    expect(view.allLeases().map(([id]) => id)).toEqual(['new']);
    expect(view.takeBasis('gone')).toEqual({ revision: undefined, previous: undefined });
    expect(view.liveReplicas(50_000 + TTL).map((h) => h.replica)).toEqual(['r-new']);
  });

  it("waits for the longer of its own TTL and the writer's before a lease or a replica counts as gone", () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('slow'), { ...leaseOf('serving'), ttl_ms: 3 * TTL }, 1), 0);
    view.apply(put(heartbeatKey('r-slow'), { ...heartbeatOf('r-slow'), ttl_ms: 3 * TTL }, 2), 0);
    wrote(view, 1_000, 2_000, 3_000);
    expect(view.takeReason('slow', 'me', 2 * TTL)).toBeUndefined();
    expect(view.takeReason('slow', 'me', 3 * TTL + 1)).toBe('expired');
    expect(view.liveReplicas(2 * TTL).map((h) => h.replica)).toEqual(['r-slow']);
    expect(view.liveReplicas(3 * TTL + 1)).toEqual([]);
  });

  // Watch restart (resync after NATS comes back) replays the bucket's current content
  // into the same view. A replayed entry is one already seen: it is no sign that its
  // owner renewed it, so it must not make an old lease look fresh.
  it('does not make a lease look fresh when the same revision is replayed', () => {
    const view = new OwnershipView(TTL);
    const entry = put(leaseKey('j1'), leaseOf('serving'), 5);
    view.apply(entry, 0);
    const later = TTL + 1;
    view.apply(entry, later); // the watch restarted and delivered revision 5 again
    wrote(view, 1, 2, 3);
    expect(view.lease('j1')?.seenAt).toBe(0);
    expect(view.takeReason('j1', ME, later)).toBe('expired');
  });
});

describe('OwnershipView heartbeats', () => {
  it('counts a replica live within the TTL of its last heartbeat only', () => {
    const view = new OwnershipView(TTL);
    const a = heartbeatOf('a');
    const b = heartbeatOf('b');
    expect(view.apply(put(heartbeatKey('a'), a, 1), 0)).toEqual({ heartbeat: 'a' });
    view.apply(put(heartbeatKey('b'), b, 2), 5_000);
    wrote(view, 6_000, 7_000, 8_000);
    expect(view.liveReplicas(TTL)).toEqual([a, b]);
    expect(view.liveReplicas(TTL + 1)).toEqual([b]);
    expect(view.liveReplicas(5_000 + TTL + 1)).toEqual([]);
  });

  it('counts a heartbeat claiming an endless TTL dead after 5 minutes of silence, the longest ha.leaseTtl', () => {
    const view = new OwnershipView(TTL);
    const endless = { ...heartbeatOf('phantom'), ttl_ms: Number.MAX_SAFE_INTEGER };
    view.apply(put(heartbeatKey('phantom'), endless, 1), 0);
    wrote(view, 1_000, 2_000, 3_000);
    expect(view.liveReplicas(300_000)).toEqual([endless]);
    expect(view.liveReplicas(300_001)).toEqual([]);
    expect(view.nextSilence(1_000)).toBe(300_001);
  });

  it('keeps a renewed heartbeat live and shows its latest content', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(heartbeatKey('a'), heartbeatOf('a', 'old'), 1), 0);
    const renewed = heartbeatOf('a', 'new');
    view.apply(put(heartbeatKey('a'), renewed, 2), TTL);
    expect(view.liveReplicas(TTL * 2)).toEqual([renewed]);
  });

  it('drops a heartbeat at once when it is deleted', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(heartbeatKey('a'), heartbeatOf('a'), 1), 0);
    view.apply(put(heartbeatKey('b'), heartbeatOf('b'), 2), 0);
    expect(view.apply(del(heartbeatKey('a'), 3), 1)).toEqual({ heartbeat: 'a' });
    expect(view.liveReplicas(1).map((h) => h.replica)).toEqual(['b']);
    view.apply(del(heartbeatKey('b'), 4, 'PURGE'), 1);
    expect(view.liveReplicas(1)).toEqual([]);
  });

  it('keeps heartbeats and leases apart, even for the same name', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(heartbeatKey('x'), heartbeatOf('x'), 1), 0);
    view.apply(put(leaseKey('x'), leaseOf('serving'), 2), 0);
    view.apply(del(heartbeatKey('x'), 3), 0);
    expect(view.lease('x')).toBeDefined();
    expect(view.liveReplicas(0)).toEqual([]);
  });

  it('does not make a dead replica look live when its same heartbeat revision is replayed', () => {
    const view = new OwnershipView(TTL);
    const entry = put(heartbeatKey('a'), heartbeatOf('a'), 1);
    view.apply(entry, 0);
    view.apply(entry, TTL + 1); // watch restart replays revision 1
    wrote(view, 1, 2, 3);
    expect(view.liveReplicas(TTL + 1)).toEqual([]);
  });

  it('never calls a replica dead while the bucket took no writes (an election), however long ago it was seen', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(heartbeatKey('a'), heartbeatOf('a'), 1), 0);
    wrote(view, 100, 200);
    expect(view.liveReplicas(10 * TTL).map((h) => h.replica)).toEqual(['a']);
    // Writes work again: only after enough rounds of them does silence count.
    wrote(view, 10 * TTL);
    expect(view.liveReplicas(10 * TTL + 1)).toEqual([]);
  });

  it('counts only writes made after the heartbeat was seen', () => {
    const view = new OwnershipView(TTL);
    wrote(view, 1_000, 2_000, 3_000);
    view.apply(put(heartbeatKey('a'), heartbeatOf('a'), 1), 4_000);
    expect(view.liveReplicas(4_000 + TTL + 1).map((h) => h.replica)).toEqual(['a']);
    wrote(view, 5_000, 6_000, 7_000);
    expect(view.liveReplicas(4_000 + TTL + 1)).toEqual([]);
  });

  it('counts an acknowledged own write only once the watch delivered it (a blind watch gathers no evidence)', () => {
    const view = new OwnershipView(TTL, 'me');
    view.apply(put(heartbeatKey('a'), heartbeatOf('a'), 1), 0);
    view.ownWriteAcknowledged(TTL + 100, 2);
    view.ownWriteAcknowledged(TTL + 200, 3);
    view.ownWriteAcknowledged(TTL + 300, 4);
    expect(view.oldestUnseenWrite()).toBe(TTL + 100);
    expect(view.liveReplicas(2 * TTL).map((h) => h.replica)).toEqual(['a']);
    // Another replica's write to its own key is no evidence of ours.
    view.apply(put(heartbeatKey('b'), heartbeatOf('b'), 5), 2 * TTL);
    expect(view.oldestUnseenWrite()).toBe(TTL + 100);
    // A replay that shows our newest write confirms every earlier one.
    view.apply(put(heartbeatKey('me'), heartbeatOf('me'), 4), 2 * TTL);
    expect(view.oldestUnseenWrite()).toBeUndefined();
    expect(view.liveReplicas(2 * TTL).map((h) => h.replica)).toEqual(['b', 'me']);
  });

  it('owes a lease revision a refused write told of until the watch delivers it or a later one', () => {
    const view = new OwnershipView(TTL, 'me');
    view.apply(put(leaseKey('j1'), leaseOf('serving'), 5), 0);
    // Nothing owed for what the watch already showed.
    expect(view.leaderHas('j1', 5, 100)).toBeUndefined();
    expect(view.oldestUnseenWrite()).toBeUndefined();
    expect(view.leaderHas('j1', 9, 200)).toBe('behind');
    expect(view.leaderHas('j1', 12, 300)).toBe('behind');
    expect(view.oldestUnseenWrite()).toBe(200);
    // Older than the leader's revision: stale, the view keeps what it had.
    expect(view.apply(put(leaseKey('j1'), leaseOf('releasing'), 8), 400)).toEqual({ stale: true });
    expect(view.lease('j1')).toMatchObject({ revision: 5, lease: { state: 'serving' } });
    expect(view.oldestUnseenWrite()).toBe(200);
    view.apply(put(leaseKey('j1'), leaseOf('releasing'), 12), 500);
    expect(view.oldestUnseenWrite()).toBeUndefined();
    expect(view.lease('j1')).toMatchObject({ revision: 12, lease: { state: 'releasing' } });
  });

  it("says when its view of a lease is ahead of the leader, and takes the leader's numbering from then on", () => {
    const view = new OwnershipView(TTL, 'me');
    view.apply(put(leaseKey('j1'), leaseOf('serving'), 230), 0);
    expect(view.leaderHas('j1', 225, 100)).toBe('ahead');
    expect(view.oldestUnseenWrite()).toBeUndefined();
    // The leader's entry (read from it, or replayed by a watch on a good copy) replaces the one from the other copy.
    expect(view.apply(put(leaseKey('j1'), leaseOf('releasing'), 225), 200)).toEqual({ lease: 'j1' });
    expect(view.lease('j1')).toMatchObject({ revision: 225, lease: { state: 'releasing' } });
    expect(view.leaderHas('j1', 225, 300)).toBeUndefined();
    expect(view.leaderHas('j1', 231, 300)).toBe('behind');
    expect(view.oldestUnseenWrite()).toBe(300);
  });

  it('never goes back: a watch replaying an older copy of the bucket changes nothing', () => {
    const view = new OwnershipView(TTL, 'me');
    view.apply(put(leaseKey('j1'), { ...leaseOf('serving'), replica: 'a', instance: 'a-1' }, 10), 0);
    view.apply(put(heartbeatKey('a'), heartbeatOf('a'), 11), 0);
    view.apply(put(leaseKey('j1'), { ...leaseOf('serving'), replica: 'b', instance: 'b-1' }, 20), 100);
    view.apply(put(heartbeatKey('a'), heartbeatOf('a'), 21), 100);
    // A restarted watch on a copy that stopped at revision 15.
    expect(view.apply(put(leaseKey('j1'), { ...leaseOf('serving'), replica: 'a', instance: 'a-1' }, 10), 200)).toEqual({
      stale: true,
    });
    expect(view.apply(put(heartbeatKey('a'), heartbeatOf('a'), 11), 200)).toEqual({ stale: true });
    expect(view.lease('j1')).toMatchObject({ revision: 20, lease: { replica: 'b' } });
    // The same entry again is no news either way, and a newer one is taken.
    expect(view.apply(put(leaseKey('j1'), { ...leaseOf('serving'), replica: 'b', instance: 'b-1' }, 20), 300)).toEqual({
      lease: 'j1',
    });
    expect(view.apply(del(leaseKey('j1'), 30), 400)).toEqual({ lease: 'j1' });
    expect(view.lease('j1')).toBeUndefined();
    expect(view.apply(put(leaseKey('j1'), leaseOf('serving'), 20), 500)).toEqual({ stale: true });
    expect(view.takeBasis('j1')).toEqual({ revision: 30, previous: undefined });
  });

  it('sees a watch reading a copy numbered unlike the leader, and forgets what it learnt from it when told', () => {
    const view = new OwnershipView(TTL, 'me');
    view.ownWriteAcknowledged(100, 40, 7);
    // The same write (n 7) at the revision the leader gave it: the numbering agrees.
    view.apply(put(heartbeatKey('me'), { ...heartbeatOf('me'), n: 7 }, 40), 110);
    expect(view.watchNumberingDiffers()).toBeUndefined();
    // Write 8 shown before its acknowledgement arrives, at another revision.
    view.apply(put(leaseKey('j1'), leaseOf('serving'), 90), 150);
    view.apply(put(heartbeatKey('me'), { ...heartbeatOf('me'), n: 8 }, 95), 210);
    expect(view.watchNumberingDiffers()).toBeUndefined();
    view.ownWriteAcknowledged(200, 44, 8);
    expect(view.watchNumberingDiffers()).toBe(200);
    // Revisions from that copy made the leader's entries look stale; once forgotten they are taken.
    expect(view.apply(put(leaseKey('j1'), leaseOf('releasing'), 41), 300)).toEqual({ stale: true });
    view.forgetRevisions();
    expect(view.watchNumberingDiffers()).toBeUndefined();
    expect(view.apply(put(leaseKey('j1'), leaseOf('releasing'), 41), 300)).toEqual({ lease: 'j1' });
    expect(view.lease('j1')).toMatchObject({ revision: 41, lease: { state: 'releasing' } });
  });

  it('takes our own acknowledged write as known: the watch delivering an older revision of the key is stale', () => {
    const view = new OwnershipView(TTL, 'me');
    view.apply(put(leaseKey('j1'), { ...leaseOf('serving'), replica: 'a', instance: 'a-1' }, 10), 0);
    view.written(leaseKey('j1'), 14);
    expect(view.apply(put(leaseKey('j1'), { ...leaseOf('serving'), replica: 'a', instance: 'a-1' }, 12), 100)).toEqual({
      stale: true,
    });
    expect(view.apply(put(leaseKey('j1'), leaseOf('serving'), 14), 100)).toEqual({ lease: 'j1' });
  });

  it('confirms own writes up to the revision delivered, not later ones', () => {
    const view = new OwnershipView(TTL, 'me');
    view.ownWriteAcknowledged(100, 2);
    view.ownWriteAcknowledged(200, 3);
    view.apply(put(heartbeatKey('me'), heartbeatOf('me'), 2), 150);
    expect(view.oldestUnseenWrite()).toBe(200);
  });

  it('leaves a leaving replica out of the fair share while it still counts as alive', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(heartbeatKey('a'), heartbeatOf('a'), 1), 0);
    view.apply(put(heartbeatKey('b'), { ...heartbeatOf('b'), leaving: true }, 2), 0);
    expect(view.liveReplicas(1).map((h) => h.replica)).toEqual(['a', 'b']);
    expect(view.sharingReplicas(1).map((h) => h.replica)).toEqual(['a']);
  });
});

describe("OwnershipView: version 2 leases live by their holder's heartbeat", () => {
  const v2 = (state: LeaseState, instance = 'b-instance', replica = 'b'): Lease => ({
    ...leaseOf(state, instance, replica),
    v: 2,
    ttl_ms: 365 * 24 * 3600 * 1000,
  });

  it("keeps a lease never rewritten alive while its holder's heartbeat is", () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('j1'), v2('serving'), 1), 0);
    for (let t = 2_000, revision = 2; t <= 10 * TTL; t += 2_000, revision++) {
      view.apply(put(heartbeatKey('b'), heartbeatOf('b'), revision), t);
      wrote(view, t);
    }
    expect(view.takeReason('j1', ME, 10 * TTL + 1)).toBeUndefined();
  });

  it('expires every lease of a holder whose heartbeat went silent for the TTL while writes worked', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('j1'), v2('serving'), 1), 0);
    view.apply(put(leaseKey('j2'), v2('taking'), 2), 0);
    view.apply(put(heartbeatKey('b'), heartbeatOf('b'), 3), 1_000);
    wrote(view, 2_000, 4_000, 6_000, 8_000, 10_000);
    expect(view.takeReason('j1', ME, 1_000 + TTL)).toBeUndefined();
    expect(view.takeReason('j1', ME, 1_000 + TTL + 1)).toBe('expired');
    expect(view.takeReason('j2', ME, 1_000 + TTL + 1)).toBe('expired');
  });

  it('calls a lease of an instance whose heartbeat is gone or belongs to a newer instance expired', () => {
    const view = new OwnershipView(TTL);
    view.apply(put(leaseKey('j1'), v2('serving', 'old-instance'), 1), 0);
    expect(view.takeReason('j1', ME, 1)).toBe('expired');
    view.apply(put(heartbeatKey('b'), heartbeatOf('b', 'new-instance'), 2), 2);
    expect(view.takeReason('j1', ME, 3)).toBe('expired');
    view.apply(put(heartbeatKey('b'), heartbeatOf('b', 'old-instance'), 3), 4);
    expect(view.takeReason('j1', ME, 5)).toBeUndefined();
  });
});

describe('OwnershipView: pruning', () => {
  it('keeps a version 2 lease never rewritten while its holder lives, and forgets it once the holder is dead', () => {
    const view = new OwnershipView(TTL);
    const lease: Lease = { ...leaseOf('serving', 'b-instance', 'b'), v: 2 };
    view.apply(put(leaseKey('j1'), lease, 1), 0);
    let revision = 2;
    for (let t = 2_000; t <= 20 * TTL; t += 2_000) {
      view.apply(put(heartbeatKey('b'), heartbeatOf('b', 'b-instance'), revision++), t);
      wrote(view, t);
    }
    view.prune(20 * TTL, 10 * TTL);
    expect(view.lease('j1')).toBeDefined();
    wrote(view, 21 * TTL, 22 * TTL, 23 * TTL);
    view.prune(31 * TTL, 10 * TTL);
    expect(view.lease('j1')).toBeUndefined();
  });
});
