import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BalanceAlarm } from '../../src/ha/balance-alarm.js';

describe('BalanceAlarm', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const alarm = () => {
    const rang: number[] = [];
    const start = Date.now();
    return {
      rang,
      alarm: new BalanceAlarm(
        () => rang.push(Date.now() - start),
        () => Date.now(),
      ),
    };
  };

  it('rings once, no later than the earliest time asked for', () => {
    const { rang, alarm: a } = alarm();
    a.in(300);
    a.in(100);
    a.in(200);
    vi.advanceTimersByTime(1000);
    expect(rang).toEqual([100]);
  });

  it('can be set again after it rang', () => {
    const { rang, alarm: a } = alarm();
    a.in(100);
    vi.advanceTimersByTime(150);
    a.in(100);
    vi.advanceTimersByTime(1000);
    expect(rang).toEqual([100, 250]);
  });

  it('rings at once for a time already past, and never after stop(), even when asked again', () => {
    const { rang, alarm: a } = alarm();
    a.in(-5);
    vi.advanceTimersByTime(0);
    expect(rang).toEqual([0]);
    a.in(100);
    a.stop();
    a.in(50);
    vi.advanceTimersByTime(1000);
    expect(rang).toEqual([0]);
  });
});
