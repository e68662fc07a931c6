/**
 * The lease state machine, transition by transition: from every state, every move, and
 * what it becomes (or that it is refused and nothing changes). HeldLease for leases this
 * replica holds, LeaseSlots for where each connection of the list stands.
 */
import { describe, expect, it, vi } from 'vitest';
import { toSpec } from '../../src/connections/spec.js';
import { HeldLease, type HeldKind } from '../../src/ha/held-lease.js';
import type { Lease } from '../../src/ha/lease-record.js';
import { LeaseSlots, type SlotKind } from '../../src/ha/lease-slots.js';

const parsed = toSpec('j1', 'ws://janus.test:8188/janus');
if (!parsed.ok) throw new Error(parsed.reason);
const SPEC = parsed.spec;
const LEASE: Lease = {
  replica: 'A',
  instance: 'A-1',
  session_id: 7,
  since: '2026-01-01T00:00:00.000Z',
  state: 'taking',
  ttl_ms: 1,
  v: 2,
};

type Start = 'taking' | 'serving' | 'releasing' | 'releasing+relay' | 'reclaiming' | 'finished';

/** A held lease brought to `start` through the allowed moves, and the relay stop it was given. */
function heldIn(start: Start): { held: HeldLease; stopRelay: ReturnType<typeof vi.fn> } {
  const held = new HeldLease(SPEC, LEASE, 1);
  const stopRelay = vi.fn();
  const path: Record<Start, Array<(h: HeldLease) => boolean>> = {
    taking: [],
    serving: [(h) => h.served()],
    releasing: [(h) => h.served(), (h) => h.startRelease(100)],
    'releasing+relay': [(h) => h.served(), (h) => h.startRelease(100), (h) => h.relayListening(stopRelay)],
    reclaiming: [
      (h) => h.served(),
      (h) => h.startRelease(100),
      (h) => h.relayListening(stopRelay),
      (h) => h.startReclaim(),
    ],
    finished: [(h) => h.finish()],
  };
  for (const step of path[start]) if (!step(held)) throw new Error(`cannot reach ${start}`);
  return { held, stopRelay };
}

type Move =
  'served' | 'startRelease' | 'relayListening' | 'keep' | 'startReclaim' | 'reclaimed' | 'reclaimFailed' | 'finish';

const MOVES: Record<Move, (h: HeldLease) => boolean> = {
  served: (h) => h.served(),
  startRelease: (h) => h.startRelease(200),
  relayListening: (h) => h.relayListening(() => {}),
  keep: (h) => h.keep(5_000),
  startReclaim: (h) => h.startReclaim(),
  reclaimed: (h) => h.reclaimed({ ...LEASE, state: 'serving' }, 9, 5_000),
  reclaimFailed: (h) => h.reclaimFailed(),
  finish: (h) => h.finish(),
};

/** [from, move, the state after it, or undefined when the move is refused]. */
const TABLE: Array<[Start, Move, HeldKind | undefined]> = [
  ['taking', 'served', 'serving'],
  ['taking', 'startRelease', undefined],
  ['taking', 'relayListening', undefined],
  ['taking', 'keep', undefined],
  ['taking', 'startReclaim', undefined],
  ['taking', 'reclaimed', undefined],
  ['taking', 'reclaimFailed', undefined],
  ['taking', 'finish', 'finished'],
  ['serving', 'served', undefined],
  ['serving', 'startRelease', 'releasing'],
  ['serving', 'relayListening', undefined],
  ['serving', 'keep', undefined],
  ['serving', 'startReclaim', undefined],
  ['serving', 'reclaimed', undefined],
  ['serving', 'reclaimFailed', undefined],
  ['serving', 'finish', 'finished'],
  ['releasing', 'served', undefined],
  ['releasing', 'startRelease', undefined],
  ['releasing', 'relayListening', 'releasing'],
  ['releasing', 'keep', 'serving'],
  ['releasing', 'startReclaim', 'reclaiming'],
  ['releasing', 'reclaimed', undefined],
  ['releasing', 'reclaimFailed', undefined],
  ['releasing', 'finish', 'finished'],
  ['releasing+relay', 'served', undefined],
  ['releasing+relay', 'startRelease', undefined],
  ['releasing+relay', 'relayListening', undefined],
  ['releasing+relay', 'keep', 'serving'],
  ['releasing+relay', 'startReclaim', 'reclaiming'],
  ['releasing+relay', 'reclaimed', undefined],
  ['releasing+relay', 'reclaimFailed', undefined],
  ['releasing+relay', 'finish', 'finished'],
  ['reclaiming', 'served', undefined],
  ['reclaiming', 'startRelease', undefined],
  ['reclaiming', 'relayListening', undefined],
  ['reclaiming', 'keep', undefined],
  ['reclaiming', 'startReclaim', undefined],
  ['reclaiming', 'reclaimed', 'serving'],
  ['reclaiming', 'reclaimFailed', 'releasing'],
  ['reclaiming', 'finish', 'finished'],
  ['finished', 'served', undefined],
  ['finished', 'startRelease', undefined],
  ['finished', 'relayListening', undefined],
  ['finished', 'keep', undefined],
  ['finished', 'startReclaim', undefined],
  ['finished', 'reclaimed', undefined],
  ['finished', 'reclaimFailed', undefined],
  ['finished', 'finish', undefined],
];

describe('a held lease', () => {
  it('has a row for every state and every move', () => {
    const starts = new Set(TABLE.map(([from]) => from));
    expect(TABLE).toHaveLength(starts.size * Object.keys(MOVES).length);
  });

  it.each(TABLE)('from %s, %s → %s', (from, move, to) => {
    const { held } = heldIn(from);
    const before = held.state;
    const allowed = MOVES[move](held);
    if (to === undefined) {
      expect(allowed).toBe(false);
      expect(held.state).toBe(before);
    } else {
      expect(allowed).toBe(true);
      expect(held.kind).toBe(to);
    }
  });

  it('says taking, then serving; releasing only once the relay listens', () => {
    const { held } = heldIn('taking');
    expect(held.leaseState).toBe('taking');
    held.served();
    expect(held.leaseState).toBe('serving');
    held.startRelease(0);
    expect(held.leaseState).toBe('serving');
    held.relayListening(() => {});
    expect(held.leaseState).toBe('releasing');
    held.startReclaim();
    expect(held.leaseState).toBe('serving');
  });

  it('keeps the relay listening after finish, until settle; keep and reclaimed close it at once', () => {
    const finishing = heldIn('releasing+relay');
    finishing.held.finish();
    expect(finishing.stopRelay).not.toHaveBeenCalled();
    expect(finishing.held.settle()).toBe(true);
    expect(finishing.held.settle()).toBe(false);
    expect(finishing.stopRelay).toHaveBeenCalledTimes(1);

    const kept = heldIn('releasing+relay');
    kept.held.keep(1_000);
    expect(kept.stopRelay).toHaveBeenCalledTimes(1);

    const reclaimed = heldIn('reclaiming');
    reclaimed.held.reclaimed({ ...LEASE, state: 'serving' }, 5, 1_000);
    expect(reclaimed.stopRelay).toHaveBeenCalledTimes(1);
    expect(reclaimed.held.revision).toBe(5);
  });

  it('rests after a move that did not happen, and only until then', () => {
    const { held } = heldIn('releasing');
    held.keep(1_000);
    expect(held.restingAt(999)).toBe(true);
    expect(held.restingAt(1_000)).toBe(false);
  });

  it('resolves finished only once settled, and writes nothing once finished', async () => {
    const { held } = heldIn('serving');
    let resolved = false;
    void held.finished.then(() => {
      resolved = true;
    });
    held.finish();
    await Promise.resolve();
    expect(resolved).toBe(false);
    expect(held.settle()).toBe(true);
    await Promise.resolve();
    expect(resolved).toBe(true);
    const attempt = vi.fn();
    expect(await held.write(attempt)).toBeUndefined();
    expect(attempt).not.toHaveBeenCalled();
  });

  it('runs its writes one at a time, in order, and takes what a successful one wrote', async () => {
    const { held } = heldIn('serving');
    const order: string[] = [];
    let release: () => void = () => {};
    const first = held.write(async () => {
      order.push('first start');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      order.push('first end');
      return { lease: { ...LEASE, state: 'serving' }, result: { ok: true, revision: 2 } };
    });
    const second = held.write(async () => {
      order.push('second');
      return { lease: { ...LEASE, state: 'releasing' }, result: { ok: false, conflict: true, reason: 'x' } };
    });
    expect(held.writesInFlight).toBe(2);
    await Promise.resolve();
    release();
    await first;
    await second;
    expect(order).toEqual(['first start', 'first end', 'second']);
    expect(held.revision).toBe(2);
    expect(held.lease.state).toBe('serving');
    await Promise.resolve();
    expect(held.writesInFlight).toBe(0);
  });
});

describe('the slots of the list', () => {
  type SlotStart = SlotKind | 'retrying-due' | 'resting-over';
  const NOW = 1_000;

  function slotIn(start: SlotStart): { slots: LeaseSlots; held: HeldLease } {
    const slots = new LeaseSlots();
    const held = new HeldLease(SPEC, LEASE, 1);
    if (start === 'none') return { slots, held };
    slots.startClaim('j1', NOW);
    if (start === 'retrying') slots.claimLost('j1', NOW + 100);
    if (start === 'retrying-due') slots.claimLost('j1', NOW);
    if (start === 'held') slots.claimed('j1', held);
    if (start === 'resting' || start === 'resting-over') {
      slots.claimed('j1', held);
      held.finish();
      held.settle();
      slots.released('j1', held, start === 'resting' ? NOW + 100 : NOW);
    }
    return { slots, held };
  }

  const SLOT_TABLE: Array<[SlotStart, string, (s: LeaseSlots, held: HeldLease) => boolean, SlotKind | undefined]> = [
    ['none', 'startClaim', (s) => s.startClaim('j1', NOW), 'claiming'],
    ['claiming', 'startClaim', (s) => s.startClaim('j1', NOW), undefined],
    ['retrying', 'startClaim', (s) => s.startClaim('j1', NOW), undefined],
    ['retrying-due', 'startClaim', (s) => s.startClaim('j1', NOW), 'claiming'],
    ['resting', 'startClaim', (s) => s.startClaim('j1', NOW), undefined],
    ['resting-over', 'startClaim', (s) => s.startClaim('j1', NOW), 'claiming'],
    ['held', 'startClaim', (s) => s.startClaim('j1', NOW), undefined],
    ['claiming', 'claimLost', (s) => s.claimLost('j1', NOW + 5), 'retrying'],
    ['none', 'claimLost', (s) => s.claimLost('j1', NOW + 5), undefined],
    ['held', 'claimLost', (s) => s.claimLost('j1', NOW + 5), undefined],
    ['claiming', 'claimWithdrawn', (s) => s.claimWithdrawn('j1'), 'none'],
    ['held', 'claimWithdrawn', (s) => s.claimWithdrawn('j1'), undefined],
    ['claiming', 'claimed', (s, h) => s.claimed('j1', h), 'held'],
    ['retrying', 'claimed', (s, h) => s.claimed('j1', h), undefined],
    ['held', 'released (not finished)', (s, h) => s.released('j1', h), undefined],
    [
      'held',
      'released (finished)',
      (s, h) => {
        h.finish();
        return s.released('j1', h);
      },
      'none',
    ],
    [
      'held',
      'released to rest',
      (s, h) => {
        h.finish();
        return s.released('j1', h, NOW + 50);
      },
      'resting',
    ],
    ['claiming', 'released', (s, h) => s.released('j1', h), undefined],
  ];

  it.each(SLOT_TABLE)('from %s, %s → %s', (start, _move, act, to) => {
    const { slots, held } = slotIn(start);
    const before = slots.kindOf('j1');
    const allowed = act(slots, held);
    if (to === undefined) {
      expect(allowed).toBe(false);
      expect(slots.kindOf('j1')).toBe(before);
    } else {
      expect(allowed).toBe(true);
      expect(slots.kindOf('j1')).toBe(to);
    }
  });

  it('lets a waiting claim go at once when the lease changes, and leaves other states alone', () => {
    for (const [start, after] of [
      ['retrying', 'none'],
      ['claiming', 'claiming'],
      ['resting', 'resting'],
      ['held', 'held'],
    ] as const) {
      const { slots } = slotIn(start);
      slots.leaseChanged('j1');
      expect(slots.kindOf('j1')).toBe(after);
    }
  });

  it('is left alone during a claim, a wait to retry, a rest, and while a held lease is not plainly serving', () => {
    expect(slotIn('none').slots.isLeftAlone('j1', NOW)).toBe(false);
    expect(slotIn('claiming').slots.isLeftAlone('j1', NOW)).toBe(true);
    expect(slotIn('retrying').slots.isLeftAlone('j1', NOW)).toBe(true);
    expect(slotIn('retrying-due').slots.isLeftAlone('j1', NOW)).toBe(false);
    expect(slotIn('resting').slots.isLeftAlone('j1', NOW)).toBe(true);
    const { slots, held } = slotIn('held');
    expect(slots.isLeftAlone('j1', NOW)).toBe(true);
    held.served();
    expect(slots.isLeftAlone('j1', NOW)).toBe(false);
    held.startRelease(NOW);
    expect(slots.isLeftAlone('j1', NOW)).toBe(true);
    held.keep(NOW + 10);
    expect(slots.isLeftAlone('j1', NOW)).toBe(true);
    expect(slots.isLeftAlone('j1', NOW + 10)).toBe(false);
  });

  it('remembers when a connection was first seen unserved, until it is served or claimed', () => {
    const { slots, held } = slotIn('none');
    slots.seenUnserved('j1', true, 100);
    slots.seenUnserved('j1', true, 900);
    expect(slots.unservedFor('j1', 1_000)).toBe(900);
    slots.startClaim('j1', 1_000);
    slots.claimed('j1', held);
    expect(slots.unservedFor('j1', 2_000)).toBe(0);
    slots.seenUnserved('j2', true, 0);
    slots.seenUnserved('j2', false, 10);
    expect(slots.unservedFor('j2', 100)).toBe(0);
  });

  it('forgets what concerns ids no longer listed, except what is held or being claimed', () => {
    const slots = new LeaseSlots();
    const held = new HeldLease(SPEC, LEASE, 1);
    for (const id of ['a', 'b', 'c']) slots.startClaim(id, NOW);
    slots.claimLost('a', NOW + 100);
    slots.claimed('b', held);
    slots.seenUnserved('d', true, 0);
    slots.keepOnly(new Set());
    expect(['a', 'b', 'c'].map((id) => slots.kindOf(id))).toEqual(['none', 'held', 'claiming']);
    expect(slots.unservedFor('d', 10)).toBe(0);
  });
});
