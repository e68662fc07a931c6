/**
 * A SIP peer on a loopback UDP port, enough for Janus's SIP plugin to register against,
 * call and be called by: it answers each request with the status its policy picks,
 * echoing the headers a SIP response must echo (Via, From, To with a tag, Call-ID, CSeq),
 * and can send its own requests (INVITE, ACK, BYE) to the Contact Janus registered.
 */
import { createSocket, type Socket } from 'node:dgram';

/** A SIP request or response as received. */
export interface SipMessage {
  /** The request line or the status line. */
  readonly firstLine: string;
  /** The method of a request; undefined for a response. */
  readonly method: string | undefined;
  readonly text: string;
  /** The value of the first header named `name` (case-insensitive). */
  header(name: string): string | undefined;
}

export interface SipReply {
  /** Status line after "SIP/2.0 ", e.g. "403 Forbidden". */
  readonly status: string;
  readonly headers?: readonly string[];
  /** An SDP body. */
  readonly body?: string;
}

/** What to answer to a request; undefined sends nothing (ACK). */
export type SipPolicy = (request: SipMessage) => SipReply | undefined;

export interface SipPeer {
  readonly port: number;
  /** Every request and response it received, in order. */
  readonly received: SipMessage[];
  /** The requests among them. */
  requests(): SipMessage[];
  /** The responses among them. */
  responses(): SipMessage[];
  /** Sends a raw SIP message to 127.0.0.1:`port`. */
  send(text: string, port: number): void;
  close(): Promise<void>;
}

function parse(text: string): SipMessage {
  const [firstLine = '', ...rest] = text.split('\r\n');
  const headerLines = rest.slice(0, rest.indexOf(''));
  return {
    firstLine,
    method: firstLine.startsWith('SIP/2.0') ? undefined : firstLine.split(' ')[0],
    text,
    header(name) {
      const prefix = `${name.toLowerCase()}:`;
      return headerLines
        .find((line) => line.toLowerCase().startsWith(prefix))
        ?.slice(prefix.length)
        .trim();
    },
  };
}

/** The response lines every status needs, echoed from the request; a To tag is added when the request had none. */
function responseHead(request: SipMessage, status: string, toTag: string): string[] {
  const echoed = request.text.split('\r\n').filter((line) => /^(via|from|call-id|cseq):/i.test(line));
  const to = request.header('To') ?? '';
  return [`SIP/2.0 ${status}`, ...echoed, `To: ${/;tag=/i.test(to) ? to : `${to};tag=${toTag}`}`];
}

export async function startSipPeer(policy: SipPolicy): Promise<SipPeer> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const received: SipMessage[] = [];
  socket.on('message', (buffer, from) => {
    const message = parse(buffer.toString());
    received.push(message);
    if (message.method === undefined) return;
    const reply = policy(message);
    if (!reply) return;
    const body = reply.body ?? '';
    const lines = [
      ...responseHead(message, reply.status, `peer${from.port}`),
      ...(reply.headers ?? []),
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ];
    socket.send(lines.join('\r\n'), from.port, from.address);
  });
  return {
    port: socket.address().port,
    received,
    requests: () => received.filter((message) => message.method !== undefined),
    responses: () => received.filter((message) => message.method === undefined),
    send(text, port) {
      socket.send(text, port, '127.0.0.1');
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A request from the peer to Janus's SIP stack, with the headers a SIP user agent checks. */
export function sipRequest(options: {
  readonly method: string;
  readonly target: string;
  readonly peerPort: number;
  readonly from: string;
  readonly to: string;
  readonly callId: string;
  readonly cseq: number;
  readonly body?: string;
}): string {
  const body = options.body ?? '';
  return [
    `${options.method} ${options.target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${options.peerPort};branch=z9hG4bK-${options.callId}-${options.cseq}-${options.method}`,
    'Max-Forwards: 70',
    `From: ${options.from}`,
    `To: ${options.to}`,
    `Call-ID: ${options.callId}`,
    `CSeq: ${options.cseq} ${options.method}`,
    `Contact: <sip:bob@127.0.0.1:${options.peerPort}>`,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}
