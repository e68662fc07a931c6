import { ErrorCode, headers, type MsgHdrs } from 'nats';
import { describe, expect, it } from 'vitest';
import { headerBlockBytes } from '../../src/bridge/event-sink.js';
import { HeaderBlock } from '../../src/nats/header-block.js';

const EVENT: Array<[string, string]> = [
  ['Janus-Id', 'edge-1'],
  ['Janus-Type', 'event'],
  ['Janus-Session', '4011520381924013'],
  ['Janus-Handle', '2718281828459045'],
  ['Janus-Plugin', 'janus.plugin.echotest'],
  ['Janus-Transaction', 'tx-1'],
  ['Nats-Msg-Id', 'a1b2c3-edge-1-1'],
];

/** nats.js's own headers, with the encode() its implementation has and MsgHdrs does not declare. */
function natsJs(pairs: Array<[string, string]>): MsgHdrs & { encode(): Uint8Array } {
  const h = headers();
  for (const [name, value] of pairs) h.append(name, value);
  return h as MsgHdrs & { encode(): Uint8Array };
}

describe('HeaderBlock', () => {
  it("encodes exactly the bytes nats.js's own headers encode", () => {
    const block = new HeaderBlock([...EVENT]);
    expect(Buffer.from(block.encode()).toString()).toBe(Buffer.from(natsJs(EVENT).encode()).toString());
    expect(block.byteLength).toBe(natsJs(EVENT).encode().byteLength);
    expect(headerBlockBytes(block)).toBe(headerBlockBytes(natsJs(EVENT)));
  });

  it('encodes nothing at all without headers', () => {
    expect(new HeaderBlock().encode().byteLength).toBe(0);
    expect(headerBlockBytes(new HeaderBlock())).toBe(0);
  });

  it('reads like MsgHdrs: get, values, has, keys and iteration in the order written', () => {
    const block = new HeaderBlock([
      ['A', '1'],
      ['B', '2'],
      ['A', '3'],
    ]);
    expect([block.get('A'), block.last('A'), block.values('A'), block.has('B'), block.has('C')]).toEqual([
      '1',
      '3',
      ['1', '3'],
      true,
      false,
    ]);
    expect(block.keys()).toEqual(['A', 'B']);
    expect([...block]).toEqual([
      ['A', ['1', '3']],
      ['B', ['2']],
    ]);
    expect([block.hasError, block.code, block.status, block.description]).toEqual([false, 0, '', '']);
  });

  it('encodes again after a change: set replaces every value of a name, append adds, delete removes', () => {
    const block = new HeaderBlock([...EVENT]);
    const before = Buffer.from(block.encode()).toString();
    block.set('Nats-Msg-Id', 'other');
    block.append('Extra', ' padded ');
    block.delete('Janus-Plugin');
    const expected = natsJs(EVENT.filter(([name]) => name !== 'Janus-Plugin' && name !== 'Nats-Msg-Id'));
    expected.append('Nats-Msg-Id', 'other');
    expected.append('Extra', 'padded');
    const after = Buffer.from(block.encode()).toString();
    expect(after).not.toBe(before);
    expect(after).toBe(Buffer.from(expected.encode()).toString());
  });

  it('refuses a value with CR or LF as nats.js does (BAD_HEADER), and stays as it was', () => {
    const block = new HeaderBlock([['A', '1']]);
    expect(() => block.append('B', 'x\r\ny: z')).toThrow(expect.objectContaining({ code: ErrorCode.BadHeader }));
    expect(() => block.set('B\n', 'x')).toThrow(expect.objectContaining({ code: ErrorCode.BadHeader }));
    expect(() => block.set('A', 'x\ny')).toThrow(expect.objectContaining({ code: ErrorCode.BadHeader }));
    expect([...block]).toEqual([['A', ['1']]]);
  });
});
