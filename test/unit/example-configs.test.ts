/**
 * config/*.json: one example per way of running the bridge, each loaded with the daemon's
 * own loader (schema defaults, then the file; no environment) and checked for the keys that
 * make it what its name says. Every file in config/ must be covered here, and no example
 * may hold a secret: secrets appear only as file paths or as an obvious CHANGE-ME.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { SCHEMA, type BridgeConfig } from '../../src/config/schema.js';

const CONFIG_DIR = resolve(import.meta.dirname, '../../config');
const SECRETS_DIR = '/etc/janus-nats-bridge/';

function load(name: string): BridgeConfig {
  const result = loadConfig({ file: join(CONFIG_DIR, name), env: {} });
  if (!result.ok) throw new Error(`config/${name}: ${result.problem}`);
  return result.config;
}

/** What the file itself says (not the defaults), to tell a key set on purpose from a default. */
function raw(name: string): Record<string, any> {
  return JSON.parse(readFileSync(join(CONFIG_DIR, name), 'utf8')) as Record<string, any>;
}

const EXAMPLES: Record<string, (config: BridgeConfig, file: Record<string, any>) => void> = {
  // `make run` uses it: one local Janus from the config list, loopback only.
  'example.json': (config) => {
    expect(config.db.url).toBe('');
    expect(config.connections).toEqual([{ janus_id: 'local', janus_url: 'janusws://127.0.0.1:8188/janus' }]);
    expect(config.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.ha.enabled).toBe(false);
    expect(config.events.stream.enabled).toBe(false);
  },
  // The list from the OpenSIPS janus table: db.url set, no config list for it to shadow.
  'sql-list.json': (config, file) => {
    expect(config.db.url).toMatch(/^(postgres|postgresql|mysql|mariadb):\/\//);
    expect(config.connections).toEqual([]);
    expect(file.connections, 'no "connections" next to db.url (it would be ignored)').toBeUndefined();
    expect(config.db.table).toBe('janus');
    expect(config.db.reloadInterval).toBeGreaterThan(0);
  },
  // Several replicas sharing one list through leases in JetStream KV.
  'replicas.json': (config) => {
    expect(config.ha.enabled).toBe(true);
    expect(config.ha.replicaId, 'empty: each replica takes its host name').toBe('');
    expect(config.connections.length).toBeGreaterThan(1);
    expect(config.nats.servers.length).toBeGreaterThan(1);
    expect(config.ha.bucketReplicas).toBeLessThanOrEqual(config.nats.servers.length);
    // Replicas on other hosts are probed and scraped from outside.
    expect(config.http.host).toBe('0.0.0.0');
  },
  // NATS over TLS (server verified with a CA, client certificate) and a credentials file.
  'nats-tls-creds.json': (config) => {
    for (const server of config.nats.servers) expect(server).toMatch(/^tls:\/\//);
    for (const path of [
      config.nats.tls.caFile,
      config.nats.tls.certFile,
      config.nats.tls.keyFile,
      config.nats.credsFile,
    ]) {
      expect(path.startsWith(SECRETS_DIR), `${path} is under ${SECRETS_DIR}`).toBe(true);
    }
    expect(
      new Set([config.nats.tls.caFile, config.nats.tls.certFile, config.nats.tls.keyFile, config.nats.credsFile]).size,
    ).toBe(4);
    // The credentials file is the only authentication: no user, password, token or seed besides.
    for (const key of ['user', 'password', 'passwordFile', 'token', 'tokenFile', 'nkeySeed', 'nkeySeedFile'] as const)
      expect(config.nats[key], `nats.${key}`).toBe('');
  },
  // Every event captured in a JetStream stream.
  'capture.json': (config, file) => {
    expect(config.events.stream.enabled).toBe(true);
    expect(file.events?.stream?.enabled).toBe(true);
    expect(config.events.stream.name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(config.events.stream.storage).toBe('file');
  },
};

type Leaf = { sensitive?: boolean };

/** The dotted names of the schema's sensitive keys (passwords, tokens, seeds, db.url). */
function sensitiveKeys(node: Record<string, unknown>, path: string[] = []): string[] {
  return Object.entries(node).flatMap(([key, value]) =>
    value && typeof value === 'object' && 'doc' in value
      ? (value as Leaf).sensitive
        ? [[...path, key].join('.')]
        : []
      : sensitiveKeys(value as Record<string, unknown>, [...path, key]),
  );
}

function valueAt(config: BridgeConfig, dotted: string): unknown {
  return dotted.split('.').reduce<any>((node, key) => node?.[key], config);
}

describe("config/ examples load with the daemon's loader and are what their names say", () => {
  it('every file in config/ is an example checked here', () => {
    const files = readdirSync(CONFIG_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(files).toEqual(Object.keys(EXAMPLES).sort());
  });

  it.each(Object.keys(EXAMPLES))('config/%s', (name) => {
    EXAMPLES[name]!(load(name), raw(name));
  });

  it('the checks can fail: an example broken on purpose is refused by the loader', () => {
    const broken = loadConfig({ file: join(CONFIG_DIR, 'sql-list.json'), env: { JNB_DB_URL: 'redis://127.0.0.1/0' } });
    expect(broken.ok).toBe(false);
  });

  it.each(Object.keys(EXAMPLES))(
    'config/%s holds no secret: sensitive keys empty, a database password only CHANGE-ME, no credentials in URLs',
    (name) => {
      const config = load(name);
      const keys = sensitiveKeys(SCHEMA as unknown as Record<string, unknown>);
      expect(keys).toEqual(
        expect.arrayContaining([
          'nats.password',
          'nats.token',
          'nats.nkeySeed',
          'janus.apiSecret',
          'janus.token',
          'db.url',
        ]),
      );
      for (const key of keys) {
        const value = valueAt(config, key);
        if (key === 'db.url' && value !== '') {
          const url = new URL(value as string);
          expect(url.password, 'db.url password').toBe('CHANGE-ME');
          expect(url.search, 'db.url query').toBe('');
        } else {
          expect(value, key).toBe('');
        }
      }
      for (const { janus_id, janus_url } of config.connections) {
        const url = new URL(janus_url);
        expect(url.username + url.password, `${janus_id}: no user:password in janus_url`).toBe('');
        expect([...url.searchParams.keys()], `${janus_id}: no apisecret or token in janus_url`).toEqual([]);
      }
      for (const server of config.nats.servers) expect(server, 'no credentials in a NATS URL').not.toContain('@');
    },
  );
});
