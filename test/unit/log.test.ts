import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

function capture(): { stream: Writable; lines: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text };
}

describe('logger', () => {
  it('writes JSON lines with a level name and an ISO time', () => {
    const out = capture();
    createLogger('info', out.stream).info({ janus_id: 'a' }, 'hello');
    const line = JSON.parse(out.lines().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', msg: 'hello', janus_id: 'a', service: 'janus-nats-bridge' });
    expect(Number.isNaN(Date.parse(String(line.time)))).toBe(false);
  });

  it.each([
    [{ password: 'S1' }],
    [{ nats: { password: 'S1', token: 'S2' } }],
    [{ request: { apisecret: 'S1', token: 'S2' } }],
    [{ config: { nats: { nkeySeed: 'S1' } } }],
    [{ headers: { authorization: 'S1' } }],
  ])('censors secret-named fields in %j', (object) => {
    const out = capture();
    createLogger('info', out.stream).info(object, 'x');
    expect(out.lines()).not.toMatch(/S1|S2/);
    expect(out.lines()).toContain('***');
  });
});

describe('errors in log lines', () => {
  it("are written with their type, message and stack (pino's err serializer)", () => {
    const out = capture();
    createLogger('info', out.stream).error({ err: new TypeError('boom') }, 'step failed');
    const line = JSON.parse(out.lines().trim()) as { err: { type: string; message: string; stack: string } };
    expect(line.err.type).toBe('TypeError');
    expect(line.err.message).toBe('boom');
    expect(line.err.stack).toContain('log.test.ts');
  });
});
