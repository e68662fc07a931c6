import { describe, expect, it } from 'vitest';
import { admit, janusIdOfPath, parameter, sameSecret, targetForLog } from '../../src/eventhandlers/admission.js';

const listed = (ids: string[]) => ({ isListed: (id: string) => ids.includes(id) });

describe('admit', () => {
  it('admits /<janus_id> of the list when no secret is asked', () => {
    expect(admit('/edge-1', { secret: '', ...listed(['edge-1']) })).toEqual({ ok: true, janusId: 'edge-1' });
  });

  it('admits with the right secret, percent-encoded or not, + kept as +', () => {
    const rules = { secret: 'a+b/c=d é', ...listed(['edge-1']) };
    expect(admit('/edge-1?secret=a+b/c=d%20%C3%A9', rules)).toEqual({ ok: true, janusId: 'edge-1' });
    expect(admit('/edge-1?x=1&secret=a%2Bb%2Fc%3Dd%20%C3%A9&y', rules)).toEqual({ ok: true, janusId: 'edge-1' });
  });

  it.each([
    ['/edge-1'],
    ['/edge-1?secret='],
    ['/edge-1?secret=wrong'],
    ['/edge-1?Secret=s3cret'],
    ['/edge-1?secret=s3cret2'],
    ['/edge-1?secret=%E0%A4%A'],
    ['/nope?secret=wrong'],
    ['/?secret=x'],
    [undefined],
  ])('refuses %j with 401 when the secret is asked, before looking at the id', (target) => {
    expect(admit(target, { secret: 's3cret', ...listed(['edge-1']) })).toEqual({
      ok: false,
      reason: 'unauthorized',
      status: 401,
    });
  });

  it('refuses an unlisted janus_id with 404, naming it', () => {
    expect(admit('/edge-9?secret=s', { secret: 's', ...listed(['edge-1']) })).toEqual({
      ok: false,
      reason: 'unknown_janus_id',
      status: 404,
      janusId: 'edge-9',
    });
  });

  it.each([['/'], [''], ['/a/b'], ['/edge-1/'], ['edge-1'], ['/%E0%A4%A'], [undefined]])(
    'refuses the path %j with 404',
    (target) => {
      expect(admit(target, { secret: '', ...listed(['edge-1']) })).toMatchObject({
        ok: false,
        reason: 'unknown_janus_id',
        status: 404,
      });
    },
  );

  it('refuses with 503 while no list is loaded', () => {
    expect(admit('/edge-1', { secret: '', isListed: () => undefined })).toEqual({
      ok: false,
      reason: 'list_not_loaded',
      status: 503,
      janusId: 'edge-1',
    });
  });

  it('decodes a percent-encoded janus_id', () => {
    expect(admit('/%C3%A9dge', { secret: '', ...listed(['édge']) })).toEqual({ ok: true, janusId: 'édge' });
    expect(janusIdOfPath('/a%2Eb')).toBe('a.b');
  });
});

describe('helpers', () => {
  it('parameter takes the first value of a name', () => {
    expect(parameter('a=1&secret=x&secret=y', 'secret')).toBe('x');
    expect(parameter('secret', 'secret')).toBe('');
    expect(parameter('secrets=1', 'secret')).toBeUndefined();
  });

  it('sameSecret compares whole values', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abcd')).toBe(false);
    expect(sameSecret(undefined, 'abc')).toBe(false);
  });

  it('targetForLog never shows the query (the secret) and cuts long paths', () => {
    expect(targetForLog('/edge-1?secret=s3cret')).toBe('/edge-1');
    expect(targetForLog('/' + 'x'.repeat(500))).toHaveLength(129);
    expect(targetForLog(undefined)).toBe('');
  });
});
