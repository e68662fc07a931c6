import { describe, expect, it } from 'vitest';
import { readinessProblems } from '../../src/ops/readiness.js';

const base = {
  stopping: false,
  natsConnected: true,
  listProblem: undefined,
  connectionStates: ['ready', 'disconnected'],
  readyShare: 0,
};

describe('readinessProblems', () => {
  it('is ready with NATS up and the list loaded, whatever Janus does, when readyShare is 0', () => {
    expect(readinessProblems({ ...base, connectionStates: ['disconnected', 'disconnected'] })).toEqual([]);
  });

  it('lists every reason at once', () => {
    expect(
      readinessProblems({
        ...base,
        stopping: true,
        natsConnected: false,
        listProblem: 'connection list not loaded: db down',
      }),
    ).toEqual(['shutting down', 'NATS not connected', 'connection list not loaded: db down']);
  });

  it.each([
    [0.5, ['ready', 'disconnected'], []],
    [0.51, ['ready', 'disconnected'], ['1 of 2 Janus connections ready, http.readyShare needs 2']],
    [1, ['ready', 'ready', 'connecting'], ['2 of 3 Janus connections ready, http.readyShare needs 3']],
    [1, ['ready', 'ready'], []],
    [0.1, ['disconnected'], ['0 of 1 Janus connections ready, http.readyShare needs 1']],
    [1, [], []],
  ])('readyShare %s with %j → %j', (readyShare, connectionStates, expected) => {
    expect(readinessProblems({ ...base, readyShare, connectionStates })).toEqual(expected);
  });
});

describe('readinessProblems with http.readyNeedsAdmin', () => {
  it('needs every Admin API link open when asked (adminStates given), and ignores them otherwise', () => {
    expect(readinessProblems({ ...base, adminStates: ['ready', 'ready'] })).toEqual([]);
    expect(readinessProblems({ ...base, adminStates: [] })).toEqual([]);
    expect(readinessProblems({ ...base, adminStates: ['ready', 'disconnected', 'connecting'] })).toEqual([
      '1 of 3 Janus Admin API links open, http.readyNeedsAdmin needs all',
    ]);
    expect(readinessProblems({ ...base, adminStates: undefined })).toEqual([]);
  });
});
