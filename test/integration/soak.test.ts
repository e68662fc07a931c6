/**
 * Soak: 100,000 mixed requests (SOAK_REQUESTS for longer runs) through a real Janus,
 * with timeouts (Janus frozen) and reconnects (the WebSocket cut) along the way. Every
 * request is answered, nothing stays pending, and the heap after GC does not grow
 * between the first and the second half.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { eventually, natsPerFile, startBridge } from '../support/bridge.js';
import { startJanus } from '../support/processes.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const TOTAL = Number(process.env.SOAK_REQUESTS ?? 100_000);
const WINDOW = 256;
const scope = natsPerFile({ beforeAll, afterEach, afterAll });

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

it(`answers ${TOTAL} mixed requests through timeouts and reconnects, leaks nothing`, async () => {
  const janus = await startJanus({ reclaimTimeout: 10 });
  scope.running.push(janus);
  const proxy = await startTcpProxy(janus.wsPort);
  scope.running.push(proxy);
  const bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: { cmdTimeout: 1000, pingInterval: 30, reconnect: { minDelay: 50, maxDelay: 300 } },
    connections: [{ janus_id: 'soak', janus_url: `janusws://127.0.0.1:${proxy.port}/janus` }],
    log: { level: 'warn' },
  });
  scope.running.push(bridge);
  const connection = () => bridge.daemon.connectionStats('soak')!;
  await eventually(() => connection().state === 'ready', 10_000, 'ready');
  const handle = (
    (await scope.client.request('janus.request.soak', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json
      .data as { id: number }
  ).id;

  const outcomes = new Map<string, number>();
  const count = (key: string): void => {
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  };
  const faults: Array<[number, string, () => Promise<void>]> = [
    [
      Math.floor(TOTAL * 0.2),
      'freeze',
      async () => {
        janus.pause();
        await new Promise((r) => setTimeout(r, 1200));
        janus.resume();
      },
    ],
    [
      Math.floor(TOTAL * 0.4),
      'cut',
      async () => {
        await proxy.cut();
        await new Promise((r) => setTimeout(r, 100));
        await proxy.open();
      },
    ],
    [
      Math.floor(TOTAL * 0.7),
      'freeze',
      async () => {
        janus.pause();
        await new Promise((r) => setTimeout(r, 1200));
        janus.resume();
      },
    ],
    [
      Math.floor(TOTAL * 0.9),
      'cut',
      async () => {
        await proxy.cut();
        await new Promise((r) => setTimeout(r, 100));
        await proxy.open();
      },
    ],
  ];

  const body = (i: number): Record<string, unknown> => {
    switch (i % 3) {
      case 0:
        return { janus: 'ping', transaction: `p${i}` };
      case 1:
        return { janus: 'keepalive', transaction: `k${i}` };
      default:
        return { janus: 'message', handle_id: handle, body: { audio: i % 2 === 0 }, transaction: `m${i}` };
    }
  };

  let next = 0;
  let answered = 0;
  let mismatched = 0;
  const started = performance.now();
  const faultRuns: Array<Promise<void>> = [];

  /** Sends requests `from`..`to` with WINDOW in flight, then waits until the connection is idle again. */
  const run = async (from: number, to: number): Promise<void> => {
    next = from;
    const lane = async (): Promise<void> => {
      while (next < to) {
        const i = next++;
        const fault = faults.find(([at]) => at === i);
        if (fault) faultRuns.push(fault[2]());
        const request = body(i);
        try {
          const reply = await scope.client.request('janus.request.soak', request, 10_000);
          answered++;
          if (reply.json.transaction !== request.transaction) mismatched++;
          const error = reply.json.error as { code: number } | undefined;
          count(reply.json.janus === 'error' ? `error ${error?.code}` : 'ok');
        } catch (err) {
          count(`nats ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, lane));
    await Promise.all(faultRuns.splice(0));
    await eventually(() => connection().state === 'ready' && connection().pendingRequests === 0, 10_000, 'idle');
  };

  const baseline = heapAfterGc();
  await run(0, TOTAL / 2);
  const heapAtHalf = heapAfterGc();
  await run(TOTAL / 2, TOTAL);
  const heapAtEnd = heapAfterGc();
  const seconds = (performance.now() - started) / 1000;

  const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
  console.log(
    `soak: ${TOTAL} requests in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds)}/s), outcomes ` +
      `${JSON.stringify(Object.fromEntries(outcomes))}`,
  );
  console.log(
    `soak: heap after GC ${mb(baseline)} MB at start, ${mb(heapAtHalf)} MB after the first half, ${mb(heapAtEnd)} MB ` +
      `after the second (growth ${mb(heapAtEnd - heapAtHalf)} MB)`,
  );

  expect(answered).toBe(TOTAL);
  expect(mismatched).toBe(0);
  expect([...outcomes.keys()].filter((k) => k.startsWith('nats'))).toEqual([]);
  // While the WebSocket is cut, requests fail fast (611), so how many depends on the machine's speed.
  expect(outcomes.get('ok')).toBeGreaterThan(TOTAL / 2);
  expect([...outcomes.keys()].filter((k) => !['ok', 'error 610', 'error 611', 'error 612'].includes(k))).toEqual([]);
  expect(outcomes.get('error 610') ?? 0).toBeGreaterThan(0);
  expect((outcomes.get('error 612') ?? 0) + (outcomes.get('error 611') ?? 0)).toBeGreaterThan(0);
  expect(connection().pendingRequests).toBe(0);
  expect(heapAtEnd - heapAtHalf).toBeLessThan(5 * 1024 * 1024);
}, 180_000);
