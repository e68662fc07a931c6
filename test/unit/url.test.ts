import { describe, expect, it } from 'vitest';
import { parseJanusUrl, type JanusUrl } from '../../src/janus/url.js';

function ok(input: string): JanusUrl {
  const result = parseJanusUrl(input);
  if (!result.ok) throw new Error(`expected ${input} to parse, got: ${result.reason}`);
  return result.url;
}

function refused(input: string): string {
  const result = parseJanusUrl(input);
  if (result.ok) throw new Error(`expected ${input} to be refused, got ${result.url.wsUrl}`);
  return result.reason;
}

describe('parseJanusUrl', () => {
  it.each([
    ['janusws://127.0.0.1:8188/janus', 'ws://127.0.0.1:8188/janus'],
    ['januswss://janus.example.com:8989/janus', 'wss://janus.example.com:8989/janus'],
    ['ws://127.0.0.1:8188', 'ws://127.0.0.1:8188/'],
    ['wss://janus.example.com/janus', 'wss://janus.example.com/janus'],
    ['JANUSWS://Host.Example:8188/janus', 'ws://host.example:8188/janus'],
    ['JanusWSS://host:8989/', 'wss://host:8989/'],
    ['janusws://[::1]:8188/janus', 'ws://[::1]:8188/janus'],
    ['janusws://host:8188/janus?room=abcd', 'ws://host:8188/janus?room=abcd'],
    ['  janusws://host:8188/janus  ', 'ws://host:8188/janus'],
  ])('maps %s to %s', (input, wsUrl) => {
    expect(ok(input).wsUrl).toBe(wsUrl);
  });

  it('shows a URL without credentials unchanged when redacted', () => {
    expect(ok('janusws://host:8188/janus?room=abcd').redacted).toBe('ws://host:8188/janus?room=abcd');
  });

  it.each(['http://host:8188/janus', 'https://host/janus', 'nats://host:4222'])('refuses %s naming the scheme', (input) => {
    const scheme = input.slice(0, input.indexOf(':') + 1);
    const reason = refused(input);
    expect(reason).toContain(`unsupported scheme "${scheme}"`);
  });

  it.each(['', '   '])('refuses an empty URL %j', (input) => {
    expect(refused(input)).toBe('URL is empty');
  });

  it.each(['garbage', 'host:8188/janus', 'janusws:host:8188/janus', 'janusws:/host:8188', '//host:8188'])(
    'refuses %s without scheme://',
    (input) => {
      expect(refused(input)).toBe('URL must start with janusws://, januswss://, ws:// or wss://');
    },
  );

  it.each(['janusws://', 'janusws://host:99999/janus', 'janusws://[::1/janus'])('refuses unparseable %s', (input) => {
    expect(refused(input)).toBe('URL cannot be parsed (check host, port and IPv6 brackets)');
  });

  it('refuses a fragment', () => {
    expect(refused('janusws://host:8188/janus#part')).toBe('URL must not have a #fragment');
  });

  it('refuses an empty fragment', () => {
    expect(refused('janusws://host:8188/janus#')).toBe('URL must not have a #fragment');
  });

  it('takes apisecret and token out of the URL Janus sees, keeps user info for the upgrade, and redacts it', () => {
    const url = ok('janusws://admin:s3cret@host:8188/janus?apisecret=AS1&room=12&token=TK2');
    expect(url.wsUrl).toBe('ws://admin:s3cret@host:8188/janus?room=12');
    expect(url.credentials).toEqual({ apiSecret: 'AS1', token: 'TK2' });
    expect(url.redacted).toBe('ws://***:***@host:8188/janus?room=12');
    for (const secret of ['admin', 's3cret', 'AS1', 'TK2']) expect(url.redacted).not.toContain(secret);
  });

  it('finds the credentials whatever the case of the parameter name, and redacts other secret-looking parameters', () => {
    const url = ok('januswss://host/janus?ApiSecret=AS1&TOKEN=TK2&password=PW&secret=S');
    expect(url.credentials).toEqual({ apiSecret: 'AS1', token: 'TK2' });
    expect(url.wsUrl).toBe('wss://host/janus?password=PW&secret=S');
    for (const secret of ['AS1', 'TK2', 'PW', '=S']) expect(url.redacted).not.toContain(secret);
    expect(url.redacted).toBe('wss://host/janus?password=***&secret=***');
  });

  it('has no credentials when the URL names none, and leaves its query untouched', () => {
    const url = ok('janusws://host:8188/janus?room=a%20b&x=1');
    expect(url.credentials).toEqual({});
    expect(url.wsUrl).toBe('ws://host:8188/janus?room=a%20b&x=1');
  });

  it('hides a password given without a user name', () => {
    const url = ok('janusws://:pw@host:8188/janus');
    expect(url.wsUrl).toBe('ws://:pw@host:8188/janus');
    expect(url.redacted).not.toContain('pw');
  });
});
