/**
 * Janus's reclaim_session_timeout against what the daemon needs: a takeover keeps a session
 * (and its handles) only if Janus keeps it after its WebSocket dropped for long enough. With
 * several replicas that is a failover's duration (ha.leaseTtl + connect); with one, any time
 * at all. Each Janus server is warned about once, whatever the number of its connections.
 */
import type { JanusInfoCheck } from '../bridge/bridged-connection.js';
import type { BridgeConfig } from '../config/schema.js';
import type { JanusMessage } from '../janus/protocol.js';
import type { Logger } from '../log.js';

export class ReclaimCheck implements JanusInfoCheck {
  /** Servers (host:port) warned about already: many connections often share one Janus. */
  private readonly warned = new Set<string>();

  /** `neededSeconds`: how long Janus must keep a session after its WebSocket dropped; 0 when a takeover never waits. */
  constructor(private readonly neededSeconds: number) {}

  /**
   * With several replicas ha.leaseTtl + 2 s: a failover claims the session once the lease
   * expired and a socket opened.
   */
  static forConfig(config: BridgeConfig): ReclaimCheck {
    return new ReclaimCheck(config.ha.enabled ? config.ha.leaseTtl + 2 : 0);
  }

  check(info: JanusMessage, server: string, log: Logger): void {
    const reclaim = info['reclaim-session-timeout'];
    if (typeof reclaim !== 'number' || this.warned.has(server)) return;
    const needed = this.neededSeconds;
    if (reclaim === 0) {
      this.warned.add(server);
      log.warn(
        { server },
        'Janus has reclaim_session_timeout = 0: after a dropped WebSocket the session and its handles are lost ' +
          '(see docs/continuity.md)',
      );
    } else if (reclaim < needed) {
      this.warned.add(server);
      log.warn(
        { server, reclaim_session_timeout_s: reclaim, needed_s: needed },
        "Janus's reclaim_session_timeout is shorter than a failover takes (ha.leaseTtl + connect): handles are lost " +
          'when a replica dies (see docs/replicas.md)',
      );
    }
  }
}
