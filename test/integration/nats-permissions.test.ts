/**
 * The NATS permissions docs/security.md gives, as they are written there: a nats-server with
 * JetStream runs that `authorization` block; two replicas of the daemon (ha.enabled, capture
 * on) run as its `bridge` user, a service as `service` through the client library, an
 * operator as `operator`, a durable-events reader as `reader`. Everything each needs works,
 * with no permission refused; what each must not do is refused by the server.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, Events, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeEvents, JanusNats } from '../../packages/janus-nats-client/src/index.js';
import { leaseKey } from '../../src/ha/lease-record.js';
import { eventually, startBridge, type TestBridge } from '../support/bridge.js';
import { REPO, startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

const PASSWORDS = {
  BRIDGE_PASSWORD: 'bridge-pass-4Hq',
  SERVICE_PASSWORD: 'service-pass-9Tc',
  OPERATOR_PASSWORD: 'operator-pass-2Wd',
  READER_PASSWORD: 'reader-pass-7Kx',
};
type User = 'bridge' | 'service' | 'operator' | 'reader';
const passwordOf = (user: User): string => PASSWORDS[`${user.toUpperCase()}_PASSWORD` as keyof typeof PASSWORDS];

/** The one `authorization { … }` block of docs/security.md. */
function documentedAuthorization(): string {
  const blocks = [...readFileSync(join(REPO, 'docs/security.md'), 'utf8').matchAll(/```\n(authorization \{[^`]*)```/g)];
  if (blocks.length !== 1) throw new Error(`docs/security.md has ${blocks.length} authorization blocks, not 1`);
  return blocks[0]![1]!;
}

/**
 * The block as the docs say to cut it for a bridge without ha.enabled or capture: the bridge's
 * `janus.relay.>`, `$KV.janus_owners.>`, `$JS.API.>` and its subscription to `_INBOX.>` left out.
 */
function withoutHaOrCapture(block: string): string {
  const lines = block.split('\n');
  const from = lines.findIndex((l) => l.includes('{ user: bridge,'));
  const to = lines.findIndex((l, i) => i > from && l.includes('{ user:'));
  const drop = (line: string, entries: string[]): string =>
    entries.reduce((kept, entry) => kept.replace(new RegExp(`,? ?"${entry.replace(/[.$*>]/g, '\\$&')}"`), ''), line);
  for (let i = from; i < to; i++) {
    const cut = [
      'janus.relay.>',
      '$KV.janus_owners.>',
      '$JS.API.>',
      ...(lines[i]!.includes('subscribe') ? ['_INBOX.>'] : []),
    ];
    const before = lines[i]!;
    lines[i] = drop(before, cut);
    if (lines[i] === before && /subscribe|publish/.test(before)) throw new Error(`nothing cut from ${before}`);
  }
  return lines.join('\n');
}

const dir = mkdtempSync(join(tmpdir(), 'jnb-permissions-'));
let nats: NatsServer;
let janus: JanusServer;
const bridges: TestBridge[] = [];
const connections: NatsConnection[] = [];
/** Every permission error the server sent a connection, by user. */
const refused = new Map<User, string[]>();

async function connectAs(user: User): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, user, pass: passwordOf(user) });
  connections.push(nc);
  void (async () => {
    for await (const status of nc.status())
      if (status.type === Events.Error) refused.set(user, [...(refused.get(user) ?? []), String(status.data)]);
  })();
  return nc;
}

function replica(replicaId: string): Promise<TestBridge> {
  return startBridge({
    nats: { servers: [nats.url], user: 'bridge', password: PASSWORDS.BRIDGE_PASSWORD },
    events: { stream: { enabled: true, storage: 'memory' } },
    connections: [{ janus_id: 'x', janus_url: janus.url }],
    ha: { enabled: true, replicaId, leaseTtl: 3, handoverTimeout: 5 },
  }).then((bridge) => {
    bridges.push(bridge);
    return bridge;
  });
}

const serving = (bridge: TestBridge): boolean =>
  bridge.daemon.connectionStats('x')?.state === 'ready' && bridge.logs().some((l) => l.msg === 'serving');

/** What the daemon logged of NATS refusing it something. */
const permissionErrors = (bridge: TestBridge): unknown[] =>
  bridge.logs().filter((l) => /permission/i.test(JSON.stringify(l)));

beforeAll(async () => {
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, documentedAuthorization());
  // nats-server reads the $…_PASSWORD variables of the block from its environment.
  Object.assign(process.env, PASSWORDS);
  [nats, janus] = await Promise.all([
    startNats(undefined, ['-c', conf, '-js', '-sd', mkdtempSync(join(dir, 'js-'))]),
    startJanus(),
  ]);
}, 30_000);

afterAll(async () => {
  for (const bridge of bridges.splice(0).reverse()) await bridge.stop().catch(() => {});
  for (const nc of connections.splice(0)) await nc.close().catch(() => {});
  await Promise.all([janus?.stop(), nats?.stop()]);
});

describe('the NATS permissions of docs/security.md', () => {
  it('let two replicas serve, capture, hand over, and a service, an operator and a reader do their work', async () => {
    const first = await replica('a');
    await eventually(() => serving(first), 10_000, 'a serves x');

    const serviceConnection = await connectAs('service');
    const service = new JanusNats(serviceConnection, 'x');
    const echo = await service.attach('janus.plugin.echotest');
    const events = echo.events();
    expect((await echo.message({ audio: true })).data.result).toBe('ok');

    // A message without a reply subject: its event is published, and captured.
    const message = { janus: 'message', handle_id: echo.id, body: { audio: false }, transaction: 'unanswered-1' };
    serviceConnection.publish('janus.request.x', JSON.stringify(message));
    // The reader's durable consumer is created by a user that may (here the bridge's), as the docs say.
    const admin = await (await connectAs('bridge')).jetstreamManager();
    await admin.consumers.add('JANUS_EVENTS', {
      durable_name: 'audit',
      ack_policy: AckPolicy.Explicit,
      filter_subject: 'janus.event.>',
    });
    const reader = await consumeEvents(await connectAs('reader'), { durable: 'audit', janusId: 'x', type: 'event' });
    const stored = await reader.next();
    expect(stored.value?.headers.transaction).toBe('unanswered-1');
    await stored.value!.ackAck();

    const operator = await connectAs('operator');
    const owners = JSON.parse((await operator.request('janus.admin.owners', '', { timeout: 5000 })).string()) as {
      owners: Array<{ janus_id: string; replica: string }>;
    };
    expect(owners.owners).toMatchObject([{ janus_id: 'x', replica: 'a' }]);
    const list = JSON.parse(
      (
        await operator.request('janus.adminapi.x', JSON.stringify({ janus: 'list_sessions' }), { timeout: 5000 })
      ).string(),
    ) as Record<string, unknown>;
    expect(list.janus, JSON.stringify(list)).not.toBe(undefined);

    // A hand-over: b joins, a leaves; the handle goes on through b, its answers relayed meanwhile.
    const second = await replica('b');
    await first.stop();
    await eventually(() => serving(second), 15_000, 'b serves x');
    expect((await echo.message({ video: false })).data.result).toBe('ok');
    await echo.detach();
    for await (const e of events) if (e.janus === 'detached') break;
    await reader.close();

    expect(second.logs().filter((l) => l.msg === 'ownership: lease taken')).toMatchObject([{ reason: 'releasing' }]);
    expect([...permissionErrors(first), ...permissionErrors(second)]).toEqual([]);
    expect(Object.fromEntries(refused)).toEqual({});
  }, 60_000);

  it('refuse a reader creating a consumer (it could deliver anywhere)', async () => {
    const nc = await connectAs('reader');
    await expect(consumeEvents(nc, { durable: 'own' })).rejects.toThrow(/cannot consume JANUS_EVENTS as own/);
    await eventually(() => (refused.get('reader') ?? []).length >= 1, 5000, 'a refusal');
    expect(refused.get('reader')).toEqual(['PERMISSIONS_VIOLATION']);
  }, 30_000);

  it('refuse a service writing a lease, a relay answer or an admin request, and leave the owner serving', async () => {
    const owner = bridges.find((b) => serving(b)) ?? (await replica('c'));
    await eventually(() => serving(owner), 10_000, 'x served');
    const nc = await connectAs('service');
    const bucket = 'janus_owners';
    for (const subject of [`$KV.${bucket}.${leaseKey('x')}`, 'janus.relay.x', 'janus.admin.reload'])
      nc.publish(subject, '{}');
    await expect(nc.request('janus.admin.status', '', { timeout: 2000 })).rejects.toThrow();
    await expect(nc.request(`$JS.API.STREAM.DELETE.KV_${bucket}`, '', { timeout: 2000 })).rejects.toThrow();
    await eventually(() => (refused.get('service') ?? []).length >= 5, 5000, 'five refusals');
    expect(refused.get('service')).toEqual(Array(5).fill('PERMISSIONS_VIOLATION'));

    const service = new JanusNats(nc, 'x');
    expect(typeof (await service.info()).version).toBe('number');
    expect(owner.logs().filter((l) => l.msg === 'stopped serving')).toEqual([]);
  }, 30_000);
});

describe('the same block cut as docs/security.md says, for a bridge without ha.enabled or capture', () => {
  it('lets it serve requests and publish events, with no permission refused', async () => {
    const conf = join(dir, 'plain.conf');
    const cut = withoutHaOrCapture(documentedAuthorization());
    expect(cut).not.toMatch(/relay|\$KV|\$JS\.API\.>/);
    writeFileSync(conf, cut);
    const plain = await startNats(undefined, ['-c', conf]);
    try {
      const bridge = await startBridge({
        nats: { servers: [plain.url], user: 'bridge', password: PASSWORDS.BRIDGE_PASSWORD },
        connections: [{ janus_id: 'y', janus_url: janus.url }],
      });
      const nc = await connect({ servers: plain.url, user: 'service', pass: PASSWORDS.SERVICE_PASSWORD });
      try {
        await eventually(() => bridge.daemon.connectionStats('y')?.state === 'ready', 10_000, 'y ready');
        const echo = await new JanusNats(nc, 'y').attach('janus.plugin.echotest');
        const events = echo.events();
        const message = { janus: 'message', handle_id: echo.id, body: { audio: true }, transaction: 'plain-1' };
        nc.publish('janus.request.y', JSON.stringify(message));
        for await (const e of events) if (e.transaction === 'plain-1') break;
        await echo.detach();
        expect(permissionErrors(bridge)).toEqual([]);
      } finally {
        await nc.close();
        await bridge.stop();
      }
    } finally {
      await plain.stop();
    }
  }, 30_000);
});
