/**
 * The Sip helper against the real janus.plugin.sip, through NATS and the daemon, with a
 * SIP peer on a loopback UDP port playing registrar, callee and caller (the test Janus binds
 * its SIP stack to 127.0.0.1: scripts/janus-local.sh sets local_ip in janus.plugin.sip.jcfg).
 * Calls carry made-up WebRTC SDP: the SIP dialogs are real, no media ever flows.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Jsep } from '../../src/handle-api.js';
import { PluginError, Sip, type SipEvent } from '../../src/plugins/index.js';
import { answerTo, audioOffer, sipPhoneSdp } from './sdp.js';
import { startSipPeer, sipRequest, type SipMessage, type SipPeer, type SipPolicy } from './sip-peer.js';
import { EventLog, rejectionOf, startPluginTestBed, type PluginTestBed } from './support.js';

let bed: PluginTestBed;
const peers: SipPeer[] = [];

/**
 * Answers REGISTER with `registerStatus`, INVITE with `inviteReply`, anything else (BYE, OPTIONS) with 200; never ACK.
 */
function registrar(
  registerStatus: string,
  inviteReply: (request: SipMessage) => ReturnType<SipPolicy> = () => ({ status: '486 Busy Here' }),
): SipPolicy {
  return (request) => {
    if (request.method === 'ACK') return undefined;
    if (request.method === 'REGISTER')
      return { status: registerStatus, headers: registerStatus.startsWith('200') ? ['Expires: 3600'] : [] };
    if (request.method === 'INVITE') return inviteReply(request);
    return { status: '200 OK' };
  };
}

async function peer(policy: SipPolicy): Promise<SipPeer> {
  const started = await startSipPeer(policy);
  peers.push(started);
  return started;
}

/** A SIP handle registered at `registrarPeer` as alice, with its events being read. */
async function registeredAlice(registrarPeer: SipPeer): Promise<{ sip: Sip; events: EventLog<SipEvent> }> {
  const sip = await bed.attach(Sip);
  const events = new EventLog(sip.events());
  await sip.register({
    username: 'sip:alice@127.0.0.1',
    secret: 'alice-secret',
    proxy: `sip:127.0.0.1:${registrarPeer.port}`,
  });
  await events.next('registered');
  return { sip, events };
}

/** The UDP port Janus's SIP stack registered as alice's Contact. */
function contactPort(registrarPeer: SipPeer): number {
  const contact =
    registrarPeer
      .requests()
      .find((request) => request.method === 'REGISTER')
      ?.header('Contact') ?? '';
  const port = /@127\.0\.0\.1:(\d+)/.exec(contact)?.[1];
  if (!port) throw new Error(`no Contact port in the REGISTER: ${contact}`);
  return Number(port);
}

beforeAll(async () => {
  bed = await startPluginTestBed();
});

afterEach(async () => {
  await Promise.all(peers.splice(0).map((started) => started.close()));
});

afterAll(async () => {
  await bed?.stop();
});

describe('register', () => {
  it('answers "registering"; the registrar\'s 403 arrives as "registration_failed" without a transaction', async () => {
    const registrarPeer = await peer(registrar('403 Forbidden'));
    const sip = await bed.attach(Sip);
    const events = new EventLog(sip.events());
    const answer = await sip.register({
      username: 'sip:alice@127.0.0.1',
      secret: 'alice-secret',
      proxy: `sip:127.0.0.1:${registrarPeer.port}`,
    });
    expect(answer).toEqual({ sip: 'event', result: { event: 'registering' } });

    const failed = await events.next('registration_failed');
    expect(failed.data).toEqual({
      sip: 'event',
      result: { event: 'registration_failed', code: 403, reason: 'Forbidden' },
    });
    expect(failed.transaction).toBeUndefined();
    const register = registrarPeer.requests().find((request) => request.method === 'REGISTER');
    expect(register?.header('From')).toContain('sip:alice@127.0.0.1');
    await events.stop();
  });

  it('reports the registrar\'s 200 as a "registered" event with the user, register_sent and master_id', async () => {
    const registrarPeer = await peer(registrar('200 OK'));
    const sip = await bed.attach(Sip);
    const events = new EventLog(sip.events());
    await sip.register({
      username: 'sip:alice@127.0.0.1',
      secret: 'alice-secret',
      proxy: `sip:127.0.0.1:${registrarPeer.port}`,
    });
    const registered = await events.next('registered');
    expect(registered.data).toEqual({
      sip: 'event',
      result: { event: 'registered', username: 'alice', register_sent: true, master_id: expect.any(Number) },
    });
    await events.stop();
  });

  it('unregisters: "unregistering", a REGISTER with Expires 0, then an "unregistered" event', async () => {
    const registrarPeer = await peer(registrar('200 OK'));
    const { sip, events } = await registeredAlice(registrarPeer);
    expect(await sip.unregister()).toEqual({ sip: 'event', result: { event: 'unregistering' } });
    const unregistered = await events.next('unregistered');
    expect(unregistered.data).toEqual({ sip: 'event', result: { event: 'unregistered', username: 'alice' } });
    const registers = registrarPeer.requests().filter((request) => request.method === 'REGISTER');
    expect(registers).toHaveLength(2);
    expect(registers[1]?.header('Expires')).toBe('0');
    await events.stop();
  });

  it('registers a guest at once, without sending a REGISTER', async () => {
    const registrarPeer = await peer(registrar('200 OK'));
    const sip = await bed.attach(Sip);
    const answer = await sip.register({
      type: 'guest',
      username: 'sip:guest@127.0.0.1',
      proxy: `sip:127.0.0.1:${registrarPeer.port}`,
    });
    expect(answer).toMatchObject({
      sip: 'event',
      result: { event: 'registered', username: 'guest', register_sent: false },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(registrarPeer.received).toEqual([]);
  });

  it('throws PluginError 443 for a registration without a secret', async () => {
    const sip = await bed.attach(Sip);
    const error = await rejectionOf(sip.register({ username: 'sip:alice@127.0.0.1', proxy: 'sip:127.0.0.1:5060' }));
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({
      plugin: 'janus.plugin.sip',
      request: 'register',
      error_code: 443,
      error: 'Missing element (secret or ha1_secret)',
    });
  });
});

describe('outgoing calls', () => {
  it('refuses a call before any registration with PluginError 447', async () => {
    const sip = await bed.attach(Sip);
    expect(await rejectionOf(sip.call({ uri: 'sip:bob@127.0.0.1:5060' }, audioOffer()))).toMatchObject({
      request: 'call',
      error_code: 447,
      error: 'Wrong state (register first)',
    });
  });

  it('refuses a call without a JSEP offer with PluginError 448 "Missing SDP" (as an untyped caller gets)', async () => {
    const registrarPeer = await peer(registrar('200 OK'));
    const { sip, events } = await registeredAlice(registrarPeer);
    const withoutOffer = undefined as unknown as Jsep;
    expect(await rejectionOf(sip.call({ uri: `sip:bob@127.0.0.1:${registrarPeer.port}` }, withoutOffer))).toMatchObject(
      { request: 'call', error_code: 448, error: 'Missing SDP' },
    );
    expect(registrarPeer.requests().map((request) => request.method)).not.toContain('INVITE');
    await events.stop();
  });

  it('answers "calling" with the Call-ID; the callee\'s 486 is a "hangup" with the call\'s transaction', async () => {
    const sipPeer = await peer(registrar('200 OK', () => ({ status: '486 Busy Here' })));
    const { sip, events } = await registeredAlice(sipPeer);
    const calling = await sip.call({ uri: `sip:bob@127.0.0.1:${sipPeer.port}` }, audioOffer());
    expect(calling).toMatchObject({ sip: 'event', result: { event: 'calling', call_id: expect.any(String) } });
    expect(calling.call_id).toBe(calling.result.call_id);

    const hangup = await events.next('hangup');
    expect(hangup.data).toEqual({
      sip: 'event',
      call_id: calling.call_id,
      result: { event: 'hangup', code: 486, reason: 'Busy Here' },
    });
    // The SIP plugin sends a call's later events with the transaction of the `call` request.
    expect(typeof hangup.transaction).toBe('string');
    const invite = sipPeer.requests().find((request) => request.method === 'INVITE');
    expect(invite?.header('Call-ID')).toBe(calling.call_id);
    expect(invite?.text).toContain('m=audio');
    await events.stop();
  });

  it('reports the callee\'s 200 as "accepted" with its JSEP answer; hangup ends the call with a BYE', async () => {
    // The Contact is the INVITE's own request URI: Janus sends the BYE there.
    const answerCall = (invite: SipMessage): ReturnType<SipPolicy> => ({
      status: '200 OK',
      headers: [`Contact: <${invite.firstLine.split(' ')[1]}>`],
      body: sipPhoneSdp(40_100),
    });
    const sipPeer = await peer(registrar('200 OK', answerCall));
    const { sip, events } = await registeredAlice(sipPeer);
    const calling = await sip.call({ uri: `sip:bob@127.0.0.1:${sipPeer.port}` }, audioOffer());

    const accepted = await events.next('accepted');
    expect(accepted.data).toEqual({
      sip: 'event',
      call_id: calling.call_id,
      result: { event: 'accepted', username: `sip:bob@127.0.0.1:${sipPeer.port}` },
    });
    expect(accepted.jsep?.type).toBe('answer');
    expect(accepted.jsep?.sdp).toContain('UDP/TLS/RTP/SAVPF');

    expect(await sip.hangup()).toEqual({ sip: 'event', call_id: calling.call_id, result: { event: 'hangingup' } });
    const hangup = await events.next('hangup');
    expect(hangup.data.result).toMatchObject({ event: 'hangup', code: 200 });
    expect(sipPeer.requests().map((request) => request.method)).toEqual(['REGISTER', 'INVITE', 'ACK', 'BYE']);
    await events.stop();
  });
});

describe('incoming calls', () => {
  const invite = (registrarPeer: SipPeer, callId: string): string =>
    sipRequest({
      method: 'INVITE',
      target: `sip:alice@127.0.0.1:${contactPort(registrarPeer)}`,
      peerPort: registrarPeer.port,
      from: `"Bob" <sip:bob@127.0.0.1:${registrarPeer.port}>;tag=bob-${callId}`,
      to: '<sip:alice@127.0.0.1>',
      callId,
      cseq: 1,
      body: sipPhoneSdp(40_200),
    });

  it('an INVITE is "incomingcall" with an offer; accept sends our answer; the caller\'s BYE is "hangup"', async () => {
    const sipPeer = await peer(registrar('200 OK'));
    const { sip, events } = await registeredAlice(sipPeer);
    sipPeer.send(invite(sipPeer, 'incoming-1'), contactPort(sipPeer));

    const incoming = await events.next('incomingcall');
    expect(incoming.data).toEqual({
      sip: 'event',
      call_id: 'incoming-1',
      result: {
        event: 'incomingcall',
        username: `sip:bob@127.0.0.1:${sipPeer.port}`,
        call_id: 'incoming-1',
        displayname: '"Bob"',
        callee: 'sip:alice@127.0.0.1',
      },
    });
    expect(incoming.jsep?.type).toBe('offer');

    const accepted = await sip.accept({}, answerTo(incoming.jsep!));
    expect(accepted.data).toEqual({ sip: 'event', call_id: 'incoming-1', result: { event: 'accepted' } });
    const aliceTo = (await eventually(() => okToInvite(sipPeer))).header('To')!;
    expect(aliceTo).toMatch(/;tag=/);
    const inDialog = (method: string, cseq: number): string =>
      sipRequest({
        method,
        target: `sip:alice@127.0.0.1:${contactPort(sipPeer)}`,
        peerPort: sipPeer.port,
        from: `"Bob" <sip:bob@127.0.0.1:${sipPeer.port}>;tag=bob-incoming-1`,
        to: aliceTo,
        callId: 'incoming-1',
        cseq,
      });
    sipPeer.send(inDialog('ACK', 1), contactPort(sipPeer));
    sipPeer.send(inDialog('BYE', 2), contactPort(sipPeer));
    const hangup = await events.next('hangup');
    expect(hangup.data).toMatchObject({ call_id: 'incoming-1', result: { event: 'hangup', code: 200 } });
    await events.stop();
  });

  it('declines an incoming call with the chosen SIP code: "declining", the caller gets it, then "hangup"', async () => {
    const sipPeer = await peer(registrar('200 OK'));
    const { sip, events } = await registeredAlice(sipPeer);
    sipPeer.send(invite(sipPeer, 'incoming-2'), contactPort(sipPeer));
    await events.next('incomingcall');

    const declined = await sip.decline({ code: 603 });
    expect(declined).toMatchObject({ sip: 'event', result: { event: 'declining', code: 603 } });
    // Janus names the call only while its SIP stack has not closed the dialog yet, which it does on another thread.
    for (const id of [declined.call_id, declined.result.call_id]) expect(id ?? 'incoming-2').toBe('incoming-2');
    expect((await events.next('hangup')).data.result).toEqual({ event: 'hangup', code: 603, reason: 'Decline' });
    await eventually(() => sipPeer.responses().find((response) => response.firstLine === 'SIP/2.0 603 Decline'));
    await events.stop();
  });
});

/** Janus's 200 OK to the peer's INVITE (its To carries Janus's tag, which the peer's ACK and BYE must echo). */
function okToInvite(sipPeer: SipPeer): SipMessage | undefined {
  return sipPeer
    .responses()
    .find((response) => response.firstLine === 'SIP/2.0 200 OK' && response.header('CSeq')?.endsWith('INVITE'));
}

/** The first defined value `read` returns, polling every 20 ms. */
async function eventually<T>(read: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
