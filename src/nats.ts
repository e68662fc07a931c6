/** The NATS client, set up for a daemon: waits for a server at start, reconnects forever. */
import { connect, type NatsConnection } from 'nats';
import type { BridgeConfig } from './config/schema.js';
import type { Logger } from './log.js';

export async function connectNats(config: BridgeConfig['nats'], log: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: config.servers,
    name: config.name,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
  });
  log.info({ server: nc.getServer() }, 'connected to NATS');
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'pingTimer') continue;
      const level = status.type === 'disconnect' || status.type === 'error' ? 'warn' : 'info';
      log[level]({ nats_status: status.type, data: typeof status.data === 'string' ? status.data : undefined }, `NATS ${status.type}`);
    }
  })();
  return nc;
}
