/**
 * The VideoRoom helper against the real janus.plugin.videoroom, through NATS and the daemon.
 * Without a WebRTC stack no publisher ever sends media; a room's dummy publisher (which
 * Janus counts as publishing) stands in for one where a subscription needs a live feed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginError, VideoRoom } from '../../src/plugins/index.js';
import { answerTo, audioOffer } from './sdp.js';
import { EventLog, rejectionOf, startPluginTestBed, type PluginTestBed } from './support.js';

let bed: PluginTestBed;
let nextRoom = 41_000;
/** A room number no other test of this file uses. */
const freshRoom = (): number => nextRoom++;

beforeAll(async () => {
  bed = await startPluginTestBed();
});

afterAll(async () => {
  await bed?.stop();
});

describe('room management', () => {
  it('creates a room, finds it with exists and list, and destroys it', async () => {
    const admin = await bed.attach(VideoRoom);
    const room = freshRoom();
    expect(await admin.create({ room, description: 'helpers test', publishers: 4 })).toEqual({
      videoroom: 'created',
      room,
      permanent: false,
    });
    expect(await admin.exists(room)).toEqual({ videoroom: 'success', room, exists: true });

    const listed = (await admin.list()).list.find((entry) => entry.room === room);
    expect(listed).toMatchObject({
      description: 'helpers test',
      max_publishers: 4,
      pin_required: false,
      is_private: false,
      num_participants: 0,
    });

    expect(await admin.destroy({ room })).toEqual({ videoroom: 'destroyed', room, permanent: false });
    expect((await admin.exists(room)).exists).toBe(false);
  });

  it("edits a room's description and publisher cap, as list then shows", async () => {
    const admin = await bed.attach(VideoRoom);
    const room = freshRoom();
    await admin.create({ room, description: 'before', secret: 'owner' });
    expect(await admin.edit({ room, secret: 'owner', new_description: 'after', new_publishers: 9 })).toEqual({
      videoroom: 'edited',
      room,
      permanent: false,
    });
    expect((await admin.list()).list.find((entry) => entry.room === room)).toMatchObject({
      description: 'after',
      max_publishers: 9,
    });
    await admin.destroy({ room, secret: 'owner' });
  });

  it('leaves a private room out of list', async () => {
    const admin = await bed.attach(VideoRoom);
    const room = freshRoom();
    await admin.create({ room, is_private: true });
    expect((await admin.list()).list.map((entry) => entry.room)).not.toContain(room);
    await admin.destroy({ room });
  });

  it('throws PluginError 427 for a room that exists and 426 for one that does not', async () => {
    const admin = await bed.attach(VideoRoom);
    const room = freshRoom();
    await admin.create({ room });
    expect(await rejectionOf(admin.create({ room }))).toMatchObject({
      name: 'PluginError',
      request: 'create',
      error_code: 427,
    });
    await admin.destroy({ room });
    const error = await rejectionOf(admin.destroy({ room }));
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({
      plugin: 'janus.plugin.videoroom',
      request: 'destroy',
      error_code: 426,
      error: expect.stringContaining(String(room)),
    });
  });

  it('refuses to destroy a room with a secret without it (433) and destroys it with it', async () => {
    const admin = await bed.attach(VideoRoom);
    const room = freshRoom();
    await admin.create({ room, secret: 'owner' });
    expect(await rejectionOf(admin.destroy({ room, secret: 'guess' }))).toMatchObject({ error_code: 433 });
    expect((await admin.destroy({ room, secret: 'owner' })).videoroom).toBe('destroyed');
  });
});

describe('publishers without media', () => {
  it('joins as a publisher without any media and shows up in listparticipants as not publishing', async () => {
    const admin = await bed.attach(VideoRoom);
    const room = freshRoom();
    await admin.create({ room, description: 'no media' });
    const alice = await bed.attach(VideoRoom);
    const joined = await alice.joinAsPublisher({ room, display: 'alice' });
    expect(joined).toMatchObject({ videoroom: 'joined', room, description: 'no media', publishers: [] });
    expect(typeof joined.id).toBe('number');
    expect(typeof joined.private_id).toBe('number');
    expect((await admin.listParticipants(room)).participants).toEqual([
      { id: joined.id, display: 'alice', publisher: false },
    ]);
    await admin.destroy({ room });
  });

  it('answers configure on a joined publisher with configured "ok"', async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room });
    await alice.joinAsPublisher({ room });
    const configured = await alice.configure({ bitrate: 256_000, display: 'alice again' });
    expect(configured.data).toMatchObject({ videoroom: 'event', room, configured: 'ok' });
    expect((await alice.listParticipants(room)).participants[0]?.display).toBe('alice again');
    await alice.destroy({ room });
  });

  it('announces a join as a "joining" event with notify_joining, and lists the others as attendees', async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room, notify_joining: true });
    const aliceJoined = await alice.joinAsPublisher({ room, display: 'alice' });
    const aliceEvents = new EventLog(alice.events());

    const bob = await bed.attach(VideoRoom);
    const bobJoined = await bob.joinAsPublisher({ room, display: 'bob' });
    expect(bobJoined.attendees).toEqual([{ id: aliceJoined.id, display: 'alice' }]);
    const joining = await aliceEvents.next('joining');
    expect(joining.data).toEqual({ videoroom: 'event', room, joining: { id: bobJoined.id, display: 'bob' } });
    await aliceEvents.stop();
    await alice.destroy({ room });
  });

  it('answers leave with leaving "ok" and tells the others with a "leaving" event carrying the id', async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room });
    await alice.joinAsPublisher({ room });
    const aliceEvents = new EventLog(alice.events());
    const bob = await bed.attach(VideoRoom);
    const bobJoined = await bob.joinAsPublisher({ room });

    expect(await bob.leave()).toEqual({ videoroom: 'event', room, leaving: 'ok' });
    const leaving = await aliceEvents.next('leaving');
    expect(leaving.data).toEqual({ videoroom: 'event', room, leaving: bobJoined.id });
    expect(leaving.transaction).toBeUndefined();
    await aliceEvents.stop();
    await alice.destroy({ room });
  });

  it('tells a kicked participant "leaving" with reason "kicked", and the others "kicked"', async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room, secret: 'mod' });
    await alice.joinAsPublisher({ room });
    const aliceEvents = new EventLog(alice.events());
    const bob = await bed.attach(VideoRoom);
    const bobJoined = await bob.joinAsPublisher({ room });
    const bobEvents = new EventLog(bob.events());

    expect(await alice.kick({ room, id: bobJoined.id, secret: 'mod' })).toEqual({ videoroom: 'success' });
    expect((await bobEvents.next('leaving')).data).toEqual({
      videoroom: 'event',
      room,
      leaving: 'ok',
      reason: 'kicked',
    });
    expect((await aliceEvents.next('kicked')).data).toEqual({ videoroom: 'event', room, kicked: bobJoined.id });
    await Promise.all([aliceEvents.stop(), bobEvents.stop()]);
    await alice.destroy({ room, secret: 'mod' });
  });

  it('sends every participant a "destroyed" event when the room is destroyed', async () => {
    const room = freshRoom();
    const admin = await bed.attach(VideoRoom);
    await admin.create({ room });
    const alice = await bed.attach(VideoRoom);
    await alice.joinAsPublisher({ room });
    const aliceEvents = new EventLog(alice.events());
    await admin.destroy({ room });
    expect((await aliceEvents.next('destroyed')).data).toEqual({ videoroom: 'destroyed', room });
    await aliceEvents.stop();
  });

  it('joins and publishes in one joinandconfigure: "joined" with Janus\'s JSEP answer', async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room });
    const joined = await alice.joinAndConfigure({ room, display: 'alice', bitrate: 64_000 }, audioOffer());
    expect(joined.data).toMatchObject({ videoroom: 'joined', room, publishers: [] });
    expect(joined.jsep?.type).toBe('answer');
    await alice.destroy({ room });
  });

  it('answers publish with "ok" and a JSEP answer; the publisher only becomes active once media flows', async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room });
    const aliceJoined = await alice.joinAsPublisher({ room, display: 'alice' });

    const published = await alice.publish({ descriptions: [{ mid: '0', description: 'microphone' }] }, audioOffer());
    expect(published.data).toMatchObject({
      videoroom: 'event',
      room,
      configured: 'ok',
      audio_codec: 'opus',
      streams: [{ type: 'audio', mid: '0', codec: 'opus', description: 'microphone' }],
    });
    expect(published.jsep?.type).toBe('answer');

    // Janus only counts a publisher as publishing after its PeerConnection is up (webrtcup),
    // which a made-up offer never reaches: the room still sees a participant without media.
    expect((await alice.listParticipants(room)).participants).toEqual([
      { id: aliceJoined.id, display: 'alice', publisher: false },
    ]);
    const unpublishRefused = await rejectionOf(alice.unpublish());
    expect(unpublishRefused).toMatchObject({ request: 'unpublish', error_code: 435 });
    await alice.destroy({ room });
  });
});

describe('subscribers', () => {
  it('refuses to subscribe to a participant that joined without media: PluginError 428 "No such feed"', async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room });
    const aliceJoined = await alice.joinAsPublisher({ room });
    const viewer = await bed.attach(VideoRoom);
    const error = await rejectionOf(viewer.joinAsSubscriber({ room, streams: [{ feed: aliceJoined.id }] }));
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({ request: 'join', error_code: 428, error: `No such feed (${aliceJoined.id})` });
    await alice.destroy({ room });
  });

  it("lists a room's dummy publisher, with its streams, in the publishers of a publisher's join", async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room, dummy_publisher: true });
    const joined = await alice.joinAsPublisher({ room });
    expect(joined.publishers).toHaveLength(1);
    expect(joined.publishers[0]).toMatchObject({
      display: 'Dummy publisher',
      dummy: true,
      streams: [
        { type: 'audio', mid: '0', codec: 'opus' },
        { type: 'video', mid: '1', codec: 'vp8' },
      ],
    });
    await alice.destroy({ room });
  });

  it('subscribes to the dummy publisher: offer on attach, then start, pause, configure, start, leave', async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room, dummy_publisher: true });
    const dummy = (await alice.joinAsPublisher({ room })).publishers[0]!;

    const viewer = await bed.attach(VideoRoom);
    const attached = await viewer.joinAsSubscriber({
      room,
      streams: [{ feed: dummy.id, mid: '0', crossrefid: 'mic' }],
    });
    expect(attached.data).toMatchObject({
      videoroom: 'attached',
      room,
      streams: [
        {
          type: 'audio',
          active: true,
          mid: '0',
          crossrefid: 'mic',
          ready: false,
          send: true,
          feed_id: dummy.id,
          feed_mid: '0',
          feed_display: 'Dummy publisher',
          codec: 'opus',
        },
      ],
    });
    expect(attached.jsep?.type).toBe('offer');

    expect(await viewer.start(answerTo(attached.jsep!))).toEqual({ videoroom: 'event', room, started: 'ok' });
    expect(await viewer.pause()).toEqual({ videoroom: 'event', room, paused: 'ok' });
    expect((await viewer.configure({ streams: [{ mid: '0', send: false }] })).data).toEqual({
      videoroom: 'event',
      room,
      configured: 'ok',
    });
    expect(await viewer.start()).toEqual({ videoroom: 'event', room, started: 'ok' });
    expect(await viewer.leave()).toEqual({ videoroom: 'event', room, left: 'ok' });
    await alice.destroy({ room });
  });

  it("ends a subscription's PeerConnection on leave: Janus's hangup reaches the subscriber's events", async () => {
    const room = freshRoom();
    const alice = await bed.attach(VideoRoom);
    await alice.create({ room, dummy_publisher: true });
    const dummy = (await alice.joinAsPublisher({ room })).publishers[0]!;
    const viewer = await bed.attach(VideoRoom);
    const viewerEvents = new EventLog(viewer.events());
    const attached = await viewer.joinAsSubscriber({ room, streams: [{ feed: dummy.id }] });
    await viewer.start(answerTo(attached.jsep!));
    await viewer.leave();
    expect((await viewerEvents.next('janus', (event) => event.janus === 'hangup')).source.body).toMatchObject({
      reason: 'Close PC',
    });
    await viewerEvents.stop();
    await alice.destroy({ room });
  });
});
