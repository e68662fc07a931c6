/**
 * The ownership bucket in JetStream KV: opened (created when missing, without a max age:
 * leases are not rewritten while nothing changes, so they must not age out; liveness is the
 * holder's heartbeat), watched, and written with compare-and-set.
 */
import type { JetStreamManager, KV, KvEntry, NatsConnection, QueuedIterator } from 'nats';
import type { Logger } from '../log.js';
import { encodeRecord, type Heartbeat, type Lease } from './lease-record.js';
import type { WatchedEntry } from './ownership-view.js';

export type WriteResult =
  | { ok: true; revision: number }
  | {
      ok: false;
      conflict: boolean;
      reason: string;
      /** On a conflict, the key's revision as the stream's leader has it (from the server's answer), when it says. */
      current?: number;
    };

/** JetStream's "wrong last sequence": someone wrote the key since the revision we gave. */
const WRONG_LAST_SEQUENCE = 10071;
/** JetStream's "no message found": the key has no entry. */
const NO_MESSAGE_FOUND = 10037;

export interface LeaseBucketOptions {
  readonly name: string;
  readonly replicas: number;
  /** How long a write may take before it counts as failed. */
  readonly timeoutMs: number;
}

export class LeaseBucket {
  private constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    readonly name: string,
  ) {}

  static async open(nc: NatsConnection, options: LeaseBucketOptions, log: Logger): Promise<LeaseBucket> {
    // The JetStream context's timeout bounds each write (a KV put is a JetStream publish).
    const kv = await nc
      .jetstream({ timeout: options.timeoutMs })
      .views.kv(options.name, { history: 1, replicas: options.replicas, timeout: options.timeoutMs });
    const status = await kv.status();
    const jsm = await nc.jetstreamManager({ timeout: options.timeoutMs });
    if (status.ttl > 0) {
      // A bucket made by a release that renewed every lease had the lease TTL as its max age: it would now delete live
      // leases.
      const stream = `KV_${options.name}`;
      const info = await jsm.streams.info(stream);
      await jsm.streams.update(stream, { ...info.config, max_age: 0 });
      log.info(
        { bucket: options.name, previous_max_age_ms: status.ttl },
        "ownership bucket: max age removed (leases live by their holder's heartbeat now)",
      );
    }
    return new LeaseBucket(kv, jsm, options.name);
  }

  /**
   * Writes `key` only if it has never been written (or is gone). Not nats.js `kv.create()`: on a
   * conflict that one reads the key with a direct get, which any copy of the stream may answer,
   * and writes over a delete marker's revision from there; on a copy that is behind or numbered
   * differently, that compare-and-set could match another replica's write. Over a delete marker
   * the caller writes with update(), over the revision the leader names.
   */
  create(key: string, record: Lease | Heartbeat): Promise<WriteResult> {
    return this.write(() => this.kv.put(key, encodeRecord(record), { previousSeq: 0 }));
  }

  update(key: string, record: Lease | Heartbeat, revision: number): Promise<WriteResult> {
    return this.write(() => this.kv.update(key, encodeRecord(record), revision));
  }

  put(key: string, record: Lease | Heartbeat): Promise<WriteResult> {
    return this.write(() => this.kv.put(key, encodeRecord(record)));
  }

  /** Deletes `key`; with `revision`, only if nobody wrote it since. */
  async delete(key: string, revision?: number): Promise<void> {
    await this.kv.delete(key, revision !== undefined ? { previousSeq: revision } : undefined);
  }

  /**
   * The key's last entry as the stream's leader has it (a watch, and a KV get with direct
   * access, may read a copy that is behind); undefined when the key was never written.
   */
  async read(key: string): Promise<WatchedEntry | undefined> {
    try {
      const message = await this.jsm.streams.getMessage(`KV_${this.name}`, { last_by_subj: `$KV.${this.name}.${key}` });
      const operation = message.header?.get('KV-Operation');
      return {
        key,
        operation: operation === 'DEL' || operation === 'PURGE' ? operation : 'PUT',
        value: message.data,
        revision: message.seq,
      };
    } catch (err) {
      if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === NO_MESSAGE_FOUND) return undefined;
      throw err;
    }
  }

  /**
   * Every key's current value, then every change, until `stop`. `onReady` is called once
   * the current values have been delivered.
   */
  async watch(
    onEntry: (entry: WatchedEntry) => void,
    onReady: () => void,
  ): Promise<{ stop(): void; done: Promise<void> }> {
    const iterator: QueuedIterator<KvEntry> = await this.kv.watch({ key: '>', initializedFn: onReady });
    const done = (async () => {
      for await (const entry of iterator)
        onEntry({ key: entry.key, operation: entry.operation, value: entry.value, revision: entry.revision });
    })();
    return { stop: () => iterator.stop(), done };
  }

  private async write(operation: () => Promise<number>): Promise<WriteResult> {
    try {
      return { ok: true, revision: await operation() };
    } catch (err) {
      const error = err as { message?: string; api_error?: { err_code?: number } };
      const conflict = error.api_error?.err_code === WRONG_LAST_SEQUENCE;
      const reason = error.message ?? String(err);
      const current = conflict ? /wrong last sequence: (\d+)/.exec(reason)?.[1] : undefined;
      return { ok: false, conflict, reason, ...(current !== undefined ? { current: Number(current) } : {}) };
    }
  }
}
