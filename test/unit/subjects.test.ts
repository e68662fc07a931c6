import { describe, expect, it } from 'vitest';
import {
  isAcceptableReplySubject,
  MAX_REPLY_SUBJECT_BYTES,
  prefixOfRequestSubject,
  subjectForLog,
} from '../../src/bridge/subjects.js';

describe('isAcceptableReplySubject', () => {
  it.each([
    ['a nats.js inbox', '_INBOX.Abc123XyZ.7'],
    ['a muxed request inbox', '_INBOX.0NWTyCWkFR62tYeZ2AvSuI.0NWTyCWkFR62tYeZ2AvSpz'],
    ['a custom inbox prefix', 'svc.billing.inbox.42'],
    ['a subject that only starts like the prefix', 'janusx.event.1'],
    ['the prefix as a later token', 'app.janus.event.1'],
    ['a token holding a $ further in', 'a.b$c'],
    ['unicode', '_INBOX.ünï.1'],
    ['exactly the longest allowed', `_INBOX.${'a'.repeat(MAX_REPLY_SUBJECT_BYTES - 7)}`],
  ])('accepts %s', (_name, reply) => {
    expect(isAcceptableReplySubject(reply, 'janus')).toBe(true);
  });

  it.each([
    ['the event subject', 'janus.event.h'],
    ['the status subject', 'janus.status.h'],
    ['the relay subject', 'janus.relay.h'],
    ['a request subject', 'janus.request.h'],
    ['an admin subject', 'janus.admin.status'],
    ['the prefix itself', 'janus'],
    ['a JetStream API subject', '$JS.API.STREAM.DELETE.JANUS_EVENTS'],
    ['a KV subject', '$KV.janus_owners.edge-1'],
    ['a system subject', '$SYS.REQ.SERVER.PING'],
    ['a $ token later on', '_INBOX.$x.1'],
    ['a * wildcard', 'janus.event.*'],
    ['a > wildcard', 'foo.>'],
    ['a bare >', '>'],
    ['a * elsewhere', '_INBOX.*'],
    ['an empty subject', ''],
    ['an empty token', '_INBOX..1'],
    ['a leading dot', '.foo'],
    ['a trailing dot', 'foo.'],
    ['a space', '_INBOX.a b'],
    ['a tab', '_INBOX.a\tb'],
    ['CR LF', '_INBOX.a\r\nPUB janus.event.h 0'],
    ['a NUL', '_INBOX.a\u0000'],
    ['a DEL', '_INBOX.a\u007f'],
    ['one byte too long', `_INBOX.${'a'.repeat(MAX_REPLY_SUBJECT_BYTES - 6)}`],
    ['too long in multi-byte characters', `_INBOX.${'€'.repeat(400)}`],
  ])('refuses %s', (_name, reply) => {
    expect(isAcceptableReplySubject(reply, 'janus')).toBe(false);
  });

  it('reads a prefix of several tokens as a whole', () => {
    expect(isAcceptableReplySubject('acme.janus.event.h', 'acme.janus')).toBe(false);
    expect(isAcceptableReplySubject('acme.janus', 'acme.janus')).toBe(false);
    expect(isAcceptableReplySubject('acme.other.h', 'acme.janus')).toBe(true);
  });
});

describe('subjectForLog', () => {
  it('keeps a short subject and cuts a long one', () => {
    expect(subjectForLog('_INBOX.a.1')).toBe('_INBOX.a.1');
    const cut = subjectForLog('x'.repeat(10_000));
    expect(cut.length).toBeLessThanOrEqual(129);
    expect(cut.endsWith('…')).toBe(true);
  });
});

describe('prefixOfRequestSubject', () => {
  it('takes the request token and the janus_id off', () => {
    expect(prefixOfRequestSubject('janus.request.edge-1')).toBe('janus');
    expect(prefixOfRequestSubject('acme.janus.request.edge-1')).toBe('acme.janus');
  });
});
