/**
 * The connection list from the OpenSIPS `janus` table, on the real PostgreSQL and
 * MariaDB of this machine, each test in a database it creates and drops; every
 * outcome checked through NATS requests to real Janus servers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, NatsError } from 'nats';
import { eventually, natsPerFile, startBridge, type TestBridge } from '../support/bridge.js';
import { createDatabase, ENGINES, type EngineName, type TestDatabase } from '../support/databases.js';
import { listSessions } from '../support/janus-admin.js';
import { startJanus, type JanusServer } from '../support/processes.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
let janusA: JanusServer;
let janusB: JanusServer;

beforeAll(async () => {
  [janusA, janusB] = await Promise.all([startJanus(), startJanus()]);
});

afterAll(async () => {
  await Promise.all([janusA?.stop(), janusB?.stop()]);
});

async function ping(id: string): Promise<Record<string, unknown> | string> {
  try {
    return (await scope.client.request(`janus.request.${id}`, { janus: 'ping' }, 3000)).json;
  } catch (err) {
    return (err as NatsError).code === ErrorCode.NoResponders ? 'no responders' : String(err);
  }
}

async function sessionOf(id: string): Promise<number> {
  const reply = await scope.client.request(`janus.request.${id}`, { janus: 'keepalive' });
  return reply.json.session_id as number;
}

describe.each(Object.keys(ENGINES) as EngineName[])('%s', (engine) => {
  let db: TestDatabase;

  async function withDatabase(options: { schema?: boolean } = {}): Promise<TestDatabase> {
    db = await createDatabase(engine, options);
    scope.running.push({ stop: () => db.drop() });
    return db;
  }

  async function bridgeOn(url: string, extra: Record<string, unknown> = {}, waitForList = true): Promise<TestBridge> {
    const bridge = await startBridge(
      { nats: { servers: [scope.nats.url] }, db: { url, connectTimeout: 1000, ...extra } },
      { waitForList },
    );
    scope.running.push(bridge);
    return bridge;
  }

  async function insert(id: number, janusId: string | null, url: string | null): Promise<void> {
    await db.exec('INSERT INTO janus (id, janus_id, janus_url) VALUES ($1, $2, $3)', [id, janusId, url]);
  }

  it('loads the table and serves every row', async () => {
    await withDatabase();
    await insert(1, 'alpha', janusA.url);
    await insert(2, 'beta', `janusws://127.0.0.1:${janusB.wsPort}/janus?room=abcd`);
    const bridge = await bridgeOn(db.url());
    expect(bridge.daemon.servedIds().length).toBe(2);
    await eventually(async () => JSON.stringify(await ping('alpha')) === '{"janus":"pong"}', 5000, 'alpha answers');
    await eventually(async () => JSON.stringify(await ping('beta')) === '{"janus":"pong"}', 5000, 'beta answers');
    expect(await listSessions(janusB.adminUrl)).toContain(await sessionOf('beta'));
  });

  it('skips bad rows with one log line each and loads the others', async () => {
    await withDatabase();
    await insert(1, 'good', janusA.url);
    await insert(2, '', janusA.url);
    await insert(3, 'badurl', 'http://127.0.0.1:1/janus');
    await insert(4, 'good', janusB.url);
    await insert(5, 'has.dot', janusA.url);
    const bridge = await bridgeOn(db.url());
    await eventually(async () => JSON.stringify(await ping('good')) === '{"janus":"pong"}', 5000, 'good answers');
    expect(await listSessions(janusA.adminUrl)).toContain(await sessionOf('good'));
    expect(await ping('badurl')).toBe('no responders');
    const skipped = bridge.logs().filter((l) => l.msg === 'connection row skipped');
    expect(skipped.map((l) => [l.row, l.janus_id])).toEqual([
      ['2', ''],
      ['3', 'badurl'],
      ['4', 'good'],
      ['5', 'has.dot'],
    ]);
    expect(String(skipped[1]!.reason)).toContain('http:');
    expect(String(skipped[2]!.reason)).toContain('already taken by row 1');
  });

  it('stops start-up when the version row says another version, naming table, found and expected', async () => {
    await withDatabase();
    await db.exec("UPDATE version SET table_version = 2 WHERE table_name = 'janus'");
    await insert(1, 'alpha', janusA.url);
    const bridge = await bridgeOn(db.url(), {}, false);
    await expect(bridge.daemon.listLoaded).rejects.toThrow(/table "janus".*table_version 2, expected table_version 1/);
    expect(bridge.daemon.servedIds().length).toBe(0);
  });

  it('accepts a database without a version table, and warns about an empty table', async () => {
    await withDatabase();
    await db.exec('DROP TABLE version');
    const bridge = await bridgeOn(db.url());
    expect(bridge.daemon.servedIds().length).toBe(0);
    expect(bridge.logs().some((l) => l.level === 'warn' && String(l.msg).includes('empty'))).toBe(true);
    expect((await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/readyz`)).status).toBe(200);
  });

  it('stays up, unready, while the database is away (logged without password), and loads once it is back', async () => {
    await withDatabase();
    await insert(1, 'later', janusA.url);
    const proxy = await startTcpProxy(ENGINES[engine].port, { listening: false });
    scope.running.push(proxy);
    const base = new URL(ENGINES[engine].admin);
    const secret = 'Sup3r-Secret-Pw';
    // The admin user has no password here; the proxy forwards to the real server, which ignores it (trust auth) or
    // refuses it.
    const url = db.url(proxy.port, `${base.username}:${secret}`);
    const bridge = await bridgeOn(url, {}, false);
    await eventually(
      () => bridge.logs().some((l) => l.msg === 'connection list unavailable; retrying'),
      5000,
      'retry log',
    );
    const ready = await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { reasons: string[] };
    expect(body.reasons.join(' ')).toContain(`127.0.0.1:${proxy.port}/${db.name}`);
    const line = bridge.logs().find((l) => l.msg === 'connection list unavailable; retrying')!;
    expect(String(line.reason)).toContain(`127.0.0.1:${proxy.port}/${db.name}`);
    expect(JSON.stringify(bridge.logs())).not.toContain(secret);
    expect(JSON.stringify(body)).not.toContain(secret);
    if (engine === 'mysql') return; // MariaDB checks the (wrong) password; PostgreSQL trusts loopback.
    await proxy.open();
    await bridge.daemon.listLoaded;
    await eventually(async () => JSON.stringify(await ping('later')) === '{"janus":"pong"}', 5000, 'later answers');
  }, 30_000);

  it('reloads on admin.reload: adds, removes (fails its requests, destroys its session), changes', async () => {
    await withDatabase();
    await insert(1, 'stay', janusA.url);
    await insert(2, 'leave', janusB.url);
    await insert(3, 'move', janusA.url);
    const bridge = await bridgeOn(db.url(), {});
    for (const id of ['stay', 'leave', 'move'])
      await eventually(async () => JSON.stringify(await ping(id)) === '{"janus":"pong"}', 5000, `${id} answers`);
    const handle = (
      (await scope.client.request('janus.request.stay', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json
        .data as { id: number }
    ).id;
    const staySession = await sessionOf('stay');
    const leaveSession = await sessionOf('leave');

    await db.exec('DELETE FROM janus WHERE id = 2');
    await db.exec('UPDATE janus SET janus_url = $1 WHERE id = 3', [janusB.url]);
    await insert(4, 'new', janusB.url);
    await insert(5, '', janusA.url);
    // A request in flight on the connection about to go: Janus B is frozen so it stays pending.
    const leaving = () => bridge.daemon.connectionStats('leave')!;
    expect(leaving().state).toBe('ready');
    janusB.pause();
    let pending: Promise<{ json: Record<string, unknown>; ms: number }>;
    try {
      pending = scope.client.request('janus.request.leave', { janus: 'info', transaction: 'bye' });
      const early = await Promise.race([pending, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))]);
      expect(early, `answered before the reload (connection ${leaving().state})`).toBeUndefined();
      await eventually(
        () => leaving().pendingRequests >= 1,
        5000,
        `pending request (connection ${leaving().state}, ${leaving().pendingRequests} pending)`,
      );
      const reloading = scope.client.request('janus.admin.reload', '', 15_000);
      const cut = await pending;
      expect(cut.json).toMatchObject({ transaction: 'bye', error: { code: 613 } });
      janusB.resume();
      const summary = (await reloading).json;
      expect(summary).toMatchObject({
        ok: true,
        added: ['new'],
        removed: ['leave'],
        changed: ['move'],
        unchanged: ['stay'],
      });
      expect(summary.skipped).toEqual([{ row: '5', janus_id: '', reason: 'janus_id is empty' }]);
    } finally {
      janusB.resume();
    }
    expect(await ping('leave')).toBe('no responders');
    await eventually(
      async () => !(await listSessions(janusB.adminUrl)).includes(leaveSession),
      5000,
      'removed session destroyed',
    );
    await eventually(async () => JSON.stringify(await ping('new')) === '{"janus":"pong"}', 5000, 'new answers');
    await eventually(async () => JSON.stringify(await ping('move')) === '{"janus":"pong"}', 5000, 'move answers');
    expect(await listSessions(janusB.adminUrl)).toContain(await sessionOf('move'));
    expect(await sessionOf('stay')).toBe(staySession);
    const stillThere = await scope.client.request('janus.request.stay', {
      janus: 'message',
      handle_id: handle,
      body: { audio: true },
    });
    expect(stillThere.json).toMatchObject({ janus: 'event', sender: handle });
  }, 30_000);

  it('keeps the running list when a reload fails (database down, wrong version) and says why', async () => {
    await withDatabase();
    await insert(1, 'kept', janusA.url);
    const proxy = await startTcpProxy(ENGINES[engine].port);
    scope.running.push(proxy);
    const bridge = await bridgeOn(db.url(proxy.port));
    await eventually(async () => JSON.stringify(await ping('kept')) === '{"janus":"pong"}', 5000, 'kept answers');
    await proxy.cut();
    const down = (await scope.client.request('janus.admin.reload', '', 10_000)).json;
    expect(down).toMatchObject({ ok: false, error: { kind: 'unreachable' } });
    expect(String((down.error as { message: string }).message)).toContain(`127.0.0.1:${proxy.port}/${db.name}`);
    await proxy.open();
    await db.exec("UPDATE version SET table_version = 7 WHERE table_name = 'janus'");
    await db.exec('DELETE FROM janus');
    const wrong = (await scope.client.request('janus.admin.reload', '', 10_000)).json;
    expect(wrong).toMatchObject({ ok: false, error: { kind: 'version' } });
    expect(String((wrong.error as { message: string }).message)).toContain('table_version 7, expected table_version 1');
    expect(await ping('kept')).toEqual({ janus: 'pong' });
    expect(bridge.daemon.servedIds().length).toBe(1);
  }, 30_000);

  it('reloads by itself every db.reloadInterval seconds: adds, removes and changes', async () => {
    await withDatabase();
    await insert(1, 'first', janusA.url);
    await insert(2, 'moving', janusA.url);
    await bridgeOn(db.url(), { reloadInterval: 0.5 });
    await eventually(async () => JSON.stringify(await ping('moving')) === '{"janus":"pong"}', 5000, 'moving answers');
    await insert(3, 'second', janusB.url);
    await eventually(
      async () => JSON.stringify(await ping('second')) === '{"janus":"pong"}',
      5000,
      'second answers after the interval',
    );
    await db.exec('DELETE FROM janus WHERE id = 1');
    await db.exec('UPDATE janus SET janus_url = $1 WHERE id = 2', [janusB.url]);
    await eventually(async () => (await ping('first')) === 'no responders', 5000, 'first gone after the interval');
    await eventually(
      async () => {
        if (JSON.stringify(await ping('moving')) !== '{"janus":"pong"}') return false;
        return (await listSessions(janusB.adminUrl)).includes(await sessionOf('moving'));
      },
      5000,
      'moving now on Janus B',
    );
  });
});
