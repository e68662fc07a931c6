/**
 * The Admin API subject with several replicas, in-process: two bridges with ha.enabled on a
 * private nats-server with JetStream, one real Janus. Only the owner of a janus_id serves its
 * `<prefix>.adminapi.<janus_id>` (its Admin API link lives and dies with the connection), and
 * after a hand-over the new owner answers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client, eventually, startBridge, type TestBridge } from '../support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

let nats: NatsServer;
let janus: JanusServer;
let client: Client;
const bridges: TestBridge[] = [];

beforeAll(async () => {
  [nats, janus] = await Promise.all([
    startNats(undefined, ['-js', '-sd', mkdtempSync(join(tmpdir(), 'jnb-js-'))]),
    startJanus(),
  ]);
  client = await Client.connect(nats.url);
}, 30_000);

afterAll(async () => {
  for (const bridge of bridges.splice(0)) await bridge.stop().catch(() => {});
  await client?.close();
  await Promise.all([janus?.stop(), nats?.stop()]);
});

function replica(replicaId: string): Promise<TestBridge> {
  return startBridge({
    nats: { servers: [nats.url], subjectPrefix: 'jah' },
    connections: [
      { janus_id: 'x', janus_url: janus.url, janus_admin_url: `${janus.adminUrl}?admin_secret=janusoverlord` },
    ],
    ha: { enabled: true, replicaId, leaseTtl: 3, handoverTimeout: 5 },
  }).then((bridge) => {
    bridges.push(bridge);
    return bridge;
  });
}

const serves = (bridge: TestBridge): boolean =>
  bridge.daemon.connectionStats('x')?.state === 'ready' && bridge.logs().some((l) => l.msg === 'serving');

it('only the owner serves <prefix>.adminapi.<janus_id>, and after a hand-over the new owner does', async () => {
  const first = await replica('a');
  await eventually(
    () => serves(first) && first.daemon.connectionStats('x')?.admin?.state === 'ready',
    10_000,
    'a serves x',
  );
  const second = await replica('b');
  await new Promise((r) => setTimeout(r, 500));
  const [owner, other] = serves(first) && !second.daemon.connectionStats('x') ? [first, second] : [second, first];
  expect(other.daemon.connectionStats('x')).toBeUndefined();

  const sent = owner.daemon.connectionStats('x')!.admin!.framesSent;
  for (let i = 0; i < 5; i++) {
    const reply = (await client.request('jah.adminapi.x', { janus: 'list_sessions', transaction: `t${i}` })).json;
    expect(reply).toMatchObject({
      janus: 'success',
      transaction: `t${i}`,
      sessions: [owner.daemon.connectionStats('x')!.sessionId],
    });
  }
  expect(owner.daemon.connectionStats('x')!.admin!.framesSent).toBe(sent + 5);

  // The owner leaves: the other takes the connection over (same session), and its Admin API link answers.
  const session = owner.daemon.connectionStats('x')!.sessionId;
  const leaving = owner.stop();
  await eventually(
    () => serves(other) && other.daemon.connectionStats('x')?.admin?.state === 'ready',
    15_000,
    'the other serves x',
  );
  await leaving;
  const after = (await client.request('jah.adminapi.x', { janus: 'list_sessions', transaction: 'after' })).json;
  expect(after).toEqual({ janus: 'success', transaction: 'after', sessions: [session] });
  expect(other.daemon.connectionStats('x')!.admin!.framesSent).toBeGreaterThan(0);
  for (const bridge of [owner, other]) expect(JSON.stringify(bridge.logs())).not.toContain('janusoverlord');
}, 40_000);
