import { connect } from 'nats';
import { JanusNats, JanusError } from 'janus-nats-client';
const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
const janus = new JanusNats(nc, 'local');             // janus_id; options: prefix, timeout
console.log(typeof (await janus.info()).version === 'number');
const echo = await janus.attach('janus.plugin.echotest');
const events = echo.events();                         // async iterable of this handle's events
console.log((await echo.message({ audio: true })).data.result);
await echo.detach();
for await (const e of events) { console.log(e.janus); break; }
try { await janus.attach('janus.plugin.nope'); } catch (e) { console.log(e instanceof JanusError, (e as JanusError).code); }
await nc.close();
