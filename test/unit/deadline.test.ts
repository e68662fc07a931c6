import { describe, expect, it } from 'vitest';
import { requestDeadline } from '../../src/bridge/deadline.js';

describe("a request's deadline from Janus-Timeout", () => {
  it('is janus.cmdTimeout without the header', () => {
    expect(requestDeadline(undefined, 5000)).toEqual({ ok: true, timeoutMs: 5000 });
  });

  it.each([
    ['1', 1],
    ['800', 800],
    [' 1200 ', 1200],
    ['5000', 5000],
    ['60000', 5000],
    ['2147483647', 5000],
  ])('takes %j as %d ms with cmdTimeout 5000', (header, ms) => {
    expect(requestDeadline(header, 5000)).toEqual({ ok: true, timeoutMs: ms });
  });

  it.each([[''], ['0'], ['-1'], ['1.5'], ['1e3'], ['0x10'], ['12ms'], ['2147483648'], ['99999999999'], ['١٢']])(
    'refuses %j with 607',
    (header) => {
      const deadline = requestDeadline(header, 5000);
      expect(deadline.ok).toBe(false);
      if (deadline.ok) return;
      expect(deadline.error.code).toBe(607);
      expect(deadline.error.name).toBe('invalid_header');
    },
  );

  it('describes a bad value by its length, never quoting it', () => {
    const deadline = requestDeadline('abc\r\nInjected: 1', 5000);
    expect(deadline.ok).toBe(false);
    if (deadline.ok) return;
    expect(deadline.error.reason).toContain('a value of 16 characters');
    expect(deadline.error.reason).not.toContain('Injected');
  });
});
