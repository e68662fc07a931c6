/**
 * The event legs' floor: the least any Janus → NATS event relay written with nats.js and ws
 * does per event, in its own process.
 *   node dist-bench/bench/event-floor.js <nats-url> <janus ws url> [janus_id] [capture]
 *
 * It creates one Janus session, then for every message on `janus.request.floor`: parses it,
 * puts its own transaction and the session on it and writes it to Janus (writes of one tick
 * corked into one system call, as the daemon does). A message with a reply subject (attach,
 * detach) is answered with Janus's reply, as bench/relay-floor.ts does; one without is
 * fire-and-forget: its `ack` is dropped, and each `event` Janus sends for it is published on
 * `janus.event.floor` with the client's transaction put back, in the daemon's envelope
 * (`{janus_id, janus_url, janus_body}`) and with the daemon's headers (src/bridge/event-meta.ts:
 * Janus-Id, Janus-Type, Janus-Session, Janus-Handle, Janus-Plugin, Janus-Transaction,
 * Nats-Msg-Id), made the plain way with nats.js `headers()`. Nothing else: no validation, no
 * header-value checks, no timeouts, no metrics, no logging, no reconnects, no other
 * notifications. Whatever the daemon costs per event beyond this is the price of its features.
 * With `capture`, each event goes out as a JetStream publish does (a reply subject, `<inbox>.<n>`,
 * under one subscription that counts the PubAcks and reads nothing of them): the least a relay
 * capturing into a stream does, with no retries, order or once-only guarantee.
 * `bench.event-floor.cpu` answers with process.cpuUsage(). Prints "ready" once serving.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { connect, createInbox, headers, type Msg } from 'nats';
import WebSocket from 'ws';

type Body = Record<string, unknown> & { janus?: string; transaction?: string };

const natsUrl = process.argv[2] ?? 'nats://127.0.0.1:4222';
const janusUrl = process.argv[3];
const janusId = process.argv[4] ?? 'floor';
const capture = process.argv[5] === 'capture';
if (!janusUrl) {
  process.stderr.write('usage: event-floor.js <nats-url> <janus ws url> [janus_id]\n');
  process.exit(2);
}
const requestSubject = `janus.request.${janusId}`;
const eventSubject = `janus.event.${janusId}`;

const ws = new WebSocket(janusUrl, 'janus-protocol', { perMessageDeflate: false });
await new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});
const tcp = (ws as unknown as { _socket: Socket })._socket;
let corked = false;
function send(body: Body): void {
  if (!corked) {
    corked = true;
    tcp.cork();
    process.nextTick(() => {
      corked = false;
      tcp.uncork();
    });
  }
  ws.send(JSON.stringify(body));
}

/** Requests with a reply subject: our transaction → what to do with Janus's answer. */
const waiting = new Map<string, (answer: Body) => void>();
/** Fire-and-forget requests: our transaction → the client's (undefined when it sent none). */
const fired = new Map<string, string | undefined>();
let counter = 0;

const nc = await connect({ servers: natsUrl, name: 'bench-event-floor' });
const idPrefix = `${randomBytes(6).toString('hex')}-${janusId}-`;
let sequence = 0;
const ackPrefix = `${createInbox()}.`;
let acks = 0;
if (capture)
  nc.subscribe(`${ackPrefix}*`, {
    callback: () => {
      acks++;
    },
  });

/** One event: the client's transaction back on it, published with the daemon's headers. */
function publishEvent(event: Body, ours: string): void {
  const clientTransaction = fired.get(ours);
  fired.delete(ours);
  if (clientTransaction === undefined) delete event.transaction;
  else event.transaction = clientTransaction;
  const h = headers();
  h.set('Janus-Id', janusId);
  h.set('Janus-Type', event.janus!);
  if (typeof event.session_id === 'number') h.set('Janus-Session', String(event.session_id));
  if (typeof event.sender === 'number') h.set('Janus-Handle', String(event.sender));
  const plugin = (event.plugindata as { plugin?: unknown } | undefined)?.plugin;
  if (typeof plugin === 'string') h.set('Janus-Plugin', plugin);
  if (clientTransaction !== undefined) h.set('Janus-Transaction', clientTransaction);
  const id = (++sequence).toString(36);
  h.set('Nats-Msg-Id', idPrefix + id);
  const data = Buffer.from(JSON.stringify({ janus_id: janusId, janus_url: janusUrl, janus_body: event }));
  nc.publish(eventSubject, data, capture ? { headers: h, reply: ackPrefix + id } : { headers: h });
}

ws.on('message', (data) => {
  const frame = JSON.parse(data.toString()) as Body;
  const transaction = frame.transaction;
  if (transaction === undefined) return;
  const done = waiting.get(transaction);
  if (done) {
    waiting.delete(transaction);
    done(frame);
  } else if (frame.janus === 'event' && fired.has(transaction)) publishEvent(frame, transaction);
  // Anything else (the `ack` to each fire-and-forget message) is dropped.
});

function call(body: Body): Promise<Body> {
  const transaction = `f${++counter}`;
  return new Promise((resolve) => {
    waiting.set(transaction, resolve);
    send({ ...body, transaction });
  });
}

const created = await call({ janus: 'create' });
const session = (created.data as { id: number }).id;
// Janus's session_timeout is 60 s by default: a long benchmark must not lose the session.
// call() never rejects (it has no timeout).
setInterval(() => void call({ janus: 'keepalive', session_id: session }), 20_000).unref();

function relay(msg: Msg): void {
  const request = JSON.parse(
    Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString('utf8'),
  ) as Body;
  const clientTransaction = request.transaction;
  const transaction = `f${++counter}`;
  request.transaction = transaction;
  request.session_id = session;
  if (msg.reply) {
    waiting.set(transaction, (answer) => {
      answer.transaction = clientTransaction;
      msg.respond(Buffer.from(JSON.stringify(answer)));
    });
  } else fired.set(transaction, clientTransaction);
  send(request);
}

nc.subscribe(requestSubject, { callback: (_err, msg) => relay(msg) });
nc.subscribe('bench.event-floor.cpu', {
  callback: (_err, msg) => {
    msg.respond(Buffer.from(JSON.stringify({ ...process.cpuUsage(), acks })));
  },
});
await nc.flush();
process.stdout.write('ready\n');
const stop = (): void => {
  ws.terminate();
  void nc.drain().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
