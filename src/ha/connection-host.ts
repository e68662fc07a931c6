/** The connections of this replica, as LeaseOwnership drives them. */
import type { BridgedConnection } from '../bridge/bridged-connection.js';
import type { ServedConnections, StopOptions } from '../connections/served.js';
import type { ConnectionSpec } from '../connections/spec.js';
import type { ConnectionHost } from './lease-ownership-interfaces.js';
import type { AnswerRelay } from './relay.js';

export interface ConnectionHostOptions {
  /** How long a takeover may wait for Janus before it answers requests anyway (with 611 while Janus is away). */
  readonly serveWaitMs: number;
  /** How long requests already taken may still be answered during a hand-over. */
  readonly requestGraceMs: number;
}

/** The ConnectionHost that LeaseOwnership drives: starts and stops `served`'s connections, and relays their answers. */
export function connectionHostFor(
  served: ServedConnections<BridgedConnection>,
  relay: AnswerRelay,
  options: ConnectionHostOptions,
): ConnectionHost {
  /** Handed over, finishing their last requests: still reachable for relayed answers. */
  const departing = new Map<string, BridgedConnection>();
  /**
   * Stops a connection keeping its session; while it finishes, when `reachable`, answers relayed to it still find it.
   */
  const depart = async (janusId: string, reason: string, stop: StopOptions, reachable: boolean): Promise<void> => {
    const connection = served.get(janusId);
    if (connection && reachable) departing.set(janusId, connection);
    try {
      await served.remove(janusId, reason, stop);
    } finally {
      if (connection && departing.get(janusId) === connection) departing.delete(janusId);
    }
  };
  return {
    async serve(spec, sessionId, subscribeAnyway) {
      const connection = served.get(spec.janusId) ?? served.add(spec, { takeOver: { sessionId } });
      if (!connection) return { ready: false, sessionId: undefined };
      const ready = await connection.whenServing(options.serveWaitMs, subscribeAnyway);
      return { ready, sessionId: connection.sessionId };
    },
    async prepareHandOver(janusId) {
      const route = (connection: BridgedConnection | undefined, text: string): boolean =>
        connection?.routeRelayed(text) ?? false;
      return relay.listen(janusId, (text) => route(served.get(janusId), text) || route(departing.get(janusId), text));
    },
    handOver: (janusId, to) =>
      depart(
        janusId,
        `handed over to ${to}`,
        { destroySession: false, graceMs: options.requestGraceMs, handedOver: true },
        true,
      ),
    // With a grace, a taker may claim the session meanwhile: answers it relays must still find this connection.
    drop: (janusId, reason, graceMs) => depart(janusId, reason, { destroySession: false, graceMs }, graceMs > 0),
    async applyList(running: readonly ConnectionSpec[], stillWanted: (janusId: string) => boolean) {
      await served.apply(running, stillWanted);
    },
    sessionOf: (janusId) => served.get(janusId)?.sessionId,
    ownerChanged(janusId, change) {
      served.get(janusId)?.announce({ state: 'owner-changed', ...change });
    },
  };
}
