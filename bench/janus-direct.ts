/** A plain `ws` client on Janus (subprotocol janus-protocol), matching answers by transaction. */
import WebSocket from 'ws';

export type JanusBody = Record<string, unknown> & { janus: string; transaction?: string };

export class DirectJanus {
  private next = 0;
  private readonly waiting = new Map<string, (body: JanusBody) => void>();
  /** Called for every message that completes no waiting request (notifications, events). */
  onOther: (body: JanusBody) => void = () => {};

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const body = JSON.parse(data.toString()) as JanusBody;
      const done = body.transaction !== undefined ? this.waiting.get(body.transaction) : undefined;
      // An asynchronous plugin request is answered by `ack` then `event`: callers that want
      // the event use `requestUntil`; a plain request takes the first answer.
      if (done) done(body);
      else this.onOther(body);
    });
  }

  static open(url: string): Promise<DirectJanus> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'janus-protocol');
      ws.once('open', () => resolve(new DirectJanus(ws)));
      ws.once('error', reject);
    });
  }

  /** Sends a request and resolves with the first message carrying its transaction. */
  request(message: Record<string, unknown>, timeoutMs = 5_000): Promise<JanusBody> {
    const transaction = `d${++this.next}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(transaction);
        reject(new Error(`no answer from Janus to ${String(message.janus)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(transaction, (body) => {
        clearTimeout(timer);
        this.waiting.delete(transaction);
        resolve(body);
      });
      this.ws.send(JSON.stringify({ ...message, transaction }));
    });
  }

  /** Fire-and-forget: nothing waits for the answer (it reaches onOther). A `transaction` in `message` is kept. */
  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ transaction: `f${++this.next}`, ...message }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
