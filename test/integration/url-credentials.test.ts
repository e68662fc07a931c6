/**
 * Credentials in a janus_url's query (an access token, an API key, a signed-URL signature
 * for a proxy in front of Janus) are sent to Janus but shown nowhere: not on the status
 * subject, not in events, not in admin answers, not in the daemon's log. Checked with a
 * real Janus (which ignores query parameters it does not know) and a real nats-server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, natsPerFile, startBridge } from '../support/bridge.js';
import { startJanus } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });

const SECRETS = ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4'];

function expectNoSecret(what: string, text: string): void {
  for (const secret of SECRETS) expect(text, `${what} shows ${secret}`).not.toContain(secret);
}

describe('credentials in janus_url query parameters', () => {
  it('never appear on status, in events, admin.status, reload summaries or the log; the connection works', async () => {
    const janus = await startJanus();
    scope.running.push(janus);
    const query = '?access_token=SECRET1&api_key=SECRET2&X-Amz-Signature=SECRET3&room=r1&Authorization=SECRET4';
    const shownUrl =
      `ws://127.0.0.1:${janus.wsPort}/janus?` +
      'access_token=***&api_key=***&X-Amz-Signature=***&room=r1&Authorization=***';
    const status = scope.client.collect('janus.status.cred');
    const events = scope.client.collect('janus.event.cred');
    await scope.client.nc.flush();
    const bridge = await startBridge({
      nats: { servers: [scope.nats.url] },
      janus: { reconnect: { minDelay: 50, maxDelay: 200 } },
      connections: [{ janus_id: 'cred', janus_url: `${janus.url}${query}` }],
    });
    scope.running.push({
      stop: async () => {
        status.stop();
        events.stop();
        await bridge.stop();
      },
    });

    const connected = await status.waitFor((m) => m.state === 'connected');
    expect(connected.janus_url).toBe(shownUrl);

    // An event: the echotest handle's detach.
    const attached = await scope.client.request('janus.request.cred', {
      janus: 'attach',
      plugin: 'janus.plugin.echotest',
    });
    const handle = (attached.json.data as { id: number }).id;
    await scope.client.request('janus.request.cred', { janus: 'detach', handle_id: handle });
    const detached = await events.waitFor((m) => (m.janus_body as { janus: string }).janus === 'detached');
    expect(detached.janus_url).toBe(shownUrl);

    const admin = (await scope.client.request('janus.admin.status', '')).json as {
      connections: Array<{ janus_id: string; janus_url: string }>;
    };
    expect(admin.connections).toEqual([expect.objectContaining({ janus_id: 'cred', janus_url: shownUrl })]);
    const reload = (await scope.client.request('janus.admin.reload', '', 10_000)).json;
    expect(reload).toMatchObject({ ok: true, unchanged: ['cred'] });

    // A Janus restart: disconnect and reconnect status messages, and their log lines.
    await janus.kill();
    await status.waitFor((m) => m.state !== 'connected');
    const back = await janus.restart();
    scope.running.push(back);
    await eventually(
      () =>
        status.messages.filter((m) => m.json.state === 'connected' || m.json.state === 'session-replaced').length >= 2,
      10_000,
      'reconnected',
    );
    await eventually(
      async () => (await scope.client.request('janus.request.cred', { janus: 'ping' })).json.janus === 'pong',
      5000,
      'answers again',
    );

    expect(status.messages.length).toBeGreaterThanOrEqual(3);
    for (const message of status.messages) expect(message.json.janus_url).toBe(shownUrl);
    expectNoSecret('janus.status.cred', JSON.stringify(status.messages));
    expectNoSecret('janus.event.cred', JSON.stringify(events.messages));
    expectNoSecret('janus.admin.status', JSON.stringify(admin));
    expectNoSecret('janus.admin.reload', JSON.stringify(reload));
    const logs = JSON.stringify(bridge.logs());
    expect(logs).toContain('cred');
    expectNoSecret('the log', logs);
  }, 30_000);
});
