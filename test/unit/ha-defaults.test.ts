import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { NatsError } from 'nats';
import { BUCKET_OPEN_ATTEMPTS, bucketNameOf, patiently, replicaIdOf } from '../../src/ha/start-lease-ownership.js';

function config(env: Record<string, string>) {
  const loaded = loadConfig({ env });
  if (!loaded.ok) throw new Error(loaded.problem);
  return loaded.config;
}

describe('ha defaults', () => {
  it('names the replica after the host (the pod name on Kubernetes) unless ha.replicaId says otherwise', () => {
    expect(replicaIdOf(config({}))).toBe(hostname());
    expect(replicaIdOf(config({ JNB_HA_REPLICA_ID: 'bridge-2' }))).toBe('bridge-2');
  });

  it('names the bucket <prefix>_owners, dots as _, unless ha.bucket says otherwise', () => {
    expect(bucketNameOf(config({}))).toBe('janus_owners');
    expect(bucketNameOf(config({ JNB_NATS_SUBJECT_PREFIX: 'prod.janus' }))).toBe('prod_janus_owners');
    expect(bucketNameOf(config({ JNB_HA_BUCKET: 'leases' }))).toBe('leases');
  });
});

describe('opening the ownership bucket', () => {
  const timeout = () => NatsError.errorForCode('TIMEOUT');
  const opener = (failures: Array<() => Error>) => {
    let calls = 0;
    const open = async (): Promise<string> => {
      const failure = failures[calls++];
      if (failure) throw failure();
      return 'bucket';
    };
    return { open, calls: () => calls };
  };
  const withoutPauses = <T>(open: () => Promise<T>): Promise<T> =>
    patiently(
      open,
      () => {},
      async () => {},
    );

  it('tries again, backing off, while JetStream times out (an election), and goes on once it answers', async () => {
    const { open, calls } = opener([timeout, timeout]);
    const pauses: number[] = [];
    const warned: number[] = [];
    const bucket = await patiently(
      open,
      (_err, retryInMs) => warned.push(retryInMs),
      async (ms) => void pauses.push(ms),
    );
    expect(bucket).toBe('bucket');
    expect(calls()).toBe(3);
    expect(warned).toEqual(pauses);
    expect(pauses).toHaveLength(2);
    expect(pauses[0]).toBeGreaterThanOrEqual(500);
    expect(pauses[1]).toBeGreaterThanOrEqual(1000);
  });

  it('gives up after a bounded number of timeouts with the last error', async () => {
    const { open, calls } = opener(Array.from({ length: 10 }, () => timeout));
    await expect(withoutPauses(open)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(calls()).toBe(BUCKET_OPEN_ATTEMPTS);
  });

  it('does not wait when JetStream is absent (no responders): that is a configuration to fix', async () => {
    const { open, calls } = opener([() => NatsError.errorForCode('503')]);
    await expect(withoutPauses(open)).rejects.toMatchObject({ code: '503' });
    expect(calls()).toBe(1);
  });
});
