import { describe, expect, it } from 'vitest';
import { PendingBudget } from '../../src/nats/pending-budget.js';
import { dialTimeoutMs } from '../../src/nats/client.js';

describe('bytes handed to NATS and not yet confirmed', () => {
  it('counts what was handed over until a ping sent after it is answered', () => {
    const budget = new PendingBudget();
    budget.handed(100);
    const mark = budget.startProbe(0);
    budget.handed(50);
    expect(budget.unconfirmed).toBe(150);
    budget.confirm(mark);
    expect(budget.unconfirmed).toBe(50);
    expect(budget.probeAge(10)).toBeUndefined();
  });

  it('tells how long the ping out has waited, and none when none is out', () => {
    const budget = new PendingBudget();
    expect(budget.probeAge(5)).toBeUndefined();
    expect(budget.probing).toBe(false);
    budget.startProbe(1_000);
    expect(budget.probing).toBe(true);
    expect(budget.probeAge(5_500)).toBe(4_500);
    budget.abandonProbe();
    expect(budget.probeAge(6_000)).toBeUndefined();
  });

  it('never moves the confirmed count back when an older answer comes late', () => {
    const budget = new PendingBudget();
    budget.handed(10);
    const first = budget.startProbe(0);
    budget.handed(10);
    const second = budget.startProbe(1);
    budget.confirm(second);
    budget.confirm(first);
    expect(budget.unconfirmed).toBe(0);
  });

  it('says how much a dropped connection took with it, and starts over from zero', () => {
    const budget = new PendingBudget();
    budget.handed(300);
    budget.startProbe(0);
    expect(budget.writeOffUnconfirmed()).toBe(300);
    expect(budget.unconfirmed).toBe(0);
    expect(budget.probeAge(1)).toBeUndefined();
  });
});

describe('dial timeout', () => {
  it('is half the stall timeout, and never below one second', () => {
    expect(dialTimeoutMs(4_000)).toBe(2_000);
    expect(dialTimeoutMs(1_000)).toBe(1_000);
    expect(dialTimeoutMs(30_000)).toBe(15_000);
  });
});
