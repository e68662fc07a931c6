import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigResult } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/schema.js';
import { resolveSecrets } from '../../src/config/secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'jnb-config-'));
let fileCount = 0;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(contents: unknown): string {
  const path = join(dir, `config-${++fileCount}.json`);
  writeFileSync(path, typeof contents === 'string' ? contents : JSON.stringify(contents));
  return path;
}

function expectOk(result: ConfigResult): BridgeConfig {
  if (!result.ok) throw new Error(`expected ok, got: ${result.problem}`);
  return result.config;
}

function expectProblem(result: ConfigResult): string {
  if (result.ok) throw new Error(`expected a problem, got ${JSON.stringify(result.config)}`);
  expect(result.problem).not.toMatch(/[\r\n]/);
  expect(result.problem.length).toBeGreaterThan(0);
  return result.problem;
}

const withFile = (contents: unknown, env: NodeJS.ProcessEnv = {}): ConfigResult =>
  loadConfig({ file: file(contents), env });

const VALID_ENTRY = { janus_id: 'j1', janus_url: 'janusws://127.0.0.1:8188/janus' };

describe('loadConfig defaults', () => {
  it('uses every default when there is no file and no environment', () => {
    const config = expectOk(loadConfig({ env: {} }));
    expect(config).toEqual({
      nats: {
        servers: ['nats://127.0.0.1:4222'],
        subjectPrefix: 'janus',
        name: 'janus-nats-bridge',
        user: '',
        password: '',
        passwordFile: '',
        token: '',
        tokenFile: '',
        nkeySeed: '',
        nkeySeedFile: '',
        credsFile: '',
        stallTimeout: 4000,
        maxPendingBytes: 33554432,
        tls: { caFile: '', certFile: '', keyFile: '' },
      },
      janus: {
        cmdTimeout: 5000,
        sendTimeout: 1000,
        pingInterval: 5,
        maxMessageBytes: 1048576,
        reconnect: { minDelay: 100, maxDelay: 1500 },
        apiSecret: '',
        apiSecretFile: '',
        token: '',
        tokenFile: '',
        adminSecret: '',
        adminSecretFile: '',
      },
      adminApi: { allowVerbs: [] },
      connections: [],
      db: {
        url: '',
        urlFile: '',
        table: 'janus',
        reloadInterval: 0,
        connectTimeout: 5000,
        tls: { enabled: false, caFile: '', rejectUnauthorized: true },
      },
      http: { host: '0.0.0.0', port: 8080, maxConnections: 64, readyShare: 0, readyNeedsAdmin: false },
      events: {
        subjects: 'flat',
        transactionTtl: 60,
        transactionMax: 10000,
        stream: {
          enabled: false,
          name: '',
          maxAge: 86400,
          maxBytes: 1073741824,
          storage: 'file',
          replicas: 1,
          maxPending: 256,
          bufferSize: 10000,
          captureStatus: false,
        },
      },
      eventHandler: {
        port: 0,
        host: '0.0.0.0',
        secret: '',
        secretFile: '',
        maxMessageBytes: 8388608,
        stream: {
          enabled: false,
          name: '',
          maxAge: 86400,
          maxBytes: 1073741824,
          storage: 'file',
          replicas: 1,
          maxPending: 256,
          bufferSize: 10000,
        },
      },
      ha: { enabled: false, replicaId: '', bucket: '', bucketReplicas: 1, leaseTtl: 10, handoverTimeout: 10 },
      configWatch: { interval: 2 },
      log: { level: 'info' },
    });
  });

  it('takes the db keys from the environment', () => {
    const config = expectOk(
      loadConfig({
        env: {
          JNB_DB_URL: 'mysql://u:p@db:3306/opensips',
          JNB_DB_TABLE: 'public.janus_servers',
          JNB_DB_RELOAD_INTERVAL: '30',
          JNB_DB_TLS: 'true',
        },
      }),
    );
    expect(config.db).toMatchObject({
      url: 'mysql://u:p@db:3306/opensips',
      table: 'public.janus_servers',
      reloadInterval: 30,
      tls: { enabled: true },
    });
  });

  it.each([
    ['a db.url with another scheme', { JNB_DB_URL: 'redis://u:hunter2@db/0' }, 'db.url'],
    ['a db.url without a database', { JNB_DB_URL: 'postgres://u:hunter2@db' }, 'db.url'],
    ['a table name with SQL in it', { JNB_DB_TABLE: 'janus; DROP TABLE x' }, 'db.table'],
    ['a negative reload interval', { JNB_DB_RELOAD_INTERVAL: '-1' }, 'db.reloadInterval'],
  ])('refuses %s, naming the key and never the password', (_name, env, key) => {
    const problem = expectProblem(loadConfig({ env }));
    expect(problem).toContain(key);
    expect(problem).not.toContain('hunter2');
  });

  it('takes the ha keys from the environment', () => {
    const config = expectOk(
      loadConfig({
        env: {
          JNB_HA_ENABLED: 'true',
          JNB_HA_REPLICA_ID: 'bridge-7d9f-x2k4q',
          JNB_HA_BUCKET: 'prod_owners',
          JNB_HA_LEASE_TTL: '2.5',
          JNB_HA_HANDOVER_TIMEOUT: '20',
          JNB_HA_BUCKET_REPLICAS: '3',
        },
      }),
    );
    expect(config.ha).toEqual({
      enabled: true,
      replicaId: 'bridge-7d9f-x2k4q',
      bucket: 'prod_owners',
      bucketReplicas: 3,
      leaseTtl: 2.5,
      handoverTimeout: 20,
    });
  });

  it.each([
    ['a replica id with a dot', { JNB_HA_REPLICA_ID: 'a.b' }, 'ha.replicaId'],
    ['a bucket name with a space', { JNB_HA_BUCKET: 'my bucket' }, 'ha.bucket'],
    ['a lease TTL below a second', { JNB_HA_LEASE_TTL: '0.5' }, 'ha.leaseTtl'],
    ['a lease TTL that is not a number', { JNB_HA_LEASE_TTL: 'six' }, 'ha.leaseTtl'],
    ['no bucket replicas', { JNB_HA_BUCKET_REPLICAS: '0' }, 'ha.bucketReplicas'],
  ])('refuses %s, naming the key', (_name, env, key) => {
    expect(expectProblem(loadConfig({ env }))).toContain(key);
  });

  it('keeps defaults for keys the file leaves out', () => {
    const config = expectOk(withFile({ janus: { cmdTimeout: 7000 } }));
    expect(config.janus.cmdTimeout).toBe(7000);
    expect(config.janus.sendTimeout).toBe(1000);
    expect(config.nats.subjectPrefix).toBe('janus');
  });

  it('does not read process.env when an environment is given', () => {
    const previous = process.env.JNB_JANUS_CMD_TIMEOUT;
    process.env.JNB_JANUS_CMD_TIMEOUT = '1234';
    try {
      expect(expectOk(loadConfig({ env: {} })).janus.cmdTimeout).toBe(5000);
    } finally {
      if (previous === undefined) delete process.env.JNB_JANUS_CMD_TIMEOUT;
      else process.env.JNB_JANUS_CMD_TIMEOUT = previous;
    }
  });
});

describe('loadConfig file and environment', () => {
  it('reads a full file', () => {
    const config = expectOk(
      withFile({
        nats: { servers: ['nats://n1:4222', 'nats://n2:4222'], subjectPrefix: 'prod.janus', name: 'b1' },
        janus: {
          cmdTimeout: 3000,
          sendTimeout: 500,
          pingInterval: 0.5,
          maxMessageBytes: 65536,
          reconnect: { minDelay: 50, maxDelay: 50 },
        },
        connections: [VALID_ENTRY, { janus_id: 'j2', janus_url: 'wss://j2.example/janus' }],
        http: { host: '127.0.0.1', port: 0, maxConnections: 10 },
        log: { level: 'debug' },
      }),
    );
    expect(config.nats.servers).toEqual(['nats://n1:4222', 'nats://n2:4222']);
    expect(config.nats.subjectPrefix).toBe('prod.janus');
    expect(config.janus.pingInterval).toBe(0.5);
    expect(config.janus.reconnect).toEqual({ minDelay: 50, maxDelay: 50 });
    expect(config.connections).toEqual([VALID_ENTRY, { janus_id: 'j2', janus_url: 'wss://j2.example/janus' }]);
    expect(config.http).toEqual({
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      readyShare: 0,
      readyNeedsAdmin: false,
    });
    expect(config.log.level).toBe('debug');
  });

  it('lets JNB_JANUS_CMD_TIMEOUT override the file', () => {
    const config = expectOk(withFile({ janus: { cmdTimeout: 7000 } }, { JNB_JANUS_CMD_TIMEOUT: '2500' }));
    expect(config.janus.cmdTimeout).toBe(2500);
  });

  it('reads JNB_NATS_SERVERS as a comma-separated list, over the file', () => {
    const config = expectOk(
      withFile({ nats: { servers: ['nats://file:4222'] } }, { JNB_NATS_SERVERS: 'nats://a:4222, nats://b:4223,,' }),
    );
    expect(config.nats.servers).toEqual(['nats://a:4222', 'nats://b:4223']);
  });

  it('reads JNB_CONNECTIONS as JSON, over the file', () => {
    const fromEnv = [{ janus_id: 'env1', janus_url: 'januswss://e/janus' }];
    const config = expectOk(withFile({ connections: [VALID_ENTRY] }, { JNB_CONNECTIONS: JSON.stringify(fromEnv) }));
    expect(config.connections).toEqual(fromEnv);
  });

  it('reads other variables without a file', () => {
    const config = expectOk(
      loadConfig({
        env: {
          JNB_LOG_LEVEL: 'warn',
          JNB_HTTP_PORT: '9000',
          JNB_JANUS_PING_INTERVAL: '2.5',
          JNB_NATS_SUBJECT_PREFIX: 'x.y',
        },
      }),
    );
    expect(config.log.level).toBe('warn');
    expect(config.http.port).toBe(9000);
    expect(config.janus.pingInterval).toBe(2.5);
    expect(config.nats.subjectPrefix).toBe('x.y');
  });
});

describe('loadConfig problems', () => {
  it('names an unknown top-level key', () => {
    expect(expectProblem(withFile({ natz: {} }))).toContain("'natz'");
  });

  it('names an unknown nested key', () => {
    expect(expectProblem(withFile({ janus: { cmdTimeot: 10 } }))).toContain("'janus.cmdTimeot'");
  });

  it.each([['abc'], [0], [-1], [1.5], [true]])('refuses cmdTimeout %j naming the key', (value) => {
    const problem = expectProblem(withFile({ janus: { cmdTimeout: value } }));
    expect(problem).toContain('janus.cmdTimeout');
    expect(problem).toContain('whole number of milliseconds from 1 to 3600000');
  });

  it('refuses a bad JNB_JANUS_CMD_TIMEOUT naming the key', () => {
    expect(expectProblem(loadConfig({ env: { JNB_JANUS_CMD_TIMEOUT: 'abc' } }))).toContain('janus.cmdTimeout');
    expect(expectProblem(loadConfig({ env: { JNB_JANUS_CMD_TIMEOUT: '0' } }))).toContain('janus.cmdTimeout');
  });

  it.each([[0], [-1], ['x']])('refuses pingInterval %j', (value) => {
    expect(expectProblem(withFile({ janus: { pingInterval: value } }))).toContain('janus.pingInterval');
  });

  it('refuses a bad log level', () => {
    expect(expectProblem(withFile({ log: { level: 'loud' } }))).toContain('log.level');
    expect(expectProblem(loadConfig({ env: { JNB_LOG_LEVEL: 'verbose' } }))).toContain('log.level');
  });

  it.each([['janus prod'], ['janus.*'], ['janus.>'], [''], ['janus.'], [5]])('refuses subjectPrefix %j', (value) => {
    expect(expectProblem(withFile({ nats: { subjectPrefix: value } }))).toContain('nats.subjectPrefix');
  });

  it('refuses an empty or malformed server list', () => {
    expect(expectProblem(withFile({ nats: { servers: [] } }))).toContain('nats.servers');
    expect(expectProblem(withFile({ nats: { servers: ['http://x:4222'] } }))).toContain('nats.servers');
    expect(expectProblem(loadConfig({ env: { JNB_NATS_SERVERS: '' } }))).toContain('nats.servers');
  });

  it('refuses a bad http port', () => {
    expect(expectProblem(withFile({ http: { port: 70000 } }))).toContain('http.port');
  });

  it.each([[5], [true], [null]])('refuses connections that are not a list (%j)', (value) => {
    const problem = expectProblem(withFile({ connections: value }));
    expect(problem).toContain('connections');
    expect(problem).toContain('must be a list');
  });

  it('refuses connections given as a JSON string of an object, naming the key', () => {
    expect(expectProblem(withFile({ connections: '{"janus_id":"a"}' }))).toContain("'connections");
  });

  it('refuses JNB_CONNECTIONS holding a JSON object, naming the key', () => {
    expect(expectProblem(loadConfig({ env: { JNB_CONNECTIONS: '{"j1":"ws://h"}' } }))).toContain("'connections");
  });

  it('refuses an entry that is not an object', () => {
    expect(expectProblem(withFile({ connections: ['janusws://h/janus'] }))).toContain(
      'connections: entry 0 must be an object',
    );
  });

  it('refuses an entry without janus_url', () => {
    const problem = expectProblem(withFile({ connections: [VALID_ENTRY, { janus_id: 'j2' }] }));
    expect(problem).toContain('connections');
    expect(problem).toContain('entry 1 (j2): janus_url must be a string');
  });

  it('refuses an entry without janus_id', () => {
    const problem = expectProblem(withFile({ connections: [{ janus_url: 'ws://h/janus' }] }));
    expect(problem).toContain('connections: entry 0: janus_id');
  });

  it('refuses a janus_url with a bad scheme', () => {
    const problem = expectProblem(withFile({ connections: [{ janus_id: 'j1', janus_url: 'http://h:8188/janus' }] }));
    expect(problem).toContain('connections');
    expect(problem).toContain('entry 0 (j1): janus_url unsupported scheme "http:"');
  });

  it('refuses a duplicate janus_id', () => {
    const problem = expectProblem(
      withFile({ connections: [VALID_ENTRY, { janus_id: 'j1', janus_url: 'ws://other/janus' }] }),
    );
    expect(problem).toContain('connections');
    expect(problem).toContain('entry 1: janus_id "j1" is listed twice');
  });

  it.each([['a.b'], ['a b'], ['a*'], ['>'], [''], [7]])('refuses janus_id %j', (id) => {
    const problem = expectProblem(withFile({ connections: [{ janus_id: id, janus_url: 'ws://h/janus' }] }));
    expect(problem).toMatch(/connections: entry 0: janus_id (is empty|cannot be a NATS subject token)/);
    expect(problem).toContain(`, got ${JSON.stringify(id)}`);
  });

  it('refuses a janus_id over 200 bytes, saying the length and the limit but never the id', () => {
    const long = 'q'.repeat(5000);
    const problem = expectProblem(
      withFile({ connections: [VALID_ENTRY, { janus_id: long, janus_url: 'ws://h/janus' }] }),
    );
    expect(problem).toContain(
      'connections: entry 1: janus_id is 5000 bytes long, at most 200 bytes (UTF-8) are allowed',
    );
    expect(problem).not.toContain('qqqq');
  });

  it('counts a janus_id in UTF-8 bytes: 100 two-byte letters pass, 101 do not', () => {
    expect(
      expectOk(withFile({ connections: [{ janus_id: 'é'.repeat(100), janus_url: 'ws://h/janus' }] })).connections,
    ).toHaveLength(1);
    expect(
      expectProblem(withFile({ connections: [{ janus_id: 'é'.repeat(101), janus_url: 'ws://h/janus' }] })),
    ).toContain('202 bytes long');
  });

  it('refuses an over-long janus_id in JNB_CONNECTIONS too, naming the key', () => {
    const problem = expectProblem(
      loadConfig({ env: { JNB_CONNECTIONS: JSON.stringify([{ janus_id: 'q'.repeat(300), janus_url: 'ws://h' }]) } }),
    );
    expect(problem).toContain('connections: entry 0: janus_id is 300 bytes long');
    expect(problem).not.toContain('qqqq');
  });

  it('accepts a subjectPrefix of 128 bytes and refuses 129, saying the length but not the value', () => {
    const prefix = (length: number) => `prod.${'abcdefg'.repeat(20)}`.slice(0, length);
    expect(expectOk(withFile({ nats: { subjectPrefix: prefix(128) } })).nats.subjectPrefix).toHaveLength(128);
    const problem = expectProblem(withFile({ nats: { subjectPrefix: prefix(129) } }));
    expect(problem).toContain('nats.subjectPrefix: must be at most 128 bytes (UTF-8), got 129 bytes');
    expect(problem).not.toContain('abcdefg');
  });

  it('refuses an extra key in an entry', () => {
    const problem = expectProblem(withFile({ connections: [{ ...VALID_ENTRY, room: 1 }] }));
    expect(problem).toContain('connections: entry 0 has unknown key "room"');
  });

  it('refuses a bad JNB_CONNECTIONS entry naming the key', () => {
    const problem = expectProblem(
      loadConfig({ env: { JNB_CONNECTIONS: '[{"janus_id":"a.b","janus_url":"ws://h"}]' } }),
    );
    expect(problem).toContain('connections: entry 0');
  });

  it('reports a missing file with its path', () => {
    const missing = join(dir, 'does-not-exist.json');
    const problem = expectProblem(loadConfig({ file: missing, env: {} }));
    expect(problem).toContain(`config file ${missing}`);
    expect(problem).toContain('ENOENT');
  });

  it('reports a file that is not valid JSON', () => {
    const path = file('{"nats": {');
    const problem = expectProblem(loadConfig({ file: path, env: {} }));
    expect(problem).toContain(`config file ${path} is not valid JSON`);
  });

  it.each([['[]'], ['"x"'], ['null'], ['3']])('reports a file holding %s instead of an object', (text) => {
    const path = file(text);
    expect(expectProblem(loadConfig({ file: path, env: {} }))).toBe(`config file ${path} must hold a JSON object`);
  });

  it('refuses minDelay above maxDelay', () => {
    const problem = expectProblem(withFile({ janus: { reconnect: { minDelay: 2000, maxDelay: 1000 } } }));
    expect(problem).toBe('janus.reconnect.minDelay: must not exceed janus.reconnect.maxDelay');
    expect(expectProblem(loadConfig({ env: { JNB_JANUS_RECONNECT_MIN_DELAY: '1501' } }))).toContain(
      'janus.reconnect.minDelay',
    );
    expectOk(loadConfig({ env: { JNB_JANUS_RECONNECT_MIN_DELAY: '1500' } }));
  });

  it('does not echo credentials of a janus_url into the problem line', () => {
    const problem = expectProblem(
      withFile({
        connections: [
          { janus_id: 'a', janus_url: 'janusws://user:PASSWD@h/janus?apisecret=TOPSECRET' },
          { janus_id: 'a.b', janus_url: 'ws://h' },
        ],
      }),
    );
    expect(problem).toContain('entry 1');
    expect(problem).not.toContain('TOPSECRET');
    expect(problem).not.toContain('PASSWD');
  });

  it('does not echo credentials of a NATS URL into the problem line', () => {
    const problem = expectProblem(withFile({ nats: { servers: ['nats://user:PASSWD@good:4222', 'bad url PASSWD2'] } }));
    expect(problem).toContain('nats.servers');
    expect(problem).not.toContain('PASSWD');
  });

  it('joins several problems on one line', () => {
    const problem = expectProblem(withFile({ janus: { cmdTimeout: 'abc', sendTimeout: -1 } }));
    expect(problem).toContain('janus.cmdTimeout');
    expect(problem).toContain('janus.sendTimeout');
  });
});

describe('loadConfig: connections of the wrong shape', () => {
  it('refuses connections given as a JSON object in the file', () => {
    expect(expectProblem(withFile({ connections: { j1: 'janusws://h/janus' } }))).toContain('connections');
  });

  it('names the key when connections in the file is a string that is not JSON', () => {
    expect(expectProblem(withFile({ connections: '[]x' }))).toContain('connections');
  });

  it('names the key when JNB_CONNECTIONS is not JSON', () => {
    expect(expectProblem(loadConfig({ env: { JNB_CONNECTIONS: 'not json' } }))).toContain('connections');
  });
});

describe('loadConfig: values never echoed, bounds', () => {
  it('does not quote a broken config file, which may hold a password', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jnb-cfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, '{ "nats": { "password": hunter2-pass } }');
    const result = loadConfig({ file, env: {} });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem).not.toContain('hunter2');
  });

  it.each([
    [{ JNB_JANUS_CMD_TIMEOUT: '3600001' }, 'janus.cmdTimeout'],
    [{ JNB_JANUS_PING_INTERVAL: '86401' }, 'janus.pingInterval'],
    [{ JNB_DB_RELOAD_INTERVAL: '100000' }, 'db.reloadInterval'],
    [{ JNB_EVENTS_TRANSACTION_TTL: '0' }, 'events.transactionTtl'],
  ])('refuses %j beyond its bounds', (env, key) => {
    const result = loadConfig({ env });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem).toContain(key);
  });
});

describe('db.urlFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jnb-dburl-'));
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads db.url from the file (a mounted Secret), trimmed', () => {
    const file = write('ok', 'postgres://u:s3cret@db:5432/opensips\n');
    const loaded = loadConfig({ env: { JNB_DB_URL_FILE: file } });
    expect(loaded.ok && loaded.config.db.url).toBe('postgres://u:s3cret@db:5432/opensips');
  });

  it('refuses both db.url and db.urlFile', () => {
    const file = write('both', 'postgres://db/x');
    const loaded = loadConfig({ env: { JNB_DB_URL: 'postgres://db/y', JNB_DB_URL_FILE: file } });
    expect(loaded).toEqual({ ok: false, problem: 'db.url and db.urlFile: set one of them, not both' });
  });

  it('names the key and the file when it cannot be read, and a bad URL without repeating it', () => {
    const missing = loadConfig({ env: { JNB_DB_URL_FILE: join(dir, 'missing') } });
    expect(!missing.ok && missing.problem).toBe(`db.urlFile: cannot read ${join(dir, 'missing')} (ENOENT)`);
    const bad = loadConfig({ env: { JNB_DB_URL_FILE: write('bad', 'redis://:hunter2@db/0') } });
    expect(!bad.ok && bad.problem.startsWith('db.urlFile: ')).toBe(true);
    expect(!bad.ok && bad.problem).not.toContain('hunter2');
  });
});

describe('the Admin API keys', () => {
  it('takes janus_admin_url in an entry; refuses one that is not a Janus URL, naming the entry, not the secret', () => {
    const entry = { ...VALID_ENTRY, janus_admin_url: 'janusws://127.0.0.1:7188/admin?admin_secret=overlord-1' };
    expect(expectOk(withFile({ connections: [entry] })).connections).toEqual([entry]);
    const problem = expectProblem(
      withFile({ connections: [{ ...VALID_ENTRY, janus_admin_url: 'http://h:7088/admin?admin_secret=overlord-2' }] }),
    );
    expect(problem).toContain('connections: entry 0 (j1): janus_admin_url unsupported scheme "http:"');
    expect(problem).not.toContain('overlord-2');
    expect(expectProblem(withFile({ connections: [{ ...VALID_ENTRY, janus_admin_url: 7188 }] }))).toContain(
      'entry 0 (j1): janus_admin_url must be a string',
    );
  });

  it('takes adminApi.allowVerbs from the file or, comma-separated, the environment; refuses non-verbs', () => {
    expect(
      expectOk(withFile({ adminApi: { allowVerbs: ['set_log_level', 'Destroy_Session'] } })).adminApi.allowVerbs,
    ).toEqual(['set_log_level', 'Destroy_Session']);
    expect(
      expectOk(loadConfig({ env: { JNB_ADMIN_API_ALLOW_VERBS: 'set_log_level, hangup_webrtc' } })).adminApi.allowVerbs,
    ).toEqual(['set_log_level', 'hangup_webrtc']);
    expect(expectProblem(withFile({ adminApi: { allowVerbs: ['set log level'] } }))).toContain(
      'adminApi.allowVerbs: entry 0 must be an Admin API verb',
    );
    expect(expectProblem(withFile({ adminApi: { allowVerbs: [7] } }))).toContain(
      'adminApi.allowVerbs: entry 0 must be an Admin API verb',
    );
  });

  it('takes the admin secret from a value or a file, never both, and http.readyNeedsAdmin from the environment', () => {
    expect(
      expectOk(loadConfig({ env: { JNB_HTTP_READY_NEEDS_ADMIN: 'true', JNB_JANUS_ADMIN_SECRET: 'x' } })),
    ).toMatchObject({ http: { readyNeedsAdmin: true }, janus: { adminSecret: 'x' } });
    const file = join(dir, 'admin-secret');
    writeFileSync(file, 'from-file\n');
    const both = expectOk(loadConfig({ env: { JNB_JANUS_ADMIN_SECRET: 'x', JNB_JANUS_ADMIN_SECRET_FILE: file } }));
    expect(resolveSecrets(both)).toEqual({
      ok: false,
      problem: 'janus.adminSecret and janus.adminSecretFile: set one of them, not both',
    });
    const fromFile = resolveSecrets(expectOk(loadConfig({ env: { JNB_JANUS_ADMIN_SECRET_FILE: file } })));
    expect(fromFile.ok && fromFile.secrets.janus.adminSecret).toBe('from-file');
  });
});
