import { describe, expect, it } from 'vitest';
import {
  designatedElsewhere,
  designatedTaker,
  handOverTarget,
  leasesHeldBy,
  overdueAfterMs,
  takerRanking,
} from '../../src/ha/designated-taker.js';

const ids = Array.from({ length: 300 }, (_, i) => `j${i}`);

describe('designatedTaker', () => {
  it('names the same replica whatever the order the replicas are listed in', () => {
    for (const id of ids.slice(0, 50))
      expect(designatedTaker(id, ['r1', 'r2', 'r3'])).toBe(designatedTaker(id, ['r3', 'r1', 'r2']));
  });

  it('spreads connections over the replicas about evenly', () => {
    const counts = new Map<string, number>();
    for (const id of ids) {
      const taker = designatedTaker(id, ['r1', 'r2', 'r3'])!;
      counts.set(taker, (counts.get(taker) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['r1', 'r2', 'r3']);
    for (const count of counts.values()) expect(count).toBeGreaterThan(70);
  });

  it('moves only the connections of a replica that goes: the others keep their taker', () => {
    const moved = ids.filter((id) => designatedTaker(id, ['r1', 'r2', 'r3']) !== designatedTaker(id, ['r1', 'r2']));
    expect(moved.length).toBeGreaterThan(0);
    for (const id of moved) expect(designatedTaker(id, ['r1', 'r2', 'r3'])).toBe('r3');
  });

  it('names nobody without replicas, and the only one when alone', () => {
    expect(designatedTaker('j1', [])).toBeUndefined();
    expect(designatedTaker('j1', ['r1'])).toBe('r1');
  });
});

describe('handOverTarget', () => {
  it('hands over to a replica below the share, never one at it', () => {
    const held = new Map([
      ['r2', 5],
      ['r3', 3],
      ['r4', 4],
    ]);
    const targets = new Set(ids.slice(0, 40).map((id) => handOverTarget(id, held, 5)));
    expect([...targets].sort()).toEqual(['r3', 'r4']);
  });

  it('picks among all when every one is at the share, and nobody when there is nobody', () => {
    const held = new Map([
      ['r2', 5],
      ['r3', 5],
    ]);
    expect(['r2', 'r3']).toContain(handOverTarget('j1', held, 5));
    expect(handOverTarget('j1', new Map(), 5)).toBeUndefined();
  });
});

describe('designatedElsewhere', () => {
  const self = { replica: 'r1', instance: 'r1-i' };
  const sharing = ['r1', 'r2', 'r3'];
  const FIRST = 500;
  const mine = ids.find((id) => designatedTaker(id, sharing) === 'r1')!;
  const theirs = ids.find((id) => designatedTaker(id, sharing) === 'r2')!;
  const expired = (janusId: string, unservedForMs: number) => ({
    janusId,
    why: 'expired' as const,
    lease: { instance: 'r9-i' },
    leaseSeenForMs: 10_000,
    unservedForMs,
  });

  it("leaves a dead owner's connection to its designated taker, then to each of the others in turn", () => {
    const rank = takerRanking(theirs, sharing).indexOf('r1');
    expect(rank).toBeGreaterThan(0);
    expect(designatedElsewhere(expired(theirs, 0), self, sharing, FIRST)).toBe(true);
    expect(designatedElsewhere(expired(theirs, rank * FIRST - 1), self, sharing, FIRST)).toBe(true);
    expect(designatedElsewhere(expired(theirs, rank * FIRST), self, sharing, FIRST)).toBe(false);
    expect(designatedElsewhere(expired(mine, 0), self, sharing, FIRST)).toBe(false);
  });

  it('never lets two replicas become takers of one connection at the same moment', () => {
    const four = ['r1', 'r2', 'r3', 'r4'];
    for (const id of ids) {
      // The first moment (in steps of FIRST) at which each replica may take it.
      const firstMoments = four.map((replica) => {
        const me = { replica, instance: `${replica}-i` };
        let step = 0;
        while (designatedElsewhere(expired(id, step * FIRST), me, four, FIRST)) step++;
        return step;
      });
      expect([id, [...firstMoments].sort()]).toEqual([id, [0, 1, 2, 3]]);
    }
  });

  it('puts a replica outside the sharing ones (blind) last', () => {
    const blind = { replica: 'r4', instance: 'r4-i' };
    expect(designatedElsewhere(expired(theirs, 3 * FIRST - 1), blind, sharing, FIRST)).toBe(true);
    expect(designatedElsewhere(expired(theirs, 3 * FIRST), blind, sharing, FIRST)).toBe(false);
  });

  it('leaves a releasing lease to the replica it names first; one naming nobody is anyone’s', () => {
    const releasing = (to: string | undefined, leaseSeenForMs: number) => ({
      janusId: theirs,
      why: 'releasing' as const,
      lease: { instance: 'r3-i', ...(to ? { to } : {}) },
      leaseSeenForMs,
      unservedForMs: 0,
    });
    // After the named one, the others in the ranking's order.
    const after = 1 + takerRanking(theirs, ['r1', 'r3']).indexOf('r1');
    expect(designatedElsewhere(releasing('r2', 100), self, sharing, FIRST)).toBe(true);
    expect(designatedElsewhere(releasing('r2', after * FIRST - 1), self, sharing, FIRST)).toBe(true);
    expect(designatedElsewhere(releasing('r2', after * FIRST), self, sharing, FIRST)).toBe(false);
    expect(designatedElsewhere(releasing('r1', 100), self, sharing, FIRST)).toBe(false);
    expect(designatedElsewhere(releasing(undefined, 100), self, sharing, FIRST)).toBe(false);
  });

  it('never leaves our own lease to another, nor one nobody may take', () => {
    const own = { ...expired(theirs, 0), why: 'free' as const, lease: { instance: 'r1-i' } };
    expect(designatedElsewhere(own, self, sharing, FIRST)).toBe(false);
    expect(designatedElsewhere({ ...expired(theirs, 0), why: undefined }, self, sharing, FIRST)).toBe(false);
  });
});

describe('overdueAfterMs', () => {
  it('lets each sharing replica have its turn first, then one replica at a time take beyond its share', () => {
    const sharing = new Set(['r1', 'r2', 'r3']);
    for (const id of ids) {
      const after = [...sharing].map((replica) => overdueAfterMs(id, replica, sharing, 500, 20_000));
      expect([id, [...after].sort((a, b) => a - b)]).toEqual([id, [1500, 2000, 2500]]);
    }
  });

  it('is never longer than the given bound (a lease TTL), and puts a replica outside the sharing ones last', () => {
    const sharing = new Set(['r1', 'r2', 'r3']);
    expect(overdueAfterMs('j1', 'r1', sharing, 5000, 12_000)).toBeLessThanOrEqual(12_000);
    expect(overdueAfterMs('j1', 'r9', sharing, 500, 20_000)).toBe(3000);
  });
});

describe('leasesHeldBy', () => {
  it('counts the leases of each given replica, zero for one holding none, ignoring the rest', () => {
    const held = leasesHeldBy(['r2', 'r3'], [{ replica: 'r2' }, { replica: 'r1' }, { replica: 'r2' }]);
    expect([...held]).toEqual([
      ['r2', 2],
      ['r3', 0],
    ]);
  });
});
