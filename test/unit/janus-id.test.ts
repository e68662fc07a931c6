import { describe, expect, it } from 'vitest';
import { REQUEST_QUEUE_GROUP } from '../../src/bridge/subjects.js';
import {
  JANUS_ID_MAX_BYTES,
  janusIdProblem,
  shownJanusId,
  SUBJECT_PREFIX_MAX_BYTES,
} from '../../src/connections/spec.js';
import { leaseKey } from '../../src/ha/lease-record.js';

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

describe('janusIdProblem', () => {
  it.each([
    ['edge-1'],
    ['local'],
    ['Ж-сервер'],
    ['a'.repeat(JANUS_ID_MAX_BYTES)],
    // 100 two-byte letters: exactly at the limit in bytes.
    ['é'.repeat(JANUS_ID_MAX_BYTES / 2)],
  ])('accepts %s', (id) => {
    expect(janusIdProblem(id)).toBeUndefined();
  });

  it.each([[''], ['   '], [null], [undefined], [7]])('calls %j empty', (id) => {
    expect(janusIdProblem(id)).toBe('janus_id is empty');
  });

  it.each([['a.b'], ['a b'], ['a*'], ['>'], ['tab\there']])('refuses %j as not one subject token', (id) => {
    expect(janusIdProblem(id)).toBe('janus_id cannot be a NATS subject token (no spaces, dots, * or >)');
  });

  it.each([['nul\u0000id'], ['bell\u0007'], ['del\u007f']])('refuses %j for its control character', (id) => {
    expect(janusIdProblem(id)).toBe('janus_id holds a control character');
  });

  it('refuses one byte over the limit, saying the limit and the length', () => {
    expect(janusIdProblem('a'.repeat(JANUS_ID_MAX_BYTES + 1))).toBe(
      `janus_id is ${JANUS_ID_MAX_BYTES + 1} bytes long, at most ${JANUS_ID_MAX_BYTES} bytes (UTF-8) are allowed`,
    );
  });

  it('counts UTF-8 bytes, not characters: 101 two-byte letters are too long', () => {
    const id = 'é'.repeat(JANUS_ID_MAX_BYTES / 2 + 1);
    expect(id.length).toBeLessThan(JANUS_ID_MAX_BYTES);
    expect(janusIdProblem(id)).toContain(`is ${JANUS_ID_MAX_BYTES + 2} bytes long`);
  });

  it('never repeats a 5,000-character id in its reason', () => {
    const id = `X${'y'.repeat(4998)}Z`;
    const reason = janusIdProblem(id)!;
    expect(reason).toContain('5000 bytes');
    expect(reason).not.toContain('yyyy');
    expect(reason.length).toBeLessThan(100);
  });

  it('says the length rather than the token rule for an over-long id that also has a dot', () => {
    expect(janusIdProblem(`a.${'b'.repeat(300)}`)).toContain('302 bytes long');
  });
});

describe('shownJanusId', () => {
  it('shows an id within the limit as it is', () => {
    expect(shownJanusId('edge-1')).toBe('edge-1');
    expect(shownJanusId('a'.repeat(JANUS_ID_MAX_BYTES))).toBe('a'.repeat(JANUS_ID_MAX_BYTES));
  });

  it('cuts an over-long id to its start and its length', () => {
    expect(shownJanusId('z'.repeat(5000))).toBe(`${'z'.repeat(32)}… (5000 bytes)`);
  });

  it('does not cut a multi-byte character in half', () => {
    expect(shownJanusId('😀'.repeat(100))).toBe(`${'😀'.repeat(32)}… (400 bytes)`);
  });
});

describe("the limits keep every protocol line far below the NATS server's 4096 bytes", () => {
  const prefix = 'p'.repeat(SUBJECT_PREFIX_MAX_BYTES);
  const id = 'i'.repeat(JANUS_ID_MAX_BYTES);
  // A plugin name as Janus's own plugins have them, made a token the way typed events do.
  const plugin = 'janus_plugin_'.padEnd(64, 'x');
  const inbox = `_INBOX.${'N'.repeat(22)}.${'N'.repeat(22)}`;
  const sid = '4294967295';
  // With several replicas the id is also a KV key, where each byte outside [A-Za-z0-9_-] takes three characters.
  const bucket = 'b'.repeat(128);
  const key = leaseKey('!'.repeat(JANUS_ID_MAX_BYTES));
  const size = '99999999';

  it.each([
    ['the request subscription', `SUB ${prefix}.request.${id} ${REQUEST_QUEUE_GROUP} ${sid}\r\n`],
    ['the Admin API subscription', `SUB ${prefix}.adminapi.${id} ${REQUEST_QUEUE_GROUP} ${sid}\r\n`],
    ['a typed plugin event', `HPUB ${prefix}.event.${id}.plugin.${plugin} ${size} ${size}\r\n`],
    ['a per-handle event', `HPUB ${prefix}.event.${id}.handle.${'9'.repeat(16)} ${size} ${size}\r\n`],
    ['a status message', `PUB ${prefix}.status.${id} ${size}\r\n`],
    ['a relayed answer', `HPUB ${prefix}.relay.${id} ${inbox} ${size} ${size}\r\n`],
    ['the relay subscription', `SUB ${prefix}.relay.${id} ${sid}\r\n`],
    ['a lease write', `HPUB $KV.${bucket}.${key} ${inbox} ${size} ${size}\r\n`],
    ['a lease read', `PUB $JS.API.DIRECT.GET.KV_${bucket}.$KV.${bucket}.${key} ${inbox} ${size}\r\n`],
  ])('%s', (_what, line) => {
    // A quarter of the default leaves room for longer plugin names and smaller server limits.
    expect(bytes(line)).toBeLessThanOrEqual(1024);
  });
});
