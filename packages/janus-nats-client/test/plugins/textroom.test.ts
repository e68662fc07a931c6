/**
 * The TextRoom helper against the real janus.plugin.textroom, through NATS and the daemon:
 * room management through `message`, and the data channel's negotiation up to our answer.
 * Joining, talking and leaving travel over the data channel, which never opens here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginError, TextRoom } from '../../src/plugins/index.js';
import { answerTo } from './sdp.js';
import { rejectionOf, startPluginTestBed, type PluginTestBed } from './support.js';

let bed: PluginTestBed;
let nextRoom = 71_000;
const freshRoom = (): number => nextRoom++;

beforeAll(async () => {
  bed = await startPluginTestBed();
});

afterAll(async () => {
  await bed?.stop();
});

describe('room management through message', () => {
  it('creates a room, finds it with exists, list and listparticipants, and destroys it', async () => {
    const admin = await bed.attach(TextRoom);
    const room = freshRoom();
    expect(await admin.create({ room, description: 'chat', history: 5 })).toEqual({
      textroom: 'created',
      room,
      permanent: false,
    });
    expect(await admin.exists(room)).toEqual({ textroom: 'success', room, exists: true });
    expect((await admin.list()).list.find((entry) => entry.room === room)).toEqual({
      room,
      description: 'chat',
      pin_required: false,
      num_participants: 0,
      history: 5,
    });
    expect(await admin.listParticipants(room)).toEqual({ room, participants: [] });
    expect(await admin.destroy({ room })).toEqual({ textroom: 'destroyed', room, permanent: false });
    expect((await admin.exists(room)).exists).toBe(false);
  });

  it("edits a room's description and PIN, as list then shows", async () => {
    const admin = await bed.attach(TextRoom);
    const room = freshRoom();
    await admin.create({ room, description: 'before', secret: 'owner' });
    expect(await admin.edit({ room, secret: 'owner', new_description: 'after', new_pin: '1234' })).toEqual({
      textroom: 'edited',
      room,
      permanent: false,
    });
    expect((await admin.list()).list.find((entry) => entry.room === room)).toMatchObject({
      description: 'after',
      pin_required: true,
    });
    await admin.destroy({ room, secret: 'owner' });
  });

  it('accepts an announcement with the room secret', async () => {
    const admin = await bed.attach(TextRoom);
    const room = freshRoom();
    await admin.create({ room, secret: 'owner' });
    expect(await admin.announcement({ room, secret: 'owner', text: 'hello, nobody' })).toEqual({ textroom: 'success' });
    expect(await rejectionOf(admin.announcement({ room, secret: 'guess', text: 'hi' }))).toMatchObject({
      request: 'announcement',
      error_code: 419,
    });
    await admin.destroy({ room, secret: 'owner' });
  });

  it('throws PluginError 418 for an existing room, 419 for a wrong secret, 417 for a missing room', async () => {
    const admin = await bed.attach(TextRoom);
    const room = freshRoom();
    await admin.create({ room, secret: 'owner' });
    expect(await rejectionOf(admin.create({ room }))).toMatchObject({
      name: 'PluginError',
      request: 'create',
      error_code: 418,
    });
    const wrongSecret = await rejectionOf(admin.destroy({ room, secret: 'guess' }));
    expect(wrongSecret).toBeInstanceOf(PluginError);
    expect(wrongSecret).toMatchObject({
      plugin: 'janus.plugin.textroom',
      error_code: 419,
      error: 'Unauthorized (wrong secret)',
    });
    await admin.destroy({ room, secret: 'owner' });
    expect(await rejectionOf(admin.listParticipants(room))).toMatchObject({
      request: 'listparticipants',
      error_code: 417,
    });
  });

  it('is refused a Janus API join (415): joining needs the data channel, hence no join in the helper', async () => {
    const admin = await bed.attach(TextRoom);
    const room = freshRoom();
    await admin.create({ room });
    const answer = await admin.handle.message({ request: 'join', room, username: 'alice' });
    expect(answer.data).toEqual({ textroom: 'event', error_code: 415, error: "Unknown request 'join'" });
    await admin.destroy({ room });
  });
});

describe('data channel negotiation', () => {
  it('answers setup with "ok" and a data-channel offer, acks our answer, refuses a second setup (416)', async () => {
    const chat = await bed.attach(TextRoom);
    const setup = await chat.setup();
    expect(setup.data).toEqual({ textroom: 'event', result: 'ok' });
    expect(setup.jsep?.type).toBe('offer');
    expect(setup.jsep?.sdp).toContain('m=application 9 UDP/DTLS/SCTP webrtc-datachannel');

    expect(await chat.ack(answerTo(setup.jsep!))).toEqual({ textroom: 'event', result: 'ok' });
    expect(await rejectionOf(chat.setup())).toMatchObject({
      request: 'setup',
      error_code: 416,
      error: 'PeerConnection already setup',
    });
  });
});
