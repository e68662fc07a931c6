/**
 * The optional janus_admin_url column of the connection table, on the real PostgreSQL and
 * MariaDB of this machine: OpenSIPS's table without it still loads (its ids answer 609 on the
 * Admin API subject); with it the Admin API answers; adding, changing and clearing it takes
 * effect at a reload without touching the session. Real Janus and NATS.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, natsPerFile, startBridge, type TestBridge } from '../support/bridge.js';
import { createDatabase, ENGINES, type EngineName, type TestDatabase } from '../support/databases.js';
import { startJanus, type JanusServer } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
let janus: JanusServer;

beforeAll(async () => {
  janus = await startJanus();
});

afterAll(async () => {
  await janus?.stop();
});

async function admin(
  id: string,
  body: unknown,
): Promise<{ janus: string; error?: { code: number }; sessions?: number[] }> {
  return (await scope.client.request(`janus.adminapi.${id}`, body, 5000)).json as {
    janus: string;
    error?: { code: number };
    sessions?: number[];
  };
}

describe.each(Object.keys(ENGINES) as EngineName[])('%s', (engine) => {
  let db: TestDatabase;

  async function withDatabase(): Promise<void> {
    db = await createDatabase(engine);
    scope.running.push({ stop: () => db.drop() });
  }

  async function start(): Promise<TestBridge> {
    const bridge = await startBridge({
      nats: { servers: [scope.nats.url] },
      db: { url: db.url(), connectTimeout: 2000 },
    });
    scope.running.push(bridge);
    return bridge;
  }

  it('reads a table without the column (Admin API: 609), then the column at a reload, same session', async () => {
    await withDatabase();
    await db.exec('INSERT INTO janus (id, janus_id, janus_url) VALUES ($1, $2, $3)', [1, 'sq', janus.url]);
    const bridge = await start();
    await eventually(() => bridge.daemon.connectionStats('sq')?.state === 'ready', 10_000, 'sq ready');
    const session = bridge.daemon.connectionStats('sq')!.sessionId;
    expect(await admin('sq', { janus: 'list_sessions' })).toMatchObject({ janus: 'error', error: { code: 609 } });

    await db.exec('ALTER TABLE janus ADD COLUMN janus_admin_url TEXT');
    await db.exec('UPDATE janus SET janus_admin_url = $1 WHERE id = 1', [
      `janusws://127.0.0.1:${janus.adminPort}/admin?admin_secret=janusoverlord`,
    ]);
    const summary = (await scope.client.request('janus.admin.reload', '', 10_000)).json;
    expect(summary).toMatchObject({ ok: true, changed: ['sq'], added: [], removed: [] });
    await eventually(() => bridge.daemon.connectionStats('sq')?.admin?.state === 'ready', 10_000, 'admin link open');
    const sessions = await admin('sq', { janus: 'list_sessions' });
    expect(sessions).toMatchObject({ janus: 'success' });
    expect(sessions.sessions).toContain(session);
    // Only the Admin API link was replaced: same session, no session-replaced.
    expect(bridge.daemon.connectionStats('sq')!.sessionId).toBe(session);
    expect(JSON.stringify(bridge.logs())).not.toContain('janusoverlord');

    await db.exec('UPDATE janus SET janus_admin_url = NULL WHERE id = 1');
    expect((await scope.client.request('janus.admin.reload', '', 10_000)).json).toMatchObject({
      ok: true,
      changed: ['sq'],
    });
    expect(await admin('sq', { janus: 'list_sessions' })).toMatchObject({ janus: 'error', error: { code: 609 } });
    expect(bridge.daemon.connectionStats('sq')!.sessionId).toBe(session);
  }, 30_000);

  it('serves the Admin API from a table with the column; skips a row with an unusable admin URL', async () => {
    await withDatabase();
    await db.exec('ALTER TABLE janus ADD COLUMN janus_admin_url TEXT');
    await db.exec('INSERT INTO janus (id, janus_id, janus_url, janus_admin_url) VALUES ($1, $2, $3, $4)', [
      1,
      'with',
      janus.url,
      `ws://127.0.0.1:${janus.adminPort}/admin?admin_secret=janusoverlord`,
    ]);
    await db.exec('INSERT INTO janus (id, janus_id, janus_url, janus_admin_url) VALUES ($1, $2, $3, $4)', [
      2,
      'empty',
      janus.url,
      '',
    ]);
    await db.exec('INSERT INTO janus (id, janus_id, janus_url, janus_admin_url) VALUES ($1, $2, $3, $4)', [
      3,
      'broken',
      janus.url,
      'http://127.0.0.1:1/admin?admin_secret=janusoverlord',
    ]);
    const bridge = await start();
    await eventually(() => bridge.daemon.connectionStats('with')?.admin?.state === 'ready', 10_000, 'admin link open');
    expect(await admin('with', { janus: 'get_status' })).toMatchObject({ janus: 'success' });
    expect(await admin('empty', { janus: 'get_status' })).toMatchObject({ janus: 'error', error: { code: 609 } });
    expect(bridge.daemon.connectionStats('broken')).toBeUndefined();
    const skipped = bridge.logs().filter((l) => l.msg === 'connection row skipped');
    expect(skipped.map((l) => [l.row, l.janus_id, String(l.reason).slice(0, 40)])).toEqual([
      ['3', 'broken', 'janus_admin_url: unsupported scheme "htt'],
    ]);
    expect(JSON.stringify(bridge.logs())).not.toContain('janusoverlord');
  }, 30_000);
});
