/**
 * The NATS services protocol (ADR-32: $SRV.PING, $SRV.INFO, $SRV.STATS), so that
 * `nats micro ls/info/stats` show the bridge, its version and one endpoint per served
 * janus_id with its request statistics.
 *
 * Why not the client's own services API (nc.services.add): its endpoints cannot be
 * removed one by one (unsubscribing one stops the whole service), while a reload adds
 * and removes janus_ids at run time and a removed id must answer "no responders".
 * The request subscriptions stay ours; this module only answers the discovery protocol.
 */
import type { NatsConnection, Subscription } from 'nats';
import { errorText, mayAnswer, respondJson, type AnswerReport } from '../bridge/replies.js';
import { createLogger, type Logger } from '../log.js';
import type { EndpointStats } from '../bridge/endpoint-stats.js';
import type { AnswerMetrics } from '../bridge/reporting.js';

export const SERVICE_NAME = 'janus-nats-bridge';

const SILENT = createLogger('silent');

export interface ServiceDescription {
  readonly version: string;
  readonly description: string;
  /** `subject_prefix` in it is nats.subjectPrefix: replies are never published under it. */
  readonly metadata: Record<string, string>;
  /** The endpoints right now (they change with the connection list). */
  endpoints(): EndpointStats[];
}

/** Where refused and failed answers are reported; the subject prefix, when the metadata does not say it. */
export interface DiscoveryReport {
  readonly log: Logger;
  readonly metrics?: AnswerMetrics;
  readonly prefix?: string;
}

/** Answers the discovery subjects until stopped. */
export class ServiceDiscovery {
  private readonly started = new Date().toISOString();
  private readonly subscriptions: Subscription[] = [];

  /**
   * `id`: this process's instance id (ADR-32 asks for one unique per service instance). Without
   * `report`, refusals and failures go unlogged and uncounted, but are refused all the same.
   */
  constructor(
    nc: NatsConnection,
    readonly id: string,
    private readonly service: ServiceDescription,
    report?: DiscoveryReport,
  ) {
    // No prefix known: only the rules that need none ($-subjects, wildcards) apply.
    const prefix = report?.prefix ?? service.metadata.subject_prefix ?? '';
    const answerReport: AnswerReport = { log: report?.log ?? SILENT, metrics: report?.metrics };
    const answers = {
      PING: () => this.identity('io.nats.micro.v1.ping_response'),
      INFO: () => ({
        ...this.identity('io.nats.micro.v1.info_response'),
        description: service.description,
        endpoints: service.endpoints().map((e) => e.info()),
      }),
      STATS: () => ({
        ...this.identity('io.nats.micro.v1.stats_response'),
        started: this.started,
        endpoints: service.endpoints().map((e) => e.stats()),
      }),
    };
    for (const [verb, answer] of Object.entries(answers)) {
      for (const subject of [
        `$SRV.${verb}`,
        `$SRV.${verb}.${SERVICE_NAME}`,
        `$SRV.${verb}.${SERVICE_NAME}.${this.id}`,
      ]) {
        this.subscriptions.push(
          nc.subscribe(subject, {
            callback: (err, msg) => {
              if (err) return;
              // `nats micro` asks from an inbox; and nothing may throw into nats.js's reader.
              try {
                if (mayAnswer(msg, prefix, 'discovery', answerReport))
                  respondJson(msg, answer(), 'admin', answerReport);
              } catch (error) {
                answerReport.log.error({ err: errorText(error) }, 'service discovery request failed');
              }
            },
          }),
        );
      }
    }
  }

  stop(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }

  private identity(type: string): Record<string, unknown> {
    return { type, name: SERVICE_NAME, id: this.id, version: this.service.version, metadata: this.service.metadata };
  }
}
