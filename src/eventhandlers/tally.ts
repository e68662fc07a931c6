/**
 * What the event-handler path counts: per janus_id the events received, published and
 * dropped (by reason) and the links open, and the upgrades refused (by reason). Plain
 * fields, a few ns an event; the metrics read them at scrape time (Metrics.eventHandlers).
 */
import type { EventResult } from '../bridge/reporting.js';
import { REFUSAL_REASONS, type RefusalReason } from './admission.js';

/** Why an event of the event-handler path was dropped: malformed (not an event object), or what the sink reports. */
export const EVH_DROP_REASONS = ['malformed', 'nats_unavailable', 'buffer_full', 'refused', 'too_large'] as const;
export type EvhDropReason = (typeof EVH_DROP_REASONS)[number];

export class EvhTally {
  received = 0;
  published = 0;
  links = 0;
  readonly dropped: Record<EvhDropReason, number> = {
    malformed: 0,
    nats_unavailable: 0,
    buffer_full: 0,
    refused: 0,
    too_large: 0,
  };

  /** What the sink reports of one event (EventSink's `report`). */
  readonly report = (result: EventResult): void => {
    if (result === 'published') this.published++;
    else this.dropped[result]++;
  };
}

export class EvhTallies {
  private readonly byId = new Map<string, EvhTally>();
  readonly refusals: Record<RefusalReason, number> = Object.fromEntries(
    REFUSAL_REASONS.map((reason) => [reason, 0]),
  ) as Record<RefusalReason, number>;

  /** The tally of a listed janus_id, made at its first link. */
  of(janusId: string): EvhTally {
    let tally = this.byId.get(janusId);
    if (!tally) {
      tally = new EvhTally();
      this.byId.set(janusId, tally);
    }
    return tally;
  }

  /** A janus_id left the list: its series go. Reports still due (acks) land in the detached tally, unseen. */
  remove(janusId: string): void {
    this.byId.delete(janusId);
  }

  entries(): IterableIterator<[string, EvhTally]> {
    return this.byId.entries();
  }
}

/** What the event-handler path counts (src/eventhandlers/tally.ts), read at scrape time. */
export interface EventHandlerFigures {
  /** Per janus_id: events received, published and dropped by reason, and links open. */
  perJanus(): Iterable<
    [string, { received: number; published: number; links: number; dropped: Readonly<Record<string, number>> }]
  >;
  /** Upgrades refused, by reason. */
  refusals(): Readonly<Record<string, number>>;
}

/** Where the event-handler path registers its figures (src/ops/metrics.ts). */
export interface EventHandlerMetrics {
  eventHandlers(figures: EventHandlerFigures): void;
}
