import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  RecentTransactions,
  TransactionTable,
  type AnswerOrError,
  type PendingRequest,
} from '../../src/janus/transactions.js';
import { bridgeError } from '../../src/errors.js';

function request(
  verb = 'message',
  clientTransaction: string | undefined = 'client',
): PendingRequest & { outcomes: AnswerOrError[] } {
  const outcomes: AnswerOrError[] = [];
  return { verb, sessionCommand: false, clientTransaction, settle: (outcome) => outcomes.push(outcome), outcomes };
}

describe('TransactionTable', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives unique transactions within and across tables', () => {
    const a = new TransactionTable(1000);
    const b = new TransactionTable(1000);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      seen.add(a.nextTransaction());
      seen.add(b.nextTransaction());
    }
    expect(seen.size).toBe(100);
  });

  it('adds and takes a request exactly once', () => {
    vi.useFakeTimers();
    const table = new TransactionTable(1000);
    const tx = table.nextTransaction();
    const req = request('attach');
    table.add(tx, req);
    expect(table.size).toBe(1);
    expect(table.verbOf(tx)).toBe('attach');
    const taken = table.take(tx);
    expect(taken?.verb).toBe('attach');
    expect(taken?.clientTransaction).toBe('client');
    expect(table.size).toBe(0);
    expect(table.take(tx)).toBeUndefined();
    expect(table.verbOf(tx)).toBeUndefined();
    // A taken request no longer times out.
    vi.advanceTimersByTime(5000);
    expect(req.outcomes).toEqual([]);
  });

  it('take of an unknown transaction returns undefined', () => {
    const table = new TransactionTable(1000);
    expect(table.take('nope')).toBeUndefined();
  });

  it('times out with 610, calls onAbandoned and leaves the table empty', () => {
    vi.useFakeTimers();
    const onAbandoned = vi.fn();
    const table = new TransactionTable(250, onAbandoned);
    const tx = table.nextTransaction();
    const req = request('message', 'c1');
    table.add(tx, req);
    vi.advanceTimersByTime(249);
    expect(req.outcomes).toEqual([]);
    expect(onAbandoned).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(req.outcomes).toHaveLength(1);
    const outcome = req.outcomes[0]!;
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(outcome.error.code).toBe(610);
      expect(outcome.error.name).toBe('timeout');
      expect(outcome.error.reason).toContain('250 ms');
    }
    expect(onAbandoned).toHaveBeenCalledTimes(1);
    expect(onAbandoned.mock.calls[0]![0]).toBe(tx);
    expect(onAbandoned.mock.calls[0]![1].verb).toBe('message');
    expect(table.size).toBe(0);
    expect(table.take(tx)).toBeUndefined();
    vi.advanceTimersByTime(10_000);
    expect(req.outcomes).toHaveLength(1);
  });

  it("times out a request with a shorter deadline of its own first, leaving the others to the table's timeout", () => {
    vi.useFakeTimers();
    const onAbandoned = vi.fn();
    const table = new TransactionTable(1000, onAbandoned);
    const [long, short] = [table.nextTransaction(), table.nextTransaction()];
    const [longRequest, shortRequest] = [request('message', 'long'), request('message', 'short')];
    table.add(long, longRequest);
    table.add(short, shortRequest, 200);
    vi.advanceTimersByTime(200);
    expect(shortRequest.outcomes).toHaveLength(1);
    const outcome = shortRequest.outcomes[0]!;
    expect(outcome.ok || outcome.error.reason).toContain("200 ms, the request's Janus-Timeout");
    expect(onAbandoned).toHaveBeenCalledTimes(1);
    expect(longRequest.outcomes).toEqual([]);
    expect(table.size).toBe(1);
    vi.advanceTimersByTime(800);
    expect(longRequest.outcomes).toHaveLength(1);
    expect(table.size).toBe(0);
  });

  it('clears a short deadline once answered: nothing settles twice', () => {
    vi.useFakeTimers();
    const table = new TransactionTable(1000);
    const tx = table.nextTransaction();
    const req = request();
    table.add(tx, req, 100);
    expect(table.take(tx)).toBe(req);
    vi.advanceTimersByTime(5000);
    expect(req.outcomes).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('failAll settles every request with the given error and empties the table', () => {
    vi.useFakeTimers();
    const onAbandoned = vi.fn();
    const table = new TransactionTable(1000, onAbandoned);
    const reqs = [request('attach'), request('message'), request('trickle')];
    const transactions = reqs.map(() => table.nextTransaction());
    reqs.forEach((req, i) => table.add(transactions[i]!, req));
    const error = bridgeError('connection_lost');
    expect(table.failAll(error)).toBe(3);
    expect(table.size).toBe(0);
    for (const req of reqs) expect(req.outcomes).toEqual([{ ok: false, error }]);
    // Each abandoned request is reported once, so a late answer can still be mapped back.
    expect(onAbandoned.mock.calls.map((call) => call[0])).toEqual(transactions);
    vi.advanceTimersByTime(5000);
    expect(onAbandoned).toHaveBeenCalledTimes(3);
    for (const req of reqs) expect(req.outcomes).toHaveLength(1);
    expect(table.failAll(error)).toBe(0);
  });

  it('whenEmpty resolves at once when nothing waits', async () => {
    const table = new TransactionTable(1000);
    await expect(table.whenEmpty()).resolves.toBeUndefined();
  });

  it('whenEmpty resolves only after the last take', async () => {
    vi.useFakeTimers();
    const table = new TransactionTable(1000);
    const t1 = table.nextTransaction();
    const t2 = table.nextTransaction();
    table.add(t1, request());
    table.add(t2, request());
    let resolved = false;
    const done = table.whenEmpty().then(() => {
      resolved = true;
    });
    table.take(t1);
    await Promise.resolve();
    await Promise.resolve();
    expect(resolved).toBe(false);
    table.take(t2);
    await done;
    expect(resolved).toBe(true);
  });

  it('whenEmpty resolves after a timeout empties the table', async () => {
    vi.useFakeTimers();
    const table = new TransactionTable(100);
    table.add(table.nextTransaction(), request());
    let resolved = false;
    const done = table.whenEmpty().then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(false);
    vi.advanceTimersByTime(100);
    await done;
    expect(resolved).toBe(true);
  });
});

describe('RecentTransactions', () => {
  it('remembers the client transaction', () => {
    const recent = new RecentTransactions(10, 1000, () => 0);
    recent.remember('ours-1', 'theirs-1');
    expect(recent.lookup('ours-1')).toEqual({ found: true, client: 'theirs-1' });
  });

  it('tells an unknown transaction from one the client sent without a transaction', () => {
    const recent = new RecentTransactions(10, 1000, () => 0);
    recent.remember('ours-1', undefined);
    expect(recent.lookup('ours-1')).toEqual({ found: true, client: undefined });
    expect(recent.lookup('ours-2')).toEqual({ found: false, client: undefined });
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const recent = new RecentTransactions(3, 1_000_000, () => 0);
    for (let i = 1; i <= 5; i++) recent.remember(`t${i}`, `c${i}`);
    expect(recent.size).toBe(3);
    expect(recent.lookup('t1').found).toBe(false);
    expect(recent.lookup('t2').found).toBe(false);
    expect(recent.lookup('t3')).toEqual({ found: true, client: 'c3' });
    expect(recent.lookup('t5')).toEqual({ found: true, client: 'c5' });
  });

  it('refreshes an entry remembered again, so it is not the oldest', () => {
    const recent = new RecentTransactions(2, 1_000_000, () => 0);
    recent.remember('a', 'A');
    recent.remember('b', 'B');
    recent.remember('a', 'A2');
    recent.remember('c', 'C');
    expect(recent.lookup('a')).toEqual({ found: true, client: 'A2' });
    expect(recent.lookup('b').found).toBe(false);
    expect(recent.size).toBe(2);
  });

  it('forgets entries after the TTL', () => {
    let now = 1000;
    const recent = new RecentTransactions(10, 500, () => now);
    recent.remember('t', 'c');
    now = 1499;
    expect(recent.lookup('t')).toEqual({ found: true, client: 'c' });
    now = 1500;
    expect(recent.lookup('t')).toEqual({ found: false, client: undefined });
  });

  it('prunes expired entries when remembering new ones', () => {
    let now = 0;
    const recent = new RecentTransactions(10, 500, () => now);
    recent.remember('old1', 'a');
    recent.remember('old2', 'b');
    now = 400;
    recent.remember('mid', 'm');
    now = 600;
    recent.remember('new', 'n');
    expect(recent.size).toBe(2);
    expect(recent.lookup('mid')).toEqual({ found: true, client: 'm' });
    expect(recent.lookup('new')).toEqual({ found: true, client: 'n' });
  });
});

describe('TransactionTable expiry with one timer', () => {
  it('times out requests in deadline order, each at its own deadline, however many wait', () => {
    vi.useFakeTimers();
    const table = new TransactionTable(1000);
    const early = Array.from({ length: 3 }, () => request('message'));
    early.forEach((req) => table.add(table.nextTransaction(), req));
    vi.advanceTimersByTime(400);
    const late = Array.from({ length: 2 }, () => request('message'));
    const lateTx = late.map(() => table.nextTransaction());
    late.forEach((req, i) => table.add(lateTx[i]!, req));
    vi.advanceTimersByTime(599);
    expect(early.map((r) => r.outcomes.length)).toEqual([0, 0, 0]);
    vi.advanceTimersByTime(1);
    expect(early.map((r) => r.outcomes[0]?.ok)).toEqual([false, false, false]);
    expect(late.map((r) => r.outcomes.length)).toEqual([0, 0]);
    expect(table.take(lateTx[0]!)).toBe(late[0]);
    vi.advanceTimersByTime(399);
    expect(late[1]!.outcomes).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(late[1]!.outcomes).toHaveLength(1);
    expect(late[0]!.outcomes).toHaveLength(0);
    expect(table.size).toBe(0);
  });
});

describe('RecentTransactions at its bound', () => {
  it('keeps exactly the newest maxEntries and forgets the rest, over many rounds', () => {
    const recent = new RecentTransactions(100, 60_000, () => 0);
    for (let i = 0; i < 10_000; i++) recent.remember(`t${i}`, `c${i}`);
    expect(recent.size).toBe(100);
    expect(recent.lookup('t9899')).toEqual({ found: false, client: undefined });
    expect(recent.lookup('t9900')).toEqual({ found: true, client: 'c9900' });
    expect(recent.lookup('t9999')).toEqual({ found: true, client: 'c9999' });
  });

  it('keeps a key remembered again when its first record is evicted', () => {
    let now = 0;
    const recent = new RecentTransactions(1000, 100, () => now);
    recent.remember('a', 'first');
    now = 50;
    recent.remember('a', 'second');
    now = 120;
    recent.remember('b', 'x');
    expect(recent.lookup('a')).toEqual({ found: true, client: 'second' });
  });
});
