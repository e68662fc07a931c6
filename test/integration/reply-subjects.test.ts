/**
 * A client may choose any reply subject: the bridge must not publish its answers, with its
 * own rights, on its event, status or relay subjects, on $-subjects or on wildcards. Such
 * requests are refused: nothing goes to Janus, nothing is published, the refusal is counted.
 * Real Janus, real NATS.
 */
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serveAdmin } from '../../src/bridge/admin.js';
import { AnswerRelay } from '../../src/ha/relay.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import { Client, natsPerFile, startBridge, eventually, type Collector, type TestBridge } from '../support/bridge.js';
import { startJanus, type JanusServer } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
let janus: JanusServer;
let bridge: TestBridge;
/** A separate client that sees everything published, $-subjects included. */
let watcher: Client;
let everything: Collector;
let dollar: Collector;

/** How long "nothing arrives" is watched for: a reply would take a millisecond or two. */
const QUIET_MS = 300;

beforeAll(async () => {
  janus = await startJanus();
  bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    connections: [{ janus_id: 'r', janus_url: janus.url }],
  });
  await eventually(() => bridge.daemon.connectionStats('r')?.state === 'ready', 10_000, 'ready');
  watcher = await Client.connect(scope.nats.url);
  everything = watcher.collect('>');
  dollar = watcher.collect('$JS.>');
  await watcher.nc.flush();
});

afterAll(async () => {
  await watcher?.close();
  await bridge?.stop();
  await janus?.stop();
});

const FORGED = [
  'janus.event.r',
  'janus.status.r',
  'janus.event.*',
  'janus.relay.r',
  '$JS.API.x',
  'foo.>',
  'janus.admin.status',
  'janus',
];

/**
 * Sends `payload` to `subject` asking for the answer on `reply`, and says what was published on `reply` within
 * QUIET_MS.
 */
async function publishedOnReply(subject: string, payload: unknown, reply: string): Promise<unknown[]> {
  const from = new Set([...everything.messages, ...dollar.messages]);
  scope.client.nc.publish(subject, JSON.stringify(payload), { reply });
  await scope.client.nc.flush();
  await new Promise((r) => setTimeout(r, QUIET_MS));
  const onReply = [...everything.messages, ...dollar.messages].filter((m) => !from.has(m) && m.subject === reply);
  // A request sent to the very subject it names for the reply is seen there itself: only what follows it is a reply.
  return (reply === subject ? onReply.slice(1) : onReply).map((m) => m.json);
}

async function metric(line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${bridge.daemon.httpPort}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found ? Number(found.split(' ').pop()) : 0;
}

const REJECTED = 'janus_bridge_requests_total{janus_id="r",outcome="rejected"}';

describe('a request whose reply subject the bridge must not publish on', () => {
  it.each(FORGED)(
    'with the reply subject %s gets nothing sent to Janus, nothing published, and is counted and logged',
    async (reply) => {
      const connection = () => bridge.daemon.connectionStats('r')!;
      const frames = connection().clientFramesSent;
      const rejected = await metric(REJECTED);
      expect(await publishedOnReply('janus.request.r', { janus: 'ping', transaction: 'forged' }, reply)).toEqual([]);
      expect(connection().clientFramesSent).toBe(frames);
      expect(await metric(REJECTED)).toBe(rejected + 1);
      expect(bridge.logs()).toContainEqual(
        expect.objectContaining({
          kind: 'request',
          reply_subject: reply,
          msg: expect.stringMatching(/^request refused/),
        }),
      );
    },
  );

  it('is refused before it is even parsed: an invalid one gets no error reply there either', async () => {
    expect(await publishedOnReply('janus.request.r', '{not json', 'janus.event.r')).toEqual([]);
  });

  it('leaves a normal request working, answered on its inbox', async () => {
    expect((await scope.client.request('janus.request.r', { janus: 'ping', transaction: 'ok' })).json).toEqual({
      janus: 'pong',
      transaction: 'ok',
    });
  });
});

describe('admin and service-discovery requests whose reply subject the bridge must not publish on', () => {
  it.each(FORGED)('janus.admin.status with the reply subject %s publishes nothing', async (reply) => {
    expect(await publishedOnReply('janus.admin.status', {}, reply)).toEqual([]);
  });

  it.each(FORGED)('janus.admin.reload with the reply subject %s neither reloads nor publishes', async (reply) => {
    const reloads = (): number =>
      bridge.logs().filter((l) => l.msg === 'connection list loaded' && l.trigger === 'nats').length;
    const before = reloads();
    expect(await publishedOnReply('janus.admin.reload', {}, reply)).toEqual([]);
    expect(reloads()).toBe(before);
  });

  it.each(FORGED)('$SRV.PING with the reply subject %s publishes nothing', async (reply) => {
    expect(await publishedOnReply('$SRV.PING', {}, reply)).toEqual([]);
  });

  it('answer from an inbox as before', async () => {
    expect((await scope.client.request('janus.admin.status', '')).json.connections).toMatchObject([
      { janus_id: 'r', state: 'ready' },
    ]);
    expect((await scope.client.request('$SRV.PING.janus-nats-bridge', '')).json.name).toBe('janus-nats-bridge');
    expect((await scope.client.request('janus.admin.reload', '')).json.ok).toBe(true);
  });
});

/** A logger that keeps its lines, and metrics of our own, for the parts tested without the daemon. */
function parts(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>>; metrics: Metrics } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
      done();
    },
  });
  return {
    log: createLogger('debug', sink),
    lines,
    metrics: new Metrics({ connections: () => [], natsConnected: () => true }),
  };
}

async function count(metrics: Metrics, line: string): Promise<number> {
  const found = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(line + ' '));
  return found ? Number(found.split(' ').pop()) : 0;
}

describe('the admin subjects, given metrics', () => {
  it('count a refused reply subject, and answer an inbox', async () => {
    const { log, metrics } = parts();
    const subscriptions = serveAdmin(
      scope.client.nc,
      'acme',
      {
        reload: async () => {
          throw new Error('no reload in this test');
        },
        status: () => [],
        instance: { id: 'I', version: 'v', replica: 'x' },
        owners: () => ({ owners: [] }),
      },
      log,
      metrics,
    );
    try {
      await scope.client.nc.flush();
      for (const [subject, reply] of [
        ['acme.admin.status', 'acme.event.r'],
        ['acme.admin.owners', '$KV.owners.r'],
        ['acme.admin.reload', 'acme.>'],
      ] as const) {
        expect(await publishedOnReply(subject, {}, reply)).toEqual([]);
      }
      expect(await count(metrics, 'janus_bridge_reply_subjects_refused_total{kind="admin"}')).toBe(3);
      expect((await scope.client.request('acme.admin.owners', '')).json).toEqual({ owners: [] });
    } finally {
      for (const subscription of subscriptions) subscription.unsubscribe();
    }
  });
});

describe('the relay between replicas', () => {
  it('routes no offer wanting its answer on a forged subject, counts it, still takes one from an inbox', async () => {
    const { log, metrics } = parts();
    const relay = new AnswerRelay(scope.client.nc, 'acme', log, () => {}, metrics);
    const routed: string[] = [];
    const stop = await relay.listen('r', (text) => {
      routed.push(text);
      return true;
    });
    try {
      expect(await publishedOnReply('acme.relay.r', { janus: 'event', transaction: 'x' }, 'acme.event.r')).toEqual([]);
      expect(routed).toEqual([]);
      expect(await count(metrics, 'janus_bridge_reply_subjects_refused_total{kind="relay"}')).toBe(1);
      // The new owner offers with nc.request: its inbox is a reply subject the old owner answers on.
      expect(await new AnswerRelay(watcher.nc, 'acme', log).offer('r', '{"janus":"event","transaction":"y"}')).toBe(
        true,
      );
      expect(routed).toEqual(['{"janus":"event","transaction":"y"}']);
    } finally {
      stop();
    }
  });
});
