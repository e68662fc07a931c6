/** Encoding replies for NATS: Janus's answer as it is, or a bridge error with the service error headers. */
import { headers, type Msg, type MsgHdrs } from 'nats';
import { bridgeError, type BridgeError } from '../errors.js';
import { errorReply, type JanusMessage } from '../janus/protocol.js';

/**
 * Sends Janus's answer (`text`, its JSON as Janus wrote it). Too large for a NATS message, it
 * goes compact (Janus indents by default: often half the bytes); still too large, error 614
 * is sent (and returned) instead.
 */
export function replyWithAnswer(msg: Msg, answer: JanusMessage, text: string, maxPayload: number): BridgeError | undefined {
  let data = Buffer.from(text);
  if (data.byteLength > maxPayload) data = Buffer.from(JSON.stringify(answer));
  if (data.byteLength > maxPayload) {
    const error = bridgeError('reply_too_large', `${data.byteLength} bytes, NATS max_payload ${maxPayload}`);
    replyWithError(msg, error, answer.transaction);
    return error;
  }
  msg.respond(data);
  return undefined;
}

export function replyWithError(msg: Msg, error: BridgeError, clientTransaction: string | undefined): void {
  msg.respond(Buffer.from(JSON.stringify(errorReply(error, clientTransaction))), { headers: errorHeaders(error) });
}

function errorHeaders(error: BridgeError): MsgHdrs {
  const h = headers();
  h.set('Nats-Service-Error-Code', String(error.code));
  h.set('Nats-Service-Error', error.reason);
  return h;
}
