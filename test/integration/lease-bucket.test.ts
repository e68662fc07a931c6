/**
 * The ownership bucket against a real nats-server with JetStream: compare-and-set answers
 * naming the leader's revision, and reads from the stream's leader (the last entry of a key,
 * a delete marker, a key never written). The replicas around it: ha.test.ts, cluster.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LeaseBucket } from '../../src/ha/lease-bucket.js';
import { decodeLease, leaseKey, type Lease } from '../../src/ha/lease-record.js';
import { createLogger } from '../../src/log.js';
import { startNats, type NatsServer } from '../support/processes.js';

let nats: NatsServer;
let nc: NatsConnection;
let bucket: LeaseBucket;

const lease = (state: Lease['state']): Lease => ({
  replica: 'r1',
  instance: 'r1-a',
  session_id: 7,
  since: '2026-01-01T00:00:00.000Z',
  state,
  ttl_ms: 6000,
  v: 2,
});

beforeAll(async () => {
  nats = await startNats(undefined, ['-js', '-sd', mkdtempSync(join(tmpdir(), 'jnb-lease-bucket-'))]);
  nc = await connect({ servers: nats.url });
  bucket = await LeaseBucket.open(
    nc,
    { name: 'lease_bucket_test', replicas: 1, timeoutMs: 2000 },
    createLogger('silent'),
  );
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

it("reads a key's last entry from the leader, with its revision", async () => {
  const key = leaseKey('j-read');
  const first = await bucket.create(key, lease('taking'));
  const second = first.ok ? await bucket.update(key, lease('serving'), first.revision) : first;
  expect(second.ok).toBe(true);
  const read = await bucket.read(key);
  expect(read).toMatchObject({ key, operation: 'PUT', revision: second.ok ? second.revision : -1 });
  expect(decodeLease(read!.value)).toEqual(lease('serving'));
});

it('reads a delete marker as DEL, and a key never written as nothing', async () => {
  const key = leaseKey('j-deleted');
  const written = await bucket.create(key, lease('serving'));
  expect(written.ok).toBe(true);
  await bucket.delete(key);
  expect(await bucket.read(key)).toMatchObject({ key, operation: 'DEL' });
  expect(await bucket.read(leaseKey('j-never'))).toBeUndefined();
});

it("answers a write over a stale revision with the key's revision on the leader", async () => {
  const key = leaseKey('j-conflict');
  const first = await bucket.create(key, lease('taking'));
  const second = first.ok ? await bucket.update(key, lease('serving'), first.revision) : first;
  if (!first.ok || !second.ok) throw new Error('setup writes failed');
  const refused = await bucket.update(key, lease('releasing'), first.revision);
  expect(refused).toMatchObject({ ok: false, conflict: true, current: second.revision });
});

it("refuses a create over a delete marker, naming the marker's revision; an update over it works", async () => {
  const key = leaseKey('j-recreated');
  const first = await bucket.create(key, lease('serving'));
  expect(first.ok).toBe(true);
  await bucket.delete(key);
  const marker = await bucket.read(key);
  expect(marker?.operation).toBe('DEL');
  expect(await bucket.create(key, lease('taking'))).toMatchObject({
    ok: false,
    conflict: true,
    current: marker!.revision,
  });
  expect(await bucket.update(key, lease('taking'), marker!.revision)).toMatchObject({ ok: true });
});
