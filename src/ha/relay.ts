/**
 * After a session changes hands, Janus sends asynchronous answers to requests the old
 * owner sent (an `event` after its `ack`) to the new owner's WebSocket. The new owner
 * offers each such message on `<prefix>.relay.<janus_id>`, where the old owner listens
 * while it finishes; a reply says whether it was one of its requests.
 */
import type { Msg, NatsConnection, Subscription } from 'nats';
import { errorText, mayAnswer, respondSafely, type AnswerReport } from '../bridge/replies.js';
import type { Logger } from '../log.js';
import type { AnswerMetrics } from '../bridge/reporting.js';

const TAKEN = Buffer.from('1');
/**
 * Only a listener that takes the message replies (two may listen during hand-overs in a
 * row, and the first reply wins); silence means nobody took it. The old owner answers
 * from memory, so a short wait is enough.
 */
const OFFER_TIMEOUT_MS = 500;

export class AnswerRelay {
  private readonly report: AnswerReport;

  /**
   * `counted` hears how each offer ended: taken by the old owner, or not (then published as an
   * event); `metrics` counts offers refused for their reply subject and answers NATS refused.
   */
  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly counted: (taken: boolean) => void = () => {},
    metrics?: AnswerMetrics,
  ) {
    this.report = { log, metrics };
  }

  private subject(janusId: string): string {
    return `${this.prefix}.relay.${janusId}`;
  }

  /** New owner: true when the old owner took the message (it answered one of its requests). */
  async offer(janusId: string, text: string): Promise<boolean> {
    let taken = false;
    try {
      const reply = await this.nc.request(this.subject(janusId), Buffer.from(text), { timeout: OFFER_TIMEOUT_MS });
      taken = reply.data.length === 1 && reply.data[0] === TAKEN[0];
    } catch {
      // No responders (nobody is handing this connection over, or the old owner died), or nobody took it.
    }
    this.counted(taken);
    return taken;
  }

  /** Old owner: routes offered messages until the returned function is called. */
  async listen(janusId: string, route: (text: string) => boolean): Promise<() => void> {
    const subject = this.subject(janusId);
    const subscription: Subscription = this.nc.subscribe(subject, {
      callback: (err, msg: Msg) => {
        if (err) return;
        // A new owner asks from its own inbox (nc.request): an offer that wants its answer elsewhere is not one, and is
        // not routed.
        if (!mayAnswer(msg, this.prefix, 'relay', this.report)) return;
        let taken = false;
        try {
          taken = route(Buffer.from(msg.data).toString('utf8'));
        } catch (error) {
          this.log.warn({ janus_id: janusId, err: errorText(error) }, 'relayed answer not handled');
        }
        if (taken) respondSafely(msg, TAKEN, undefined, 'admin', this.report);
      },
    });
    // The new owner may claim the session as soon as the lease says so: be listening by then.
    // A failed flush means NATS is away: the subscription is sent on reconnect, nothing to do here.
    await this.nc.flush().catch(() => undefined);
    return () => subscription.unsubscribe();
  }
}
