/**
 * The event-handler endpoint on loopback, with a fake sink and fake senders: pausing for a backlog, its limit, dead
 * links.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { OutgoingEvent } from '../../src/bridge/event-sink.js';
import { EvhEndpoint, type EvhEndpointOptions } from '../../src/eventhandlers/endpoint.js';
import { EvhTallies } from '../../src/eventhandlers/tally.js';
import { createLogger } from '../../src/log.js';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function endpoint(options: Partial<EvhEndpointOptions> = {}) {
  const sent: OutgoingEvent[] = [];
  const tallies = new EvhTallies();
  const sink = {
    publish: (event: OutgoingEvent) => {
      sent.push(event);
      event.report('published');
    },
    flush: async () => {},
    stop: () => {},
    stats: () => ({ tooLarge: 0 }),
  };
  const ep = await EvhEndpoint.start(
    { host: '127.0.0.1', port: 0, secret: '', maxMessageBytes: 1 << 20, pingIntervalMs: 60_000, ...options },
    { prefix: 'janus', sink, tallies, log: createLogger('silent') },
  );
  ep.setListed(['j']);
  open.push({ close: () => ep.close(1000) });
  return { ep, sent, tallies };
}

async function sender(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/j`, 'janus-event-handlers');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  open.push({ close: () => ws.terminate() });
  return ws;
}

const event = (n: number) => JSON.stringify([{ type: 32, subtype: 3, session_id: 1, handle_id: 2, event: { n } }]);
const until = async (check: () => boolean, ms = 3000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('EvhEndpoint', () => {
  it('stops reading while the sink is backlogged and reads on once it is not, losing nothing', async () => {
    let backlogged = false;
    const { ep, sent } = await endpoint({ backlogged: () => backlogged });
    const ws = await sender(ep.port);
    ws.send(event(1));
    await until(() => sent.length === 1);
    backlogged = true;
    ws.send(event(2));
    await until(() => sent.length === 2);
    expect(ep.pauses).toBe(1);
    for (let n = 3; n <= 50; n++) ws.send(event(n));
    await new Promise((r) => setTimeout(r, 200));
    // Paused after the second: what arrived meanwhile waits in the socket (ws may hand over what it had already read).
    const whilePaused = sent.length;
    expect(whilePaused).toBeLessThan(50);
    backlogged = false;
    await until(() => sent.length === 50);
    expect(sent.map((e) => (JSON.parse(Buffer.from(e.data).toString()) as { event: { n: number } }).event.n)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
  });

  it('reads on after maxPauseMs when the backlog stays, and does not pause again until it clears', async () => {
    let backlogged = true;
    const { ep, sent } = await endpoint({ backlogged: () => backlogged, maxPauseMs: 200 });
    const ws = await sender(ep.port);
    ws.send(event(1));
    await until(() => sent.length === 1);
    for (let n = 2; n <= 20; n++) ws.send(event(n));
    await until(() => sent.length === 20, 3000);
    expect(ep.pauses).toBe(1);
    backlogged = false;
    ws.send(event(21));
    await until(() => sent.length === 21);
    backlogged = true;
    ws.send(event(22));
    await until(() => sent.length === 22);
    expect(ep.pauses).toBe(2);
  });

  it('drops a link that answers no ping, and counts it no more', async () => {
    const { ep, tallies } = await endpoint({ pingIntervalMs: 50 });
    const ws = await sender(ep.port);
    await until(() => tallies.of('j').links === 1);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    // A peer that reads nothing any more cannot answer the pings.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => tallies.of('j').links === 0, 2000);
    expect(ep.linkCount).toBe(0);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await closed;
  });

  it('keeps a link that answers its pings', async () => {
    const { ep, tallies } = await endpoint({ pingIntervalMs: 30 });
    await sender(ep.port);
    await new Promise((r) => setTimeout(r, 300));
    expect(tallies.of('j').links).toBe(1);
  });
});
