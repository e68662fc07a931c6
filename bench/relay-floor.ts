/**
 * The bridge leg's floor: the least any NATS ↔ Janus relay written with nats.js and ws
 * does per request, in its own process.
 *   node dist-bench/bench/relay-floor.js <nats-url> <janus ws url>
 *
 * It creates one Janus session, then for every request on `bench.relay`: parses it, puts
 * its own transaction and the session on it, writes it to Janus (writes of one tick
 * corked into one system call, as the daemon does), and answers with Janus's reply after
 * putting the client's transaction back. Nothing else: no validation, no timeouts, no
 * metrics, no logging, no reconnects. Whatever the daemon costs beyond this is the price
 * of its features; what this costs over the echo responder is the price of the second
 * socket and of JSON in and out, which no bridge avoids.
 * `bench.relay.cpu` answers with process.cpuUsage(). Prints "ready" once serving.
 */
import type { Socket } from 'node:net';
import { connect, type Msg } from 'nats';
import WebSocket from 'ws';

type Body = Record<string, unknown> & { transaction?: string };

const natsUrl = process.argv[2] ?? 'nats://127.0.0.1:4222';
const janusUrl = process.argv[3];
if (!janusUrl) {
  process.stderr.write('usage: relay-floor.js <nats-url> <janus ws url>\n');
  process.exit(2);
}

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

const waiting = new Map<string, (answer: Body) => void>();
let counter = 0;
ws.on('message', (data) => {
  const answer = JSON.parse(data.toString()) as Body;
  const done = answer.transaction !== undefined ? waiting.get(answer.transaction) : undefined;
  if (!done) return;
  waiting.delete(answer.transaction!);
  done(answer);
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
  waiting.set(transaction, (answer) => {
    answer.transaction = clientTransaction;
    msg.respond(Buffer.from(JSON.stringify(answer)));
  });
  send(request);
}

const nc = await connect({ servers: natsUrl, name: 'bench-relay-floor' });
nc.subscribe('bench.relay', { callback: (_err, msg) => relay(msg) });
nc.subscribe('bench.relay.cpu', {
  callback: (_err, msg) => {
    msg.respond(Buffer.from(JSON.stringify(process.cpuUsage())));
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
