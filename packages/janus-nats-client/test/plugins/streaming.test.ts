/**
 * The Streaming helper against the real janus.plugin.streaming, through NATS and the daemon.
 * The RTP mountpoints here receive no media and no viewer's PeerConnection ever comes up,
 * so watching goes as far as Janus's offer, our answer and the status events around them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeError } from '../../src/index.js';
import { PluginError, Streaming, type StreamingCreateRtpOptions } from '../../src/plugins/index.js';
import { answerTo } from './sdp.js';
import { BRIDGE_CMD_TIMEOUT_MS, EventLog, rejectionOf, startPluginTestBed, type PluginTestBed } from './support.js';

let bed: PluginTestBed;
let nextId = 61_000;
const freshId = (): number => nextId++;

/** An RTP mountpoint with one Opus stream on a port Janus picks. */
const opusMountpoint = (id: number, extra: Partial<StreamingCreateRtpOptions> = {}): StreamingCreateRtpOptions => ({
  type: 'rtp',
  id,
  name: `opus-${id}`,
  description: `opus ${id}`,
  media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }],
  ...extra,
});

beforeAll(async () => {
  bed = await startPluginTestBed();
});

afterAll(async () => {
  await bed?.stop();
});

describe('mountpoints', () => {
  it('creates an RTP mountpoint on a port Janus picks, lists it, tells its info, and destroys it', async () => {
    const admin = await bed.attach(Streaming);
    const id = freshId();
    const created = await admin.create(opusMountpoint(id, { secret: 'owner' }));
    expect(created).toMatchObject({
      streaming: 'created',
      created: `opus-${id}`,
      permanent: false,
      stream: { id, type: 'live', description: `opus ${id}`, is_private: false },
    });
    const port = created.stream.ports?.[0];
    expect(port).toMatchObject({ type: 'audio', mid: 'a' });
    expect(port?.port).toBeGreaterThan(0);

    const listed = (await admin.list()).list.find((entry) => entry.id === id);
    expect(listed).toMatchObject({
      id,
      type: 'live',
      description: `opus ${id}`,
      enabled: true,
      media: [{ mid: 'a', type: 'audio', label: 'audio' }],
    });

    const publicInfo = (await admin.info({ id })).info;
    expect(publicInfo).toMatchObject({
      id,
      enabled: true,
      media: [{ mindex: 0, mid: 'a', type: 'audio', pt: 111, codec: 'opus', rtpmap: 'opus/48000/2' }],
    });
    expect(publicInfo).not.toHaveProperty('secret');
    expect(publicInfo.media[0]).not.toHaveProperty('port');
    const ownerInfo = (await admin.info({ id, secret: 'owner' })).info;
    expect(ownerInfo).toMatchObject({ name: `opus-${id}`, secret: 'owner', viewers: 0, media: [{ port: port?.port }] });

    expect(await admin.destroy({ id, secret: 'owner' })).toEqual({ streaming: 'destroyed', destroyed: id });
    const gone = await rejectionOf(admin.info({ id }));
    expect(gone).toBeInstanceOf(PluginError);
    expect(gone).toMatchObject({ plugin: 'janus.plugin.streaming', request: 'info', error_code: 455 });
  });

  it('throws PluginError 456 for a mountpoint id in use and 457 for a wrong secret', async () => {
    const admin = await bed.attach(Streaming);
    const id = freshId();
    await admin.create(opusMountpoint(id, { secret: 'owner' }));
    expect(await rejectionOf(admin.create(opusMountpoint(id, { name: 'another' })))).toMatchObject({
      request: 'create',
      error_code: 456,
    });
    expect(await rejectionOf(admin.destroy({ id, secret: 'guess' }))).toMatchObject({
      request: 'destroy',
      error_code: 457,
    });
    await admin.destroy({ id, secret: 'owner' });
  });

  it('disables and enables a mountpoint with "ok" answers, as info and list show', async () => {
    const admin = await bed.attach(Streaming);
    const id = freshId();
    await admin.create(opusMountpoint(id));
    expect(await admin.disable({ id })).toEqual({ streaming: 'ok' });
    expect((await admin.info({ id })).info.enabled).toBe(false);
    expect(await admin.enable({ id })).toEqual({ streaming: 'ok' });
    expect((await admin.list()).list.find((entry) => entry.id === id)?.enabled).toBe(true);
    await admin.destroy({ id });
  });
});

describe('viewers', () => {
  it('watches: "preparing" with Janus\'s offer, "starting" on our answer, then "pausing", "configured"', async () => {
    const admin = await bed.attach(Streaming);
    const id = freshId();
    await admin.create(opusMountpoint(id));
    const viewer = await bed.attach(Streaming);

    const preparing = await viewer.watch({ id });
    expect(preparing.data).toEqual({ streaming: 'event', result: { status: 'preparing' } });
    expect(preparing.jsep?.type).toBe('offer');
    expect(preparing.jsep?.sdp).toMatch(/m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111/);

    expect(await viewer.start(answerTo(preparing.jsep!))).toEqual({
      streaming: 'event',
      result: { status: 'starting' },
    });
    expect(await viewer.pause()).toEqual({ streaming: 'event', result: { status: 'pausing' } });
    expect(await viewer.configure({ mid: 'a', send: false })).toEqual({
      streaming: 'event',
      result: { event: 'configured' },
    });
    expect((await admin.info({ id })).info.viewers).toBe(1);
    await admin.destroy({ id });
  });

  it('refuses to watch a mountpoint that does not exist with PluginError 455', async () => {
    const viewer = await bed.attach(Streaming);
    expect(await rejectionOf(viewer.watch({ id: 9_999_999 }))).toMatchObject({ request: 'watch', error_code: 455 });
  });

  it('tells a viewer "stopped", then Janus\'s hangup, when its mountpoint is destroyed', async () => {
    const admin = await bed.attach(Streaming);
    const id = freshId();
    await admin.create(opusMountpoint(id));
    const viewer = await bed.attach(Streaming);
    const viewerEvents = new EventLog(viewer.events());
    const preparing = await viewer.watch({ id });
    await viewer.start(answerTo(preparing.jsep!));

    await admin.destroy({ id });
    const stopped = await viewerEvents.next('status', (event) => event.data.result.status === 'stopped');
    expect(stopped.data).toEqual({ streaming: 'event', result: { status: 'stopped' } });
    expect(stopped.transaction).toBeUndefined();
    await viewerEvents.next('janus', (event) => event.janus === 'hangup');
    await viewerEvents.stop();
  });

  it("gets no answer to stop while the viewer's media never started: it times out (bridge's 610)", async () => {
    const admin = await bed.attach(Streaming);
    const id = freshId();
    await admin.create(opusMountpoint(id));
    const viewer = await bed.attach(Streaming);
    const preparing = await viewer.watch({ id });
    await viewer.start(answerTo(preparing.jsep!));

    const started = Date.now();
    const error = await rejectionOf(viewer.stop({ timeout: BRIDGE_CMD_TIMEOUT_MS }));
    expect(error).toBeInstanceOf(BridgeError);
    expect(error).toMatchObject({ code: 610, name: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(BRIDGE_CMD_TIMEOUT_MS - 100);
    await admin.destroy({ id });
  });
});
