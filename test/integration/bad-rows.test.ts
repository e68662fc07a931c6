/**
 * A janus_id longer than the NATS server's control line allows: subscribing to its
 * request subject made the server close the bridge's connection, again after every
 * reconnect, taking every id, the admin subjects and readiness down with it. Such an id is
 * a bad row of the table, and an invalid entry of the config file; checked against a real
 * nats-server (default max_control_line 4096), a real PostgreSQL and a real Janus.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type NatsError } from 'nats';
import { loadConfig } from '../../src/config/load.js';
import { eventually, natsPerFile, startBridge, type TestBridge } from '../support/bridge.js';
import { createDatabase } from '../support/databases.js';
import { startJanus, type JanusServer } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
let janus: JanusServer;

beforeAll(async () => {
  janus = await startJanus();
});

afterAll(async () => {
  await janus?.stop();
});

/** 5,000 characters: past the server's 4,096-byte control line once in a SUB. */
const LONG_ID = `L${'o'.repeat(4998)}g`;
/** How the id may appear in logs and summaries: its start and its length. */
const SHOWN_LONG_ID = `L${'o'.repeat(31)}… (5000 bytes)`;
/** Longer than the nats.js client's reconnect wait (0.5 s) several times over: a closed connection would show. */
const WATCH_MS = 2000;

async function ping(id: string): Promise<unknown> {
  try {
    return (await scope.client.request(`janus.request.${id}`, { janus: 'ping' }, 2000)).json;
  } catch (err) {
    return (err as NatsError).code === ErrorCode.NoResponders ? 'no responders' : String(err);
  }
}

async function servedIds(): Promise<string[]> {
  const status = (await scope.client.request('janus.admin.status', '', 3000)).json as {
    connections: Array<{ janus_id: string }>;
  };
  return status.connections.map((c) => c.janus_id).sort();
}

/** The bridge's NATS connection never dropped: no disconnect and no reconnect in its log. */
function expectNatsStayedUp(bridge: TestBridge): void {
  const drops = bridge.logs().filter((l) => /^NATS (disconnected|reconnected)/.test(String(l.msg)));
  expect(drops.map((l) => l.msg)).toEqual([]);
  expect(bridge.daemon.natsStats().connected).toBe(true);
}

async function expectReady(bridge: TestBridge): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/readyz`);
  expect(res.status, await res.text()).toBe(200);
}

describe('a 5,000-character janus_id', () => {
  it('in a PostgreSQL table is skipped, one line naming the row; other rows, admin, NATS stay up', async () => {
    const db = await createDatabase('postgres');
    scope.running.push({ stop: () => db.drop() });
    const insert = (id: number, janusId: string) =>
      db.exec('INSERT INTO janus (id, janus_id, janus_url) VALUES ($1, $2, $3)', [id, janusId, janus.url]);
    await insert(1, 'good-1');
    await insert(2, LONG_ID);
    await insert(3, 'good-2');
    const bridge = await startBridge({
      nats: { servers: [scope.nats.url] },
      db: { url: db.url(), connectTimeout: 1000 },
    });
    scope.running.push(bridge);

    for (const id of ['good-1', 'good-2'])
      await eventually(async () => JSON.stringify(await ping(id)) === '{"janus":"pong"}', 5000, `${id} answers`);
    expect(await servedIds()).toEqual(['good-1', 'good-2']);
    await new Promise((r) => setTimeout(r, WATCH_MS));
    expect(await ping('good-1')).toEqual({ janus: 'pong' });
    expect(await ping('good-2')).toEqual({ janus: 'pong' });
    expect(await servedIds()).toEqual(['good-1', 'good-2']);
    await expectReady(bridge);
    expectNatsStayedUp(bridge);

    const skipped = bridge.logs().filter((l) => l.msg === 'connection row skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({
      row: '2',
      janus_id: SHOWN_LONG_ID,
      reason: 'janus_id is 5000 bytes long, at most 200 bytes (UTF-8) are allowed',
    });
    // The id itself, kilobytes long, is in no log line.
    expect(JSON.stringify(bridge.logs())).not.toContain('o'.repeat(40));

    // A reload says the same in its summary, and changes nothing.
    const summary = (await scope.client.request('janus.admin.reload', '', 10_000)).json;
    expect(summary).toMatchObject({ ok: true, added: [], removed: [], changed: [], unchanged: ['good-1', 'good-2'] });
    expect(summary.skipped).toEqual([
      {
        row: '2',
        janus_id: SHOWN_LONG_ID,
        reason: 'janus_id is 5000 bytes long, at most 200 bytes (UTF-8) are allowed',
      },
    ]);
    expect(await ping('good-1')).toEqual({ janus: 'pong' });
    expectNatsStayedUp(bridge);
  }, 30_000);

  it('in the config file refuses the configuration at start-up, naming the entry, its length and the limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jnb-bad-rows-'));
    const problemWith = (janusId: string): string => {
      const file = join(dir, `config-${janusId.length}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          connections: [
            { janus_id: 'good-1', janus_url: janus.url },
            { janus_id: janusId, janus_url: janus.url },
          ],
        }),
      );
      const loaded = loadConfig({ file, env: {} });
      if (loaded.ok) throw new Error(`a config with janus_id of ${janusId.length} characters was accepted`);
      return loaded.problem;
    };
    const dotted = problemWith('has.dot');
    const long = problemWith(LONG_ID);
    expect(dotted).toBe(
      'connections: entry 1: janus_id cannot be a NATS subject token (no spaces, dots, * or >), got "has.dot"',
    );
    expect(long).toBe('connections: entry 1: janus_id is 5000 bytes long, at most 200 bytes (UTF-8) are allowed');
    const fromEnv = loadConfig({
      env: { JNB_CONNECTIONS: JSON.stringify([{ janus_id: LONG_ID, janus_url: janus.url }]) },
    });
    expect(fromEnv).toEqual({
      ok: false,
      problem: 'connections: entry 0: janus_id is 5000 bytes long, at most 200 bytes (UTF-8) are allowed',
    });
  });

  it('added to the config file: reload refused (invalid-config); list, admin subjects and NATS stay up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jnb-bad-rows-'));
    const file = join(dir, 'config.json');
    const values = {
      nats: { servers: [scope.nats.url] },
      http: { host: '127.0.0.1', port: 0 },
      connections: [{ janus_id: 'kept', janus_url: janus.url }],
    };
    writeFileSync(file, JSON.stringify(values));
    const bridge = await startBridge(values, { rereadConfig: () => loadConfig({ file, env: {} }) });
    scope.running.push(bridge);
    await eventually(async () => JSON.stringify(await ping('kept')) === '{"janus":"pong"}', 5000, 'kept answers');

    const connections = [
      ...values.connections,
      { janus_id: LONG_ID, janus_url: janus.url },
      { janus_id: 'later', janus_url: janus.url },
    ];
    writeFileSync(file, JSON.stringify({ ...values, connections }));
    const reload = (await scope.client.request('janus.admin.reload', '', 10_000)).json;
    expect(reload).toMatchObject({ ok: false, error: { kind: 'invalid-config' } });
    const message = String((reload.error as { message: string }).message);
    expect(message).toContain(
      'connections: entry 1: janus_id is 5000 bytes long, at most 200 bytes (UTF-8) are allowed',
    );
    expect(message).not.toContain('o'.repeat(40));

    await new Promise((r) => setTimeout(r, WATCH_MS));
    expect(await ping('kept')).toEqual({ janus: 'pong' });
    expect(await ping('later')).toBe('no responders');
    expect(await servedIds()).toEqual(['kept']);
    await expectReady(bridge);
    expectNatsStayedUp(bridge);
    expect(JSON.stringify(bridge.logs())).not.toContain('o'.repeat(40));
  }, 30_000);
});
