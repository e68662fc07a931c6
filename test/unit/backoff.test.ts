import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/backoff.js';

const policy = { minDelay: 100, maxDelay: 1500 };
const top = (): number => 1;
const bottom = (): number => 0;

describe('backoffDelay', () => {
  it('grows exponentially from minDelay', () => {
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, policy, top))).toEqual([100, 200, 400, 800]);
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(attempt, policy, bottom))).toEqual([50, 100, 200, 400]);
  });

  it('is capped at maxDelay', () => {
    expect(backoffDelay(4, policy, top)).toBe(1500);
    expect(backoffDelay(10, policy, top)).toBe(1500);
    expect(backoffDelay(10, policy, bottom)).toBe(750);
  });

  it('treats negative attempts as the first', () => {
    expect(backoffDelay(-5, policy, top)).toBe(100);
  });

  it('stays between half and all of the ceiling for any random value', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(policy.maxDelay, policy.minDelay * 2 ** attempt);
      for (const r of [0, 0.25, 0.5, 0.999, 1]) {
        const delay = backoffDelay(attempt, policy, () => r);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('uses the random source for the upper half', () => {
    expect(backoffDelay(10, policy, () => 0.5)).toBe(1125);
  });

  it('does not overflow for huge attempt numbers', () => {
    for (const attempt of [31, 1000, 1e9, Number.MAX_SAFE_INTEGER, Infinity]) {
      expect(backoffDelay(attempt, policy, top)).toBe(1500);
      expect(backoffDelay(attempt, policy, bottom)).toBe(750);
    }
    const huge = { minDelay: 1000, maxDelay: Number.MAX_SAFE_INTEGER };
    const delay = backoffDelay(1e6, huge, top);
    expect(Number.isFinite(delay)).toBe(true);
    expect(delay).toBe(1000 * 2 ** 30);
  });
});
