import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { bucketNameOf, replicaIdOf } from '../../src/ha/start-lease-ownership.js';

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
