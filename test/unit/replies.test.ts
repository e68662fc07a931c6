import { describe, expect, it } from 'vitest';
import type { Msg, MsgHdrs } from 'nats';
import { replyWithAnswer } from '../../src/bridge/replies.js';
import type { JanusMessage } from '../../src/janus/protocol.js';

/** A NATS message that records what it was answered with. */
function request(): { msg: Msg; sent: Array<{ text: string; headers?: MsgHdrs }> } {
  const sent: Array<{ text: string; headers?: MsgHdrs }> = [];
  const msg = { respond: (data: Uint8Array, opts?: { headers?: MsgHdrs }) => sent.push({ text: Buffer.from(data).toString(), headers: opts?.headers }) };
  return { msg: msg as unknown as Msg, sent };
}

const answer: JanusMessage = { janus: 'success', transaction: 't', plugindata: { data: { list: Array.from({ length: 20 }, (_, i) => ({ id: i })) } } };
const indented = JSON.stringify(answer, null, 3);
const compact = JSON.stringify(answer);

describe('replyWithAnswer', () => {
  it("sends Janus's text as it is when it fits", () => {
    const { msg, sent } = request();
    expect(replyWithAnswer(msg, answer, indented, 1_000_000)).toBeUndefined();
    expect(sent).toEqual([{ text: indented, headers: undefined }]);
  });

  it('sends it compact when only the compact form fits', () => {
    const { msg, sent } = request();
    expect(indented.length).toBeGreaterThan(compact.length + 100);
    expect(replyWithAnswer(msg, answer, indented, compact.length)).toBeUndefined();
    expect(sent).toEqual([{ text: compact, headers: undefined }]);
  });

  it('sends error 614 with the client transaction when neither fits', () => {
    const { msg, sent } = request();
    expect(replyWithAnswer(msg, answer, indented, compact.length - 1)?.code).toBe(614);
    expect(JSON.parse(sent[0]!.text)).toMatchObject({ janus: 'error', transaction: 't', error: { code: 614 } });
    expect(sent[0]!.headers?.get('Nats-Service-Error-Code')).toBe('614');
  });
});
