/**
 * The test support's Janus: a port found free can be taken by another test's server before
 * Janus binds it, and Janus then runs without that listener. startJanus must notice rather than
 * hand back a Janus whose port answers for someone else.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, listensOn, startJanus, type JanusServer } from '../support/processes.js';

let janus: JanusServer | undefined;
let squatter: Server | undefined;

afterEach(async () => {
  await janus?.stop();
  janus = undefined;
  await new Promise<void>((done) => (squatter ? squatter.close(() => done()) : done()));
  squatter = undefined;
});

describe('startJanus', () => {
  it('hands back a Janus that listens on both of its ports itself', async () => {
    janus = await startJanus();
    expect(listensOn(janus.pid, janus.wsPort)).toBe(true);
    expect(listensOn(janus.pid, janus.adminPort)).toBe(true);
    expect(listensOn(process.pid, janus.wsPort)).toBe(false);
  }, 30_000);

  it('refuses a Janus whose admin port another process took first, naming the port', async () => {
    const taken = await freePort();
    squatter = createServer();
    await new Promise<void>((done) => squatter!.listen(taken, '127.0.0.1', done));
    expect(listensOn(process.pid, taken)).toBe(true);
    await expect(startJanus({ adminPort: taken })).rejects.toThrow(`Janus did not get port ${taken}`);
  }, 30_000);
});

describe('freePort', () => {
  it("gives distinct free ports below the kernel's ephemeral range, skipping one that is taken", async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(20);
    expect(ports.filter((port) => port >= low!)).toEqual([]);
    // A port another process listens on is never handed out.
    squatter = createServer();
    const next = await freePort();
    await new Promise<void>((done) => squatter!.listen(next, '127.0.0.1', done));
    for (let i = 0; i < 600; i++) expect(await freePort()).not.toBe(next);
  }, 30_000);
});
