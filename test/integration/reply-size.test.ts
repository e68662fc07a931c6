/**
 * Janus indents its JSON by default and the bridge passes Janus's text on: an answer that
 * only fits NATS's max_payload compact goes compact, one that does not fit at all is 614.
 * Checked against a real Janus, through nats-servers configured with a small max_payload.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, eventually, startBridge, type TestBridge } from '../support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

let janus: JanusServer;
const dir = mkdtempSync(join(tmpdir(), 'jnb-reply-size-'));
const running: Array<{ stop(): Promise<unknown> }> = [];

beforeAll(async () => {
  janus = await startJanus();
});

/** Stops what the test started, last first. */
async function stopRunning(): Promise<void> {
  for (const item of running.splice(0).reverse()) await item.stop();
}

afterEach(stopRunning);

afterAll(async () => {
  await janus?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A nats-server with `maxPayload` (or the default), a bridge serving `j1` on it, and a client. */
async function bridgeOn(maxPayload?: number): Promise<Client> {
  const args: string[] = [];
  if (maxPayload !== undefined) {
    const file = join(dir, `nats-${maxPayload}.conf`);
    writeFileSync(file, `max_payload: ${maxPayload}\n`);
    args.push('-c', file);
  }
  const nats: NatsServer = await startNats(undefined, args);
  running.push(nats);
  const bridge: TestBridge = await startBridge({
    nats: { servers: [nats.url] },
    connections: [{ janus_id: 'j1', janus_url: janus.url }],
  });
  running.push(bridge);
  const client = await Client.connect(nats.url);
  running.push({ stop: () => client.close() });
  await eventually(() => bridge.daemon.connectionStats('j1')?.state === 'ready', 10_000, 'connection ready');
  return client;
}

/** The raw reply text to `info`. */
async function infoText(client: Client): Promise<string> {
  return (
    await client.nc.request('janus.request.j1', JSON.stringify({ janus: 'info', transaction: 'i' }), { timeout: 5_000 })
  ).string();
}

describe('reply size', () => {
  it("passes Janus's indented text when it fits, compact when only that fits, and 614 when nothing does", async () => {
    const indented = await infoText(await bridgeOn());
    const answer = JSON.parse(indented) as Record<string, unknown>;
    const compact = JSON.stringify(answer);
    expect(answer).toMatchObject({ janus: 'server_info', transaction: 'i' });
    // Janus's default layout, as it wrote it: the bridge did not serialise it again.
    expect(indented).toContain('\n   "transaction": "i"');
    expect(Buffer.byteLength(indented)).toBeGreaterThan(Buffer.byteLength(compact) + 200);
    await stopRunning();

    const between = Math.floor((Buffer.byteLength(indented) + Buffer.byteLength(compact)) / 2);
    const squeezed = await infoText(await bridgeOn(between));
    expect(squeezed).toBe(compact);
    await stopRunning();

    const client = await bridgeOn(Buffer.byteLength(compact) - 1);
    const reply = await client.request('janus.request.j1', { janus: 'info', transaction: 'i' });
    expect(reply.json).toMatchObject({ janus: 'error', transaction: 'i', error: { code: 614 } });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('614');
  });
});
