/**
 * Made-up but well-formed WebRTC SDP for tests without a WebRTC stack. Janus's core only
 * parses a JSEP, takes its ICE credentials and DTLS fingerprint and starts ICE: with no
 * candidate from us, no media ever flows, but every plugin request that needs an offer or
 * an answer can be made, and the plugin's own answer (with Janus's SDP) observed.
 */
import type { Jsep } from '../../src/handle-api.js';

/** Any 32 bytes do: nobody ever completes a DTLS handshake against it. */
const FINGERPRINT = Array.from({ length: 32 }, (_, index) =>
  ((index * 7) % 256).toString(16).padStart(2, '0').toUpperCase(),
).join(':');

const TRANSPORT = [
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:test',
  'a=ice-pwd:testtesttesttesttesttest',
  'a=ice-options:trickle',
  `a=fingerprint:sha-256 ${FINGERPRINT}`,
];

/** A browser-like offer with one Opus audio m-line (mid 0), sending and receiving. */
export function audioOffer(): Jsep {
  const sdp = [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    ...TRANSPORT,
    'a=setup:actpass',
    'a=mid:0',
    'a=sendrecv',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    '',
  ].join('\r\n');
  return { type: 'offer', sdp };
}

/** An answer to Janus's offer `offer`: each m-line accepted with its first payload type, directions mirrored. */
export function answerTo(offer: Jsep): Jsep {
  const sections: string[][] = [];
  for (const line of (offer.sdp ?? '').split(/\r?\n/)) {
    if (line.startsWith('m=')) sections.push([line]);
    else sections.at(-1)?.push(line);
  }
  const mid = (section: string[]): string =>
    section.find((line) => line.startsWith('a=mid:'))?.slice('a=mid:'.length) ?? '';
  const lines = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', `a=group:BUNDLE ${sections.map(mid).join(' ')}`];
  for (const section of sections) {
    const [media = '', port = '9', proto = '', ...formats] = section[0]!.split(' ');
    const common = [...TRANSPORT, 'a=setup:active', `a=mid:${mid(section)}`];
    if (media === 'm=application') {
      lines.push(`m=application 9 ${proto} ${formats.join(' ')}`, ...common, 'a=sctp-port:5000');
      continue;
    }
    const format = formats[0] ?? '0';
    const offered = section.find((line) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line))?.slice(2);
    const mirrored =
      port === '0'
        ? 'inactive'
        : (({ sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' } as Record<string, string>)[
            offered ?? ''
          ] ?? 'sendrecv');
    lines.push(
      `${media} ${port === '0' ? 0 : 9} ${proto} ${format}`,
      ...common,
      `a=${mirrored}`,
      'a=rtcp-mux',
      ...section.filter((line) => line.startsWith(`a=rtpmap:${format} `) || line.startsWith(`a=fmtp:${format} `)),
    );
  }
  return { type: 'answer', sdp: `${lines.join('\r\n')}\r\n` };
}

/** A plain-RTP SDP as a SIP phone sends it (what a SIP peer offers or answers with). */
export function sipPhoneSdp(rtpPort: number): string {
  return [
    'v=0',
    'o=phone 1 1 IN IP4 127.0.0.1',
    's=phone',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${rtpPort} RTP/AVP 0 8`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}
