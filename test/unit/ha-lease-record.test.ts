import { describe, expect, it } from 'vitest';
import {
  decodeHeartbeat,
  decodeKeyPart,
  decodeLease,
  encodeKeyPart,
  encodeRecord,
  heartbeatKey,
  leaseKey,
  parseKey,
  type Heartbeat,
  type Lease,
} from '../../src/ha/lease-record.js';

/** What NATS accepts as a KV key. */
const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;

const bytes = (value: unknown): Uint8Array => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

const lease: Lease = {
  replica: 'bridge-0',
  instance: 'i-1',
  session_id: 4242,
  since: '2024-01-01T00:00:00.000Z',
  state: 'serving',
  ttl_ms: 6000,
};

const ODD_IDS = [
  'plain',
  'with-dash_and_underscore',
  'dotted.janus.id',
  'with space',
  'a=b',
  '=3D',
  'x/y',
  'star*gt>',
  'ünïcødé',
  'ジャヌス',
  'emoji 🎥',
  '%41',
  '.',
  '..leading.and.trailing..',
];

describe('KV key encoding', () => {
  it('round-trips ids with dots, spaces, =, unicode and other characters', () => {
    for (const id of ODD_IDS) {
      expect(decodeKeyPart(encodeKeyPart(id))).toBe(id);
    }
  });

  it('gives keys NATS KV accepts', () => {
    for (const id of ODD_IDS) {
      expect(leaseKey(id)).toMatch(KV_KEY);
      expect(heartbeatKey(id)).toMatch(KV_KEY);
      // The encoded part adds no dots: it stays one token after the prefix.
      expect(encodeKeyPart(id)).not.toContain('.');
    }
  });

  it('keeps letters, digits, - and _ as they are and escapes the rest as =XX per UTF-8 byte', () => {
    expect(encodeKeyPart('Janus-01_a')).toBe('Janus-01_a');
    expect(encodeKeyPart('a.b')).toBe('a=2Eb');
    expect(encodeKeyPart('a b')).toBe('a=20b');
    expect(encodeKeyPart('=')).toBe('=3D');
    expect(encodeKeyPart('é')).toBe('=C3=A9');
  });

  it('never maps two different ids to one key', () => {
    const keys = ODD_IDS.map(leaseKey);
    expect(new Set(keys).size).toBe(ODD_IDS.length);
    // An id that looks like an escape is not confused with the escaped character.
    expect(encodeKeyPart('=2E')).not.toBe(encodeKeyPart('.'));
  });

  it('prefixes leases and heartbeats differently', () => {
    expect(leaseKey('x')).toBe('owner.x');
    expect(heartbeatKey('x')).toBe('replica.x');
  });
});

describe('parseKey', () => {
  it('recognises lease keys and gives back the janus_id', () => {
    for (const id of ODD_IDS) {
      expect(parseKey(leaseKey(id))).toEqual({ kind: 'lease', janusId: id });
    }
  });

  it('recognises heartbeat keys and gives back the replica id', () => {
    for (const id of ODD_IDS) {
      expect(parseKey(heartbeatKey(id))).toEqual({ kind: 'heartbeat', replica: id });
    }
  });

  it('calls anything else other', () => {
    expect(parseKey('something')).toEqual({ kind: 'other' });
    expect(parseKey('owners.x')).toEqual({ kind: 'other' });
    expect(parseKey('replicas.x')).toEqual({ kind: 'other' });
    expect(parseKey('owner')).toEqual({ kind: 'other' });
    expect(parseKey('config.owner.x')).toEqual({ kind: 'other' });
    expect(parseKey('')).toEqual({ kind: 'other' });
  });
});

describe('lease records', () => {
  it('round-trips a lease through encodeRecord and decodeLease', () => {
    expect(decodeLease(encodeRecord(lease))).toEqual(lease);
    const handOver: Lease = { ...lease, state: 'taking', from: 'bridge-1' };
    expect(decodeLease(encodeRecord(handOver))).toEqual(handOver);
  });

  it('accepts every state', () => {
    for (const state of ['taking', 'serving', 'releasing', 'free'] as const) {
      expect(decodeLease(encodeRecord({ ...lease, state }))?.state).toBe(state);
    }
  });

  it('accepts a null session id', () => {
    const free: Lease = { ...lease, session_id: null, state: 'free' };
    expect(decodeLease(encodeRecord(free))).toEqual(free);
  });

  it('rejects records with a missing or mistyped field', () => {
    for (const field of ['replica', 'instance', 'since', 'state', 'session_id', 'ttl_ms'] as const) {
      const { [field]: _dropped, ...rest } = lease;
      expect(decodeLease(bytes(rest)), `without ${field}`).toBeUndefined();
    }
    expect(decodeLease(bytes({ ...lease, replica: 7 }))).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, instance: null }))).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, since: 12 }))).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, ttl_ms: 0 }))).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, ttl_ms: '6000' }))).toBeUndefined();
  });

  it('rejects an unknown state', () => {
    expect(decodeLease(bytes({ ...lease, state: 'owned' }))).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, state: 'SERVING' }))).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, state: null }))).toBeUndefined();
  });

  it('rejects a session id that is not a safe integer', () => {
    expect(decodeLease(bytes({ ...lease, session_id: 1.5 }))).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, session_id: '4242' }))).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, session_id: 2 ** 53 }))).toBeUndefined();
    expect(
      decodeLease(bytes(`{"replica":"r","instance":"i","since":"s","state":"free","session_id":1e400}`)),
    ).toBeUndefined();
    expect(decodeLease(bytes({ ...lease, session_id: Number.MAX_SAFE_INTEGER }))?.session_id).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });

  it('rejects what is not a JSON object', () => {
    for (const text of ['', 'not json', 'null', '42', '"serving"', '[]', JSON.stringify([lease])]) {
      expect(decodeLease(bytes(text)), text).toBeUndefined();
    }
    expect(decodeLease(new Uint8Array([0xff, 0xfe, 0x00]))).toBeUndefined();
  });

  it('drops unknown fields and a `from` that is not a string', () => {
    const decoded = decodeLease(bytes({ ...lease, extra: true, from: 3 }));
    expect(decoded).toEqual(lease);
    expect(decoded).not.toHaveProperty('from');
  });
});

describe('heartbeat records', () => {
  const heartbeat: Heartbeat = {
    replica: 'bridge-0',
    instance: 'i-1',
    since: '2024-01-01T00:00:00.000Z',
    ttl_ms: 6000,
  };

  it('round-trips a heartbeat, with its write number when it has one', () => {
    expect(decodeHeartbeat(encodeRecord(heartbeat))).toEqual(heartbeat);
    expect(decodeHeartbeat(encodeRecord({ ...heartbeat, n: 12 }))).toEqual({ ...heartbeat, n: 12 });
    expect(decodeHeartbeat(encodeRecord({ ...heartbeat, blind: true }))).toEqual({ ...heartbeat, blind: true });
    // A write number that is not a whole number is left out: the heartbeat still counts.
    expect(decodeHeartbeat(bytes({ ...heartbeat, n: 1.5 }))).toEqual(heartbeat);
  });

  it('rejects a heartbeat with a missing or mistyped field, or one that is not an object', () => {
    for (const field of ['replica', 'instance', 'since'] as const) {
      const { [field]: _dropped, ...rest } = heartbeat;
      expect(decodeHeartbeat(bytes(rest)), `without ${field}`).toBeUndefined();
    }
    expect(decodeHeartbeat(bytes({ ...heartbeat, replica: 1 }))).toBeUndefined();
    expect(decodeHeartbeat(bytes('[]'))).toBeUndefined();
    expect(decodeHeartbeat(bytes('nope'))).toBeUndefined();
  });

  it('keeps only the heartbeat fields', () => {
    expect(decodeHeartbeat(bytes({ ...heartbeat, state: 'serving' }))).toEqual(heartbeat);
  });
});
