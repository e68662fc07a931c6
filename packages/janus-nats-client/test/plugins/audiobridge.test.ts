/** The AudioBridge helper against the real janus.plugin.audiobridge, through NATS and the daemon. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudioBridge, PluginError } from '../../src/plugins/index.js';
import { audioOffer } from './sdp.js';
import { EventLog, rejectionOf, startPluginTestBed, type PluginTestBed } from './support.js';

let bed: PluginTestBed;
let nextRoom = 51_000;
const freshRoom = (): number => nextRoom++;

beforeAll(async () => {
  bed = await startPluginTestBed();
});

afterAll(async () => {
  await bed?.stop();
});

describe('room management', () => {
  it('creates a room, finds it with exists and list, and destroys it', async () => {
    const admin = await bed.attach(AudioBridge);
    const room = freshRoom();
    expect(await admin.create({ room, description: 'mixer', sampling_rate: 48_000 })).toEqual({
      audiobridge: 'created',
      room,
      permanent: false,
    });
    expect(await admin.exists(room)).toEqual({ audiobridge: 'success', room, exists: true });
    const listed = (await admin.list()).list.find((entry) => entry.room === room);
    expect(listed).toEqual({
      room,
      description: 'mixer',
      sampling_rate: 48_000,
      spatial_audio: false,
      pin_required: false,
      record: false,
      muted: false,
      num_participants: 0,
    });
    expect(await admin.destroy({ room })).toEqual({ audiobridge: 'destroyed', room, permanent: false });
    expect((await admin.exists(room)).exists).toBe(false);
  });

  it("edits a room's description and PIN, as list then shows", async () => {
    const admin = await bed.attach(AudioBridge);
    const room = freshRoom();
    await admin.create({ room, description: 'before', secret: 'owner' });
    expect(await admin.edit({ room, secret: 'owner', new_description: 'after', new_pin: '1234' })).toEqual({
      audiobridge: 'edited',
      room,
      permanent: false,
    });
    expect((await admin.list()).list.find((entry) => entry.room === room)).toMatchObject({
      description: 'after',
      pin_required: true,
    });
    await admin.destroy({ room, secret: 'owner' });
  });

  it('throws PluginError 486 for a room that exists and 485 for joining one that does not', async () => {
    const admin = await bed.attach(AudioBridge);
    const room = freshRoom();
    await admin.create({ room });
    expect(await rejectionOf(admin.create({ room }))).toMatchObject({
      name: 'PluginError',
      request: 'create',
      error_code: 486,
    });
    await admin.destroy({ room });
    const error = await rejectionOf(admin.join({ room }));
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({ plugin: 'janus.plugin.audiobridge', request: 'join', error_code: 485 });
  });
});

describe('participants', () => {
  it('joins without media: the newcomer gets the others, the others a "joined" event with the newcomer', async () => {
    const room = freshRoom();
    const alice = await bed.attach(AudioBridge);
    await alice.create({ room });
    const aliceJoined = await alice.join({ room, display: 'alice' });
    expect(aliceJoined.data).toEqual({ audiobridge: 'joined', room, id: aliceJoined.data.id, participants: [] });
    expect(aliceJoined.jsep).toBeUndefined();
    const aliceEvents = new EventLog(alice.events());

    const bob = await bed.attach(AudioBridge);
    const bobJoined = await bob.join({ room, display: 'bob', muted: true });
    expect(bobJoined.data.participants).toEqual([
      { id: aliceJoined.data.id, display: 'alice', setup: false, muted: false },
    ]);
    const announced = await aliceEvents.next('joined');
    expect(announced.data).toEqual({
      audiobridge: 'joined',
      room,
      participants: [{ id: bobJoined.data.id, display: 'bob', setup: false, muted: true }],
    });
    expect(announced.data).not.toHaveProperty('id');

    expect((await alice.listParticipants(room)).participants).toEqual(
      expect.arrayContaining([
        { id: aliceJoined.data.id, display: 'alice', setup: false, muted: false },
        { id: bobJoined.data.id, display: 'bob', setup: false, muted: true },
      ]),
    );
    await aliceEvents.stop();
    await alice.destroy({ room });
  });

  it('answers configure with result "ok" and tells the others about the change in a "participants" event', async () => {
    const room = freshRoom();
    const alice = await bed.attach(AudioBridge);
    await alice.create({ room });
    await alice.join({ room });
    const aliceEvents = new EventLog(alice.events());
    const bob = await bed.attach(AudioBridge);
    const bobId = (await bob.join({ room, display: 'bob', muted: true })).data.id;

    const configured = await bob.configure({ muted: false, display: 'bobby' });
    expect(configured.data).toEqual({ audiobridge: 'event', result: 'ok' });
    const change = await aliceEvents.next('participants', (event) => event.data.participants[0]?.display === 'bobby');
    expect(change.data).toEqual({
      audiobridge: 'event',
      room,
      participants: [{ id: bobId, display: 'bobby', setup: false, muted: false }],
    });
    await aliceEvents.stop();
    await alice.destroy({ room });
  });

  it("answers a configure carrying a JSEP offer with Janus's JSEP answer", async () => {
    const room = freshRoom();
    const alice = await bed.attach(AudioBridge);
    await alice.create({ room });
    await alice.join({ room });
    const configured = await alice.configure({ muted: false }, audioOffer());
    expect(configured.data.result).toBe('ok');
    expect(configured.jsep?.type).toBe('answer');
    expect(configured.jsep?.sdp).toContain('opus/48000/2');
    await alice.destroy({ room });
  });

  it('lets a moderator mute a participant: "success", and the room sees it muted', async () => {
    const room = freshRoom();
    const moderator = await bed.attach(AudioBridge);
    await moderator.create({ room, secret: 'mod' });
    await moderator.join({ room });
    const moderatorEvents = new EventLog(moderator.events());
    const bob = await bed.attach(AudioBridge);
    const bobId = (await bob.join({ room })).data.id;

    expect(await moderator.mute({ room, id: bobId, secret: 'mod' })).toEqual({ audiobridge: 'success', room });
    const muted = await moderatorEvents.next('participants', (event) => event.data.participants[0]?.muted === true);
    expect(muted.data.participants[0]?.id).toBe(bobId);
    expect(await rejectionOf(moderator.mute({ room, id: bobId, secret: 'wrong' }))).toMatchObject({ error_code: 489 });
    await moderatorEvents.stop();
    await moderator.destroy({ room, secret: 'mod' });
  });

  it('answers leave with "left", tells the others "leaving", refuses a second leave with PluginError 487', async () => {
    const room = freshRoom();
    const alice = await bed.attach(AudioBridge);
    await alice.create({ room });
    await alice.join({ room });
    const aliceEvents = new EventLog(alice.events());
    const bob = await bed.attach(AudioBridge);
    const bobId = (await bob.join({ room })).data.id;

    expect(await bob.leave()).toEqual({ audiobridge: 'left', room, id: bobId });
    expect((await aliceEvents.next('leaving')).data).toEqual({ audiobridge: 'event', room, leaving: bobId });
    expect(await rejectionOf(bob.leave())).toMatchObject({
      request: 'leave',
      error_code: 487,
      error: "Can't leave (not in a room)",
    });
    await aliceEvents.stop();
    await alice.destroy({ room });
  });

  it('moves a participant with changeroom: "roomchanged" in the new room, "leaving" in the room it left', async () => {
    const [first, second] = [freshRoom(), freshRoom()];
    const alice = await bed.attach(AudioBridge);
    await alice.create({ room: first });
    await alice.create({ room: second });
    await alice.join({ room: first });
    const aliceEvents = new EventLog(alice.events());
    const bob = await bed.attach(AudioBridge);
    const bobId = (await bob.join({ room: first, display: 'bob' })).data.id;

    const moved = await bob.changeRoom({ room: second, display: 'bob' });
    expect(moved).toEqual({ audiobridge: 'roomchanged', room: second, id: expect.anything(), participants: [] });
    expect((await aliceEvents.next('leaving')).data).toEqual({ audiobridge: 'event', room: first, leaving: bobId });
    expect((await alice.listParticipants(second)).participants.map((participant) => participant.display)).toEqual([
      'bob',
    ]);
    await aliceEvents.stop();
    await alice.destroy({ room: first });
    await alice.destroy({ room: second });
  });

  it('sends the participants a "destroyed" event when the room is destroyed', async () => {
    const room = freshRoom();
    const admin = await bed.attach(AudioBridge);
    await admin.create({ room });
    const alice = await bed.attach(AudioBridge);
    await alice.join({ room });
    const aliceEvents = new EventLog(alice.events());
    await admin.destroy({ room });
    expect((await aliceEvents.next('destroyed')).data).toEqual({ audiobridge: 'destroyed', room });
    await aliceEvents.stop();
  });

  it('joins a plain-RTP participant in a room that allows them and says where to send its audio', async () => {
    const room = freshRoom();
    const admin = await bed.attach(AudioBridge);
    await admin.create({ room, allow_rtp_participants: true });
    const phone = await bed.attach(AudioBridge);
    const joined = await phone.join({ room, codec: 'pcmu', rtp: { ip: '127.0.0.1', port: 40_000 } });
    expect(joined.data.rtp).toEqual({ ip: expect.any(String), port: expect.any(Number), payload_type: 0 });
    expect(joined.data.rtp!.port).toBeGreaterThan(0);
    await admin.destroy({ room });
  });
});
