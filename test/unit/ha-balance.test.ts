import { describe, expect, it } from 'vitest';
import { describeLeft, fairShare, planBalance, type BalanceInput, type TakeReason } from '../../src/ha/balance.js';

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A balance input with nothing held and everything free unless said otherwise. */
function input(
  over: Partial<Omit<BalanceInput, 'takeReason'>> & {
    takeReason?: Record<string, TakeReason | undefined> | ((id: string) => TakeReason | undefined);
  } = {},
): BalanceInput {
  const { takeReason, ...rest } = over;
  const why =
    typeof takeReason === 'function'
      ? takeReason
      : (id: string): TakeReason | undefined => (takeReason ? takeReason[id] : 'free');
  return {
    listed: [],
    held: new Set(),
    releasing: new Set(),
    leftAlone: new Set(),
    liveReplicas: 1,
    leaving: false,
    tieBreak: 'instance-a',
    overdue: () => false,
    designatedElsewhere: () => false,
    ...rest,
    takeReason: why,
  } as BalanceInput;
}

describe('fairShare', () => {
  it('spreads the list evenly, rounding up', () => {
    expect(fairShare(30, 3)).toBe(10);
    expect(fairShare(15, 4)).toBe(4);
    expect(fairShare(1, 3)).toBe(1);
    expect(fairShare(0, 3)).toBe(0);
    expect(fairShare(31, 3)).toBe(11);
  });

  it('treats no live replica (or a negative count) as one', () => {
    expect(fairShare(7, 0)).toBe(7);
    expect(fairShare(7, -2)).toBe(7);
    expect(fairShare(7, 1)).toBe(7);
  });
});

describe('planBalance', () => {
  it('has a lone replica take every free connection', () => {
    const listed = range('j', 5);
    const plan = planBalance(input({ listed }));
    expect(plan.release).toEqual([]);
    expect([...plan.take].sort()).toEqual(listed);
  });

  it('takes only up to its share', () => {
    const listed = range('j', 10);
    const plan = planBalance(input({ listed, liveReplicas: 3 }));
    // ceil(10 / 3) = 4
    expect(plan.take).toHaveLength(4);
    expect(new Set(plan.take).size).toBe(4);
    for (const id of plan.take) expect(listed).toContain(id);
  });

  it('takes nothing at its share, and only what fills the share below it', () => {
    const listed = range('j', 6);
    const atShare = planBalance(input({ listed, liveReplicas: 2, held: new Set(['j0', 'j1', 'j2']) }));
    expect(atShare).toMatchObject({ take: [], release: [] });
    expect(atShare.left.map((l) => `${l.janusId} ${l.why}`).sort()).toEqual([
      'j3 at share',
      'j4 at share',
      'j5 at share',
    ]);
    const below = planBalance(input({ listed, liveReplicas: 2, held: new Set(['j0']) }));
    expect(below.release).toEqual([]);
    expect(below.take).toHaveLength(2);
    expect(below.take).not.toContain('j0');
  });

  it('never reaches for connections it holds, releases or leaves alone, nor ones nobody may take', () => {
    const listed = range('j', 8);
    const plan = planBalance(
      input({
        listed,
        held: new Set(['j0']),
        releasing: new Set(['j1']),
        leftAlone: new Set(['j2']),
        takeReason: { j3: undefined, j4: 'free', j5: 'free', j6: undefined, j7: 'free' },
      }),
    );
    // share 8, room 8 - 1 - 1 = 6, but only j4, j5 and j7 are takeable.
    expect([...plan.take].sort()).toEqual(['j4', 'j5', 'j7']);
  });

  it('releases exactly the excess over its share, and never a connection it leaves alone', () => {
    const listed = range('j', 12);
    const held = new Set(range('j', 7)); // j0..j6; share with 3 replicas is 4
    const leftAlone = new Set(['j0', 'j1']);
    const plan = planBalance(input({ listed, held, leftAlone, liveReplicas: 3 }));
    expect(plan.take).toEqual([]);
    expect(plan.release).toHaveLength(3);
    for (const id of plan.release) {
      expect(held.has(id)).toBe(true);
      expect(leftAlone.has(id)).toBe(false);
    }
    expect(new Set(plan.release).size).toBe(3);
  });

  it('releases fewer than the excess when it leaves the rest alone', () => {
    const listed = range('j', 4);
    const held = new Set(listed); // share with 2 replicas is 2: excess 2
    const plan = planBalance(input({ listed, held, leftAlone: new Set(['j0', 'j1', 'j2']), liveReplicas: 2 }));
    expect(plan).toMatchObject({ take: [], release: ['j3'] });
  });

  it('does not count what it is already releasing as held', () => {
    const listed = range('j', 4);
    // held j0..j3 of which j2, j3 are being released: keeps 2, the share of 2 replicas.
    const plan = planBalance(
      input({ listed, held: new Set(listed), releasing: new Set(['j2', 'j3']), liveReplicas: 2 }),
    );
    expect(plan).toMatchObject({ take: [], release: [] });
  });

  it('has a leaving replica release everything it holds but those left alone, and take nothing', () => {
    const listed = range('j', 6);
    const plan = planBalance(
      input({
        listed,
        held: new Set(['j0', 'j1', 'j2']),
        releasing: new Set(['j3']),
        leftAlone: new Set(['j1']),
        leaving: true,
        liveReplicas: 3,
      }),
    );
    expect(plan.take).toEqual([]);
    expect([...plan.release].sort()).toEqual(['j0', 'j2']);
  });

  it('has a leaving replica take nothing even when it holds nothing and everything is free', () => {
    const plan = planBalance(input({ listed: range('j', 3), leaving: true }));
    expect(plan).toMatchObject({ take: [], release: [] });
  });

  it("prefers 'releasing' over 'free' over 'expired'", () => {
    const listed = ['e1', 'f1', 'r1', 'e2', 'f2', 'r2'];
    const reasons: Record<string, TakeReason> = {
      e1: 'expired',
      e2: 'expired',
      f1: 'free',
      f2: 'free',
      r1: 'releasing',
      r2: 'releasing',
    };
    const ofKind = (ids: string[]): TakeReason[] => ids.map((id) => reasons[id]!);

    // 6 connections, 3 replicas: share 2.
    const two = planBalance(input({ listed, takeReason: reasons, liveReplicas: 3 }));
    expect([...two.take].sort()).toEqual(['r1', 'r2']);
    // share 3: both releasing, then one free.
    const three = planBalance(input({ listed, takeReason: reasons, liveReplicas: 2 }));
    expect(ofKind(three.take)).toEqual(['releasing', 'releasing', 'free']);
    // share 6: every one, in order of preference.
    const all = planBalance(input({ listed, takeReason: reasons, liveReplicas: 1 }));
    expect(ofKind(all.take)).toEqual(['releasing', 'releasing', 'free', 'free', 'expired', 'expired']);
    // With several tie breaks, the preference holds whatever the hash order.
    for (const tieBreak of range('t', 20)) {
      const plan = planBalance(input({ listed, takeReason: reasons, liveReplicas: 2, tieBreak }));
      expect(ofKind(plan.take)).toEqual(['releasing', 'releasing', 'free']);
    }
  });

  it('counts connections being released against the room to take', () => {
    const listed = range('j', 8);
    // share 4 with 2 replicas; holds 1, releases 2: room 1.
    const plan = planBalance(
      input({ listed, held: new Set(['j0']), releasing: new Set(['j1', 'j2']), liveReplicas: 2 }),
    );
    expect(plan.release).toEqual([]);
    expect(plan.take).toHaveLength(1);
    expect(['j0', 'j1', 'j2']).not.toContain(plan.take[0]);
    // holds 2, releases 2: no room.
    const full = planBalance(
      input({ listed, held: new Set(['j0', 'j3']), releasing: new Set(['j1', 'j2']), liveReplicas: 2 }),
    );
    expect(full).toMatchObject({ take: [], release: [] });
  });

  it('never takes an id that is not in the list, even when said takeable', () => {
    const asked: string[] = [];
    const plan = planBalance(
      input({
        listed: ['a', 'b'],
        takeReason: (id) => {
          asked.push(id);
          return 'free';
        },
      }),
    );
    expect([...plan.take].sort()).toEqual(['a', 'b']);
    expect(asked.every((id) => id === 'a' || id === 'b')).toBe(true);
  });

  it('does not count held ids that are not in the list towards its share, nor release them', () => {
    const listed = range('j', 4);
    // share 2 with 2 replicas; holds j0 and three unlisted ids.
    const plan = planBalance(input({ listed, held: new Set(['j0', 'x1', 'x2', 'x3']), liveReplicas: 2 }));
    expect(plan.release).toEqual([]);
    expect(plan.take).toHaveLength(1);
    expect(plan.take[0]).toMatch(/^j[123]$/);
    // Over its share with unlisted ones among them: only listed ones are released.
    const over = planBalance(input({ listed, held: new Set(['j0', 'j1', 'j2', 'x1']), liveReplicas: 2 }));
    expect(over.take).toEqual([]);
    expect(over.release).toHaveLength(1);
    expect(over.release[0]).toMatch(/^j[012]$/);
    // Leaving: unlisted ids are not released either.
    const leaving = planBalance(input({ listed, held: new Set(['j0', 'x1']), leaving: true }));
    expect(leaving).toMatchObject({ take: [], release: ['j0'] });
  });

  it('does not count ids that are not in the list and being released against the room to take', () => {
    const listed = range('j', 4);
    // share 2 with 2 replicas, holds nothing listed: room 2. `x1` is no longer listed, so it
    // is no share of this list and should not use up room. (Latent today: LeaseOwnership
    // drops an unlisted id from its held set in offer(), so it never reaches `releasing`.)
    const plan = planBalance(input({ listed, releasing: new Set(['x1']), liveReplicas: 2 }));
    expect(plan.take).toHaveLength(2);
  });

  it('is deterministic for a given tie break', () => {
    const listed = range('conn-', 40);
    const a = planBalance(input({ listed, liveReplicas: 4, tieBreak: 'instance-a' }));
    const again = planBalance(input({ listed: [...listed].reverse(), liveReplicas: 4, tieBreak: 'instance-a' }));
    expect(again.take).toEqual(a.take);
    const release = (tieBreak: string) =>
      planBalance(input({ listed, held: new Set(listed), liveReplicas: 4, tieBreak })).release;
    expect(release('instance-a')).toEqual(release('instance-a'));
  });

  it('has replicas with different tie breaks mostly choose different connections from the same candidates', () => {
    const listed = range('conn-', 40);
    // Share 10 each out of 40 free: were the order the same, both would take the same 10.
    const a = planBalance(input({ listed, liveReplicas: 4, tieBreak: 'instance-a' })).take;
    const b = planBalance(input({ listed, liveReplicas: 4, tieBreak: 'instance-b' })).take;
    expect(a).toHaveLength(10);
    expect(b).toHaveLength(10);
    const overlap = a.filter((id) => b.includes(id)).length;
    // Random picks of 10 of 40 share 2.5 on average; 7 or more is very unlikely and deterministic here.
    expect(overlap).toBeLessThan(7);

    // Over many pairs of replicas, most of their choices differ.
    let shared = 0;
    let total = 0;
    for (let i = 0; i < 20; i++) {
      const x = planBalance(input({ listed, liveReplicas: 4, tieBreak: `replica-${i}` })).take;
      const y = planBalance(input({ listed, liveReplicas: 4, tieBreak: `replica-${i + 100}` })).take;
      shared += x.filter((id) => y.includes(id)).length;
      total += x.length;
    }
    expect(shared / total).toBeLessThan(0.5);
  });
});

describe('planBalance, connections nobody serves', () => {
  it('takes overdue free or expired connections beyond its share, never a releasing one', () => {
    const plan = planBalance(
      input({
        listed: ['a', 'b', 'c', 'd'],
        held: new Set(['a', 'b']),
        liveReplicas: 2,
        takeReason: { c: 'expired', d: 'releasing' },
        overdue: (id) => id === 'c' || id === 'd',
      }),
    );
    expect(plan).toEqual({ take: ['c'], release: [], left: [{ janusId: 'd', why: 'at share' }] });
  });

  it('leaves a connection that is not yet overdue to a replica with room', () => {
    const plan = planBalance(
      input({ listed: ['a', 'b', 'c'], held: new Set(['a', 'b']), liveReplicas: 2, takeReason: { c: 'free' } }),
    );
    expect(plan).toEqual({ take: [], release: [], left: [{ janusId: 'c', why: 'at share' }] });
  });

  it('leaves connections designated to another replica alone, even overdue ones, and takes the rest', () => {
    const listed = range('j', 6);
    const plan = planBalance(
      input({
        listed,
        liveReplicas: 2,
        takeReason: (id) => (id === 'j0' ? 'releasing' : id === 'j1' ? 'free' : 'expired'),
        overdue: () => true,
        designatedElsewhere: (id) => ['j0', 'j2', 'j4'].includes(id),
      }),
    );
    expect([...plan.take].sort()).toEqual(['j1', 'j3', 'j5']);
    expect(plan.left.map((l) => `${l.janusId} ${l.why}`)).toEqual([
      'j0 designated elsewhere',
      'j2 designated elsewhere',
      'j4 designated elsewhere',
    ]);
  });
});

describe('describeLeft', () => {
  it('groups the connections a plan left by why, sorted, with the ids past the limit counted', () => {
    const left = [
      { janusId: 'j3', why: 'at share' as const },
      { janusId: 'j1', why: 'designated elsewhere' as const },
      { janusId: 'j0', why: 'at share' as const },
      { janusId: 'j2', why: 'at share' as const },
    ];
    expect(describeLeft(left, 2)).toBe('at share 3: j0,j2,+1; designated elsewhere 1: j1');
    expect(describeLeft([])).toBe('');
  });
});
