/**
 * The NATS leg's floor: a trivial responder in its own process.
 *   node dist-bench/bench/echo-responder.js <nats-url>
 * `bench.echo` answers with the request's own payload; `bench.echo.cpu` answers with this
 * process's process.cpuUsage() (user and system microseconds). Prints "ready" once both
 * subscriptions are registered with the server.
 */
import { connect } from 'nats';

const url = process.argv[2] ?? 'nats://127.0.0.1:4222';
const nc = await connect({ servers: url, name: 'bench-echo' });
nc.subscribe('bench.echo', {
  callback: (_err, msg) => {
    msg.respond(msg.data);
  },
});
nc.subscribe('bench.echo.cpu', {
  callback: (_err, msg) => {
    msg.respond(Buffer.from(JSON.stringify(process.cpuUsage())));
  },
});
await nc.flush();
process.stdout.write('ready\n');
const stop = (): void => {
  void nc.drain().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
