import { describe, expect, it } from 'vitest';
import { isSecretParamName, nameWords, parseJanusUrl, type JanusUrl } from '../../src/janus/url.js';

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

  it.each(['http://host:8188/janus', 'https://host/janus', 'nats://host:4222'])(
    'refuses %s naming the scheme',
    (input) => {
      const scheme = input.slice(0, input.indexOf(':') + 1);
      const reason = refused(input);
      expect(reason).toContain(`unsupported scheme "${scheme}"`);
    },
  );

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

  it('finds the credentials whatever the case of the parameter name; redacts other secret-looking parameters', () => {
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

describe('nameWords', () => {
  it.each([
    ['access_token', ['access', 'token']],
    ['X-Amz-Signature', ['x', 'amz', 'signature']],
    ['apiKey', ['api', 'key']],
    ['APIKey', ['api', 'key']],
    ['clientSecret2', ['client', 'secret']],
    ['auth.token', ['auth', 'token']],
    ['user[password]', ['user', 'password']],
    ['room', ['room']],
    ['', []],
  ])('splits %j into %j', (name, words) => {
    expect(nameWords(name)).toEqual(words);
  });
});

describe('isSecretParamName', () => {
  it.each([
    // OAuth, API gateways, cloud signed URLs.
    'access_token',
    'accessToken',
    'AccessToken',
    'refresh_token',
    'id_token',
    'token',
    'TOKEN',
    'auth_token',
    'x-auth-token',
    'api_key',
    'apiKey',
    'APIKEY',
    'apikey',
    'x-api-key',
    'key',
    'Key',
    'keys',
    'secretkey',
    'access_key',
    'AWSAccessKeyId',
    'nkey',
    'secret',
    'client_secret',
    'clientSecret',
    'apisecret',
    'ApiSecret',
    'shared-secret',
    'password',
    'Password',
    'passwd',
    'pwd',
    'pass',
    'pw',
    'user_pass',
    'passphrase',
    'passcode',
    'pass_word',
    'auth',
    'authorization',
    'Authorization',
    'oauth_signature',
    'basic_auth',
    'credential',
    'credentials',
    'cred',
    'creds',
    'X-Amz-Credential',
    'X-Amz-Security-Token',
    'signature',
    'X-Amz-Signature',
    'X-Goog-Signature',
    'sig',
    'api_sig',
    'sign',
    'hmac',
    'hash',
    'session',
    'session_id',
    'sessionId',
    'JSESSIONID',
    'PHPSESSID',
    'sess_id',
    'sid',
    'jwt',
    'bearer',
    'bearer_token',
    'cookie',
    'private_key',
    'privkey',
    'otp',
    'pin',
    'pincode',
    'code',
    'ticket',
    'nonce',
    'salt',
    'seed',
    'cert',
    'access',
    'sas',
    'to-ken',
    'to_ken2',
  ])('hides %s', (name) => {
    expect(isSecretParamName(name)).toBe(true);
  });

  // Chosen when in doubt: a name word that merely ends like a credential is hidden too.
  it.each(['author', 'monkey', 'bypass', 'key_frame', 'session_timeout'])(
    'hides %s too (preferring to hide when in doubt)',
    (name) => {
      expect(isSecretParamName(name)).toBe(true);
    },
  );

  it.each([
    'room',
    'room_id',
    'id',
    'janus',
    'plugin',
    'display',
    'display_name',
    'lang',
    'v',
    'version',
    'debug',
    'transport',
    'keyframe',
    'keepalive',
    'passive',
    'signal',
    'signed_headers',
    'X-Amz-SignedHeaders',
    'X-Amz-Date',
    'X-Amz-Expires',
    'X-Amz-Algorithm',
    'user',
    'username',
    'client_id',
    'state',
    'audiocodec',
    'timeout',
    'region',
    'x',
    '',
  ])('shows %j', (name) => {
    expect(isSecretParamName(name)).toBe(false);
  });
});

describe('redacted URLs', () => {
  it('hides values of credential-like parameters, keeping their names, the other parameters and their order', () => {
    const url = ok(
      'janusws://host:8188/janus?room=12&access_token=SECRET1&api_key=SECRET2&X-Amz-Signature=SECRET3&keyframe=1',
    );
    expect(url.redacted).toBe(
      'ws://host:8188/janus?room=12&access_token=***&api_key=***&X-Amz-Signature=***&keyframe=1',
    );
  });

  it('still sends those parameters to Janus: only apisecret and token become request fields', () => {
    const url = ok('janusws://host:8188/janus?access_token=SECRET1&token=TK');
    expect(url.wsUrl).toBe('ws://host:8188/janus?access_token=SECRET1');
    expect(url.credentials).toEqual({ token: 'TK' });
  });

  it('hides every occurrence of a repeated parameter', () => {
    expect(ok('ws://h/janus?sig=A1&room=1&sig=B2').redacted).toBe('ws://h/janus?sig=***&room=1&sig=***');
  });

  it('judges a percent-encoded or plus-spaced name by what it decodes to', () => {
    const url = ok('ws://h/janus?api%5Fkey=S1&client+secret=S2&%E2%9C%93=fine');
    expect(url.redacted).toBe('ws://h/janus?api%5Fkey=***&client+secret=***&%E2%9C%93=fine');
  });

  it('hides a value even when the name cannot be decoded', () => {
    expect(ok('ws://h/janus?token%zz=S1').redacted).toBe('ws://h/janus?token%zz=***');
  });

  it('keeps parameters without a value and empty query parts as written', () => {
    expect(ok('ws://h/janus?debug&password=&room=a%20b').redacted).toBe('ws://h/janus?debug&password=***&room=a%20b');
  });

  it('hides user info and credential parameters together', () => {
    const url = ok('januswss://u:pw@h:8989/janus?Bearer=B1&room=r');
    expect(url.redacted).toBe('wss://***:***@h:8989/janus?Bearer=***&room=r');
  });
});

describe('Admin API URLs (janus_admin_url)', () => {
  it('takes admin_secret out of the URL dialled and out of the one shown, in any case, and keeps the rest', () => {
    const parsed = parseJanusUrl('janusws://10.0.0.5:7188/admin?Admin_Secret=overlord&room=1', 'admin');
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.url.credentials).toEqual({ adminSecret: 'overlord' });
    expect(parsed.url.wsUrl).toBe('ws://10.0.0.5:7188/admin?room=1');
    expect(parsed.url.redacted).toBe('ws://10.0.0.5:7188/admin?room=1');
  });

  it('leaves admin_secret in a janus_url alone (the Janus API has no use for it) but never shows its value', () => {
    const url = ok('janusws://h:8188/janus?admin_secret=overlord');
    expect(url.credentials).toEqual({});
    expect(url.redacted).toBe('ws://h:8188/janus?admin_secret=***');
    expect(isSecretParamName('admin_secret')).toBe(true);
  });
});
