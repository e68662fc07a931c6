#!/usr/bin/env node
// A tiny NATS client for trying the bridge by hand (no `nats` CLI needed):
//   node scripts/nats-tool.mjs request <subject> '<json>'   send a request, print the reply
//   node scripts/nats-tool.mjs sub <subject>                print every message until Ctrl-C
// NATS_URL picks the server (default nats://127.0.0.1:4222).
import { connect } from 'nats';

const [verb, subject, payload] = process.argv.slice(2);
if (!['request', 'sub'].includes(verb) || !subject) {
  console.error("usage: nats-tool.mjs request <subject> '<json>' | sub <subject>");
  process.exit(2);
}
const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
if (verb === 'request') {
  try {
    const reply = await nc.request(subject, payload ?? '', { timeout: 10_000 });
    const code = reply.headers?.get('Nats-Service-Error-Code');
    if (code) console.error(`Nats-Service-Error-Code: ${code}`);
    console.log(JSON.stringify(JSON.parse(reply.string()), null, 2));
  } catch (err) {
    console.error(err.code === '503' ? `no responders on ${subject}` : err.message);
    process.exitCode = 1;
  }
  await nc.close();
} else {
  process.on('SIGINT', () => void nc.drain());
  for await (const msg of nc.subscribe(subject)) {
    let body = msg.string();
    try { body = JSON.stringify(JSON.parse(body)); } catch { /* print as it came */ }
    console.log(`[${msg.subject}] ${body}`);
  }
}
