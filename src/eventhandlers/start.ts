/**
 * Janus's event handlers to NATS, put together: the endpoint Janus's wsevh connects to,
 * the sink its events go through (core NATS through the NatsPublisher, or a JetStream stream of
 * their own over `<prefix>.evh.>`), and the figures the metrics read.
 */
import { CoreEventSink, type EventSink } from '../bridge/event-sink.js';
import { JetStreamEventSink, type StreamSettings } from '../bridge/jetstream-sink.js';
import { jetStreamNameFrom } from '../nats-names.js';
import type { BridgeConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { NatsPublisher } from '../nats/publisher.js';
import type { EventHandlerMetrics } from './tally.js';
import { EvhEndpoint } from './endpoint.js';
import { EvhTallies } from './tally.js';

/** A WebSocket ping to every link this often; one silent for two of them is dropped. */
export const EVH_PING_INTERVAL_MS = 15_000;

export interface EventHandlers {
  readonly port: number;
  readonly endpoint: EvhEndpoint;
  readonly sink: EventSink;
  readonly tallies: EvhTallies;
  /** The current connection list: what may connect (see EvhEndpoint.setListed). */
  setListed(janusIds: Iterable<string>): void;
  /** Closes every link (each Janus's close answered, up to timeoutMs), then waits up to flushMs for the sink. */
  close(timeoutMs: number, flushMs: number): Promise<void>;
}

export interface EventHandlerParts {
  readonly publisher: NatsPublisher;
  readonly metrics: EventHandlerMetrics;
  readonly secret: string;
  readonly log: Logger;
  /** Tests: a shorter ping interval. */
  readonly pingIntervalMs?: number;
}

/**
 * The stream's settings: eventHandler.stream, its name defaulting to `<PREFIX>_EVH` and its subjects `<prefix>.evh.>`.
 */
export function evhStreamSettings(config: BridgeConfig): StreamSettings {
  const stream = config.eventHandler.stream;
  const prefix = config.nats.subjectPrefix;
  return {
    name: stream.name || `${jetStreamNameFrom(prefix.toUpperCase())}_EVH`,
    subjects: [`${prefix}.evh.>`],
    maxAgeSeconds: stream.maxAge,
    maxBytes: stream.maxBytes,
    storage: stream.storage,
    replicas: stream.replicas,
    maxPending: stream.maxPending,
    bufferSize: stream.bufferSize,
  };
}

export async function startEventHandlers(config: BridgeConfig, parts: EventHandlerParts): Promise<EventHandlers> {
  const log = parts.log.child({ component: 'event-handlers' });
  const settings = config.eventHandler;
  const stream = settings.stream.enabled
    ? new JetStreamEventSink(
        parts.publisher.nc,
        evhStreamSettings(config),
        parts.log.child({ component: 'evh-stream' }),
      )
    : undefined;
  const sink: EventSink = stream ?? new CoreEventSink(parts.publisher, log);
  // Half full: the links wait rather than have events dropped (see EvhEndpoint).
  const backlogged = stream
    ? () => stream.waiting > settings.stream.bufferSize / 2
    : () => parts.publisher.pendingBytes > config.nats.maxPendingBytes / 2;
  const tallies = new EvhTallies();
  parts.metrics.eventHandlers({ perJanus: () => tallies.entries(), refusals: () => tallies.refusals });
  let endpoint: EvhEndpoint;
  try {
    endpoint = await EvhEndpoint.start(
      {
        host: settings.host,
        port: settings.port,
        secret: parts.secret,
        maxMessageBytes: settings.maxMessageBytes,
        pingIntervalMs: parts.pingIntervalMs ?? EVH_PING_INTERVAL_MS,
        backlogged,
      },
      { prefix: config.nats.subjectPrefix, sink, tallies, log },
    );
  } catch (err) {
    sink.stop();
    throw err;
  }
  log.info(
    {
      host: settings.host,
      port: endpoint.port,
      capture: settings.stream.enabled,
      secret_required: parts.secret !== '',
    },
    'event-handler endpoint listening (Janus wsevh: backend = "ws://<this host>:<port>/<janus_id>")',
  );
  if (parts.secret === '')
    log.warn(
      'eventHandler.secret is not set: whoever reaches the event-handler port can publish events for any listed ' +
        'janus_id',
    );
  return {
    port: endpoint.port,
    endpoint,
    sink,
    tallies,
    setListed: (janusIds) => endpoint.setListed(janusIds),
    close: async (timeoutMs, flushMs) => {
      await endpoint.close(timeoutMs);
      await sink.flush(flushMs);
      sink.stop();
    },
  };
}
