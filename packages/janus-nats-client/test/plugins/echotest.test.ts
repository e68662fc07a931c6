/** The EchoTest helper against the real janus.plugin.echotest, through NATS and the daemon. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JanusNatsError } from '../../src/index.js';
import { EchoTest, PluginError } from '../../src/plugins/index.js';
import { audioOffer } from './sdp.js';
import { EventLog, rejectionOf, startPluginTestBed, type PluginTestBed } from './support.js';

let bed: PluginTestBed;

beforeAll(async () => {
  bed = await startPluginTestBed();
});

afterAll(async () => {
  await bed?.stop();
});

describe('EchoTest', () => {
  it('answers audio, video and bitrate settings with result "ok" and no JSEP', async () => {
    const echo = await bed.attach(EchoTest);
    const answer = await echo.message({ audio: true, video: false, bitrate: 128_000 });
    expect(answer.data).toEqual({ echotest: 'event', result: 'ok' });
    expect(answer.jsep).toBeUndefined();
  });

  it("answers a request with a JSEP offer with Janus's JSEP answer", async () => {
    const echo = await bed.attach(EchoTest);
    const answer = await echo.message({ audio: true, video: false }, audioOffer());
    expect(answer.data.result).toBe('ok');
    expect(answer.jsep?.type).toBe('answer');
    expect(answer.jsep?.sdp).toContain('m=audio');
  });

  it("throws a PluginError (a JanusNatsError) with the plugin's error_code and error for a bad setting", async () => {
    const echo = await bed.attach(EchoTest);
    const error = await rejectionOf(echo.message({ bitrate: -1 }));
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toBeInstanceOf(JanusNatsError);
    expect(error).toMatchObject({
      plugin: 'janus.plugin.echotest',
      request: 'message',
      error_code: 413,
      error: expect.stringContaining('bitrate'),
    });
  });

  it('reports the end of the PeerConnection as Janus\'s own hangup event, named "janus"', async () => {
    const echo = await bed.attach(EchoTest);
    const events = new EventLog(echo.events());
    await echo.message({ audio: true }, audioOffer());
    await echo.handle.hangup();
    const hangup = await events.next('janus', (event) => event.janus === 'hangup');
    expect(hangup.source.body).toMatchObject({ janus: 'hangup', sender: echo.handle.id });
    await events.stop();
  });
});
