/** Several replicas: the ownership bucket, the relay and LeaseOwnership, wired for the daemon. */
import { hostname } from 'node:os';
import { ErrorCode, type NatsError } from 'nats';
import { backoffDelay } from '../backoff.js';
import { sleep } from '../sleep.js';
import type { BridgedConnection } from '../bridge/bridged-connection.js';
import { jetStreamNameFrom } from '../nats-names.js';
import type { BridgeConfig } from '../config/schema.js';
import type { ServedConnections } from '../connections/served.js';
import type { Logger } from '../log.js';
import type { NatsPublisher } from '../nats/publisher.js';
import { LeaseBucket } from './lease-bucket.js';
import { LeaseOwnership, type LeaseMetrics } from './lease-ownership.js';
import type { AnswerRelay } from './relay.js';
import { connectionHostFor } from './connection-host.js';

/** ha.replicaId, or the host name (the pod name on Kubernetes). */
export function replicaIdOf(config: BridgeConfig): string {
  return config.ha.replicaId || hostname();
}

/** ha.bucket, or `<prefix>_owners` with the prefix's dots as underscores. */
export function bucketNameOf(config: BridgeConfig): string {
  return config.ha.bucket || `${jetStreamNameFrom(config.nats.subjectPrefix)}_owners`;
}

/** Tries to open the bucket this many times when JetStream times out, a few seconds apart. */
export const BUCKET_OPEN_ATTEMPTS = 5;
const BUCKET_OPEN_BACKOFF = { minDelay: 1000, maxDelay: 8000 };

/**
 * Runs `open` again while it times out, up to BUCKET_OPEN_ATTEMPTS times: a replica started
 * with a NATS cluster that is still electing its JetStream leaders (a whole cluster started at
 * once, a node restarted) waits for it rather than exits. Any other error (JetStream absent: no
 * responders) ends it at once.
 */
export async function patiently<T>(
  open: () => Promise<T>,
  retrying: (err: Error, retryInMs: number) => void,
  pause: (ms: number) => Promise<void> = sleep,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (err) {
      if ((err as NatsError).code !== ErrorCode.Timeout || attempt + 1 >= BUCKET_OPEN_ATTEMPTS) throw err;
      const delay = backoffDelay(attempt, BUCKET_OPEN_BACKOFF);
      retrying(err as Error, delay);
      await pause(delay);
    }
  }
}

export async function startLeaseOwnership(
  config: BridgeConfig,
  parts: {
    publisher: NatsPublisher;
    served: ServedConnections<BridgedConnection>;
    relay: AnswerRelay;
    metrics: LeaseMetrics;
    instance: string;
  },
  log: Logger,
): Promise<LeaseOwnership> {
  const leaseTtlMs = Math.round(config.ha.leaseTtl * 1000);
  const handoverTimeoutMs = Math.round(config.ha.handoverTimeout * 1000);
  const haLog = log.child({ component: 'ownership' });
  const name = bucketNameOf(config);
  const bucket = await patiently(
    () =>
      LeaseBucket.open(
        parts.publisher.nc,
        {
          name,
          replicas: config.ha.bucketReplicas,
          // A write slower than a third of the lease is as good as failed: the next renewal is due.
          timeoutMs: Math.max(500, Math.floor(leaseTtlMs / 3)),
        },
        haLog,
      ),
    (err, retryInMs) =>
      haLog.warn(
        { bucket: name, err: err.message, retry_in_ms: retryInMs },
        'the ownership bucket did not answer in time (JetStream electing a leader?); trying again',
      ),
  ).catch((err: Error & { code?: string }) => {
    const why =
      err.code === '503'
        ? 'JetStream does not answer on this NATS server (no responders on $JS.API: is it enabled, and this account ' +
          'allowed to use it?)'
        : err.message;
    throw Object.assign(new Error(`ha.enabled needs the JetStream KV bucket "${name}": ${why}`), {
      code: 'JNB_HA_UNAVAILABLE',
    });
  });
  const host = connectionHostFor(parts.served, parts.relay, {
    serveWaitMs: handoverTimeoutMs,
    requestGraceMs: config.janus.cmdTimeout,
  });
  const leaseOwnership = new LeaseOwnership(
    bucket,
    host,
    {
      replicaId: replicaIdOf(config),
      instance: parts.instance,
      leaseTtlMs,
      handoverTimeoutMs,
      requestGraceMs: config.janus.cmdTimeout,
    },
    parts.metrics,
    haLog,
  );
  await leaseOwnership.start();
  parts.publisher.onReconnect(() => void leaseOwnership.resync());
  return leaseOwnership;
}
