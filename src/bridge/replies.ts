/** Encoding replies for NATS: Janus's answer as it is, or a bridge error with the service error headers. */
import { headers, type Msg, type MsgHdrs } from 'nats';
import { bridgeError, type BridgeError } from '../errors.js';
import { errorReply, type JanusMessage } from '../janus/protocol.js';

export function replyWithAnswer(msg: Msg, answer: JanusMessage, maxPayload: number): void {
  const data = Buffer.from(JSON.stringify(answer));
  if (data.byteLength > maxPayload) {
    replyWithError(msg, bridgeError('reply_too_large', `${data.byteLength} bytes, NATS max_payload ${maxPayload}`), answer.transaction);
    return;
  }
  msg.respond(data);
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
