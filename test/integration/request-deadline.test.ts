/**
 * A request's own deadline (the Janus-Timeout header): the bridge answers 610 before the
 * client gives up, and Janus's late answer is then published as an event with the client's
 * transaction. Real Janus (frozen with SIGSTOP to make it late), real NATS.
 */
import { headers } from 'nats';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, natsPerFile, startBridge, type TestBridge } from '../support/bridge.js';
import { startJanus, type JanusServer } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach: () => {}, afterAll });
let janus: JanusServer;
let bridge: TestBridge;

beforeAll(async () => {
  janus = await startJanus();
  bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: { cmdTimeout: 5000, pingInterval: 30 },
    connections: [{ janus_id: 'dl', janus_url: janus.url }],
  });
  await eventually(() => bridge.daemon.connectionStats('dl')?.state === 'ready', 10_000, 'ready');
});

afterAll(async () => {
  await bridge?.stop();
  await janus?.stop();
});

function withTimeout(value: string, name = 'Janus-Timeout') {
  const h = headers();
  h.set(name, value);
  return h;
}

async function ask(body: unknown, h: ReturnType<typeof headers> | undefined, timeout: number) {
  const started = performance.now();
  const msg = await scope.client.nc.request('janus.request.dl', JSON.stringify(body), {
    timeout,
    ...(h ? { headers: h } : {}),
  });
  return {
    json: JSON.parse(msg.string()) as { janus: string; transaction?: string; error?: { code: number; reason: string } },
    headers: msg.headers,
    ms: performance.now() - started,
  };
}

it('answers 610 at the Janus-Timeout, before the client gives up; the late answer is an event', async () => {
  const events = scope.client.collect('janus.event.dl');
  await scope.client.nc.flush();
  janus.pause();
  try {
    const reply = await ask({ janus: 'ping', transaction: 'late-1' }, withTimeout('800'), 3000);
    expect(reply.json).toMatchObject({ janus: 'error', transaction: 'late-1', error: { code: 610 } });
    expect(reply.json.error!.reason).toContain("800 ms, the request's Janus-Timeout");
    expect(reply.ms).toBeGreaterThanOrEqual(780);
    expect(reply.ms).toBeLessThan(2000);
  } finally {
    janus.resume();
  }
  const late = await events.waitFor((m) => (m.janus_body as { transaction?: string }).transaction === 'late-1', 5000);
  expect((late.janus_body as { janus: string }).janus).toBe('pong');
  events.stop();
});

it('never waits longer than janus.cmdTimeout, whatever the header asks', async () => {
  janus.pause();
  try {
    const reply = await ask({ janus: 'ping' }, withTimeout('60000'), 9000);
    expect(reply.json.error?.code).toBe(610);
    expect(reply.ms).toBeGreaterThanOrEqual(4900);
    expect(reply.ms).toBeLessThan(6500);
  } finally {
    janus.resume();
  }
}, 20_000);

it('reads the header in any case', async () => {
  janus.pause();
  try {
    const reply = await ask({ janus: 'ping' }, withTimeout('300', 'janus-timeout'), 3000);
    expect(reply.json.error?.code).toBe(610);
    expect(reply.ms).toBeLessThan(1500);
  } finally {
    janus.resume();
  }
});

it.each([['0'], ['-5'], ['1.5'], ['abc'], [' '], ['99999999999'], ['1e3'], ['0x10']])(
  'refuses Janus-Timeout %j at once with 607, nothing sent to Janus',
  async (value) => {
    const connection = () => bridge.daemon.connectionStats('dl')!;
    const before = connection().clientFramesSent;
    const reply = await ask({ janus: 'ping', transaction: 'bad-header' }, withTimeout(value), 2000);
    expect(reply.json).toMatchObject({ janus: 'error', transaction: 'bad-header', error: { code: 607 } });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('607');
    expect(reply.json.error!.reason).toMatch(/got (a value of \d+ characters|an empty value)$/);
    expect(reply.ms).toBeLessThan(500);
    expect(connection().clientFramesSent).toBe(before);
  },
);

it('answers normally within the deadline, and leaves nothing pending', async () => {
  const reply = await ask({ janus: 'ping', transaction: 'fast' }, withTimeout('2000'), 3000);
  expect(reply.json).toEqual({ janus: 'pong', transaction: 'fast' });
  await eventually(() => bridge.daemon.connectionStats('dl')!.pendingRequests === 0, 2000, 'nothing pending');
});
