/** `<prefix>.admin.*`: operations over NATS. */
import { hostname } from 'node:os';
import type { NatsConnection, Subscription } from 'nats';
import type { ReloadResult } from '../connections/list-keeper.js';
import type { Logger } from '../log.js';

export function adminSubjects(prefix: string): { reload: string; status: string; owners: string } {
  return { reload: `${prefix}.admin.reload`, status: `${prefix}.admin.status`, owners: `${prefix}.admin.owners` };
}

/** Every replica sees the same table: one of them answers. */
const OWNERS_QUEUE_GROUP = 'janus-nats-bridge-admin';

/** One connection as `<prefix>.admin.status` shows it. */
export interface ConnectionStatus {
  janus_id: string;
  /** Redacted. */
  janus_url: string;
  state: string;
  session_id: number | null;
  since: string;
  pending: number;
}

export interface AdminHandlers {
  reload(trigger: string): Promise<ReloadResult>;
  status(): ConnectionStatus[];
  readonly instance: { id: string; version: string; replica: string };
  /** The ownership table, with several replicas. */
  owners?(): unknown;
}

/**
 * Answers `<prefix>.admin.reload` (the reload's summary), `<prefix>.admin.status` (every
 * connection this replica serves; each replica answers) and, with several replicas,
 * `<prefix>.admin.owners` (the ownership table; one replica answers).
 */
export function serveAdmin(nc: NatsConnection, prefix: string, handlers: AdminHandlers, log: Logger): Subscription[] {
  const names = adminSubjects(prefix);
  const reply = (msg: { respond(data: Uint8Array): boolean }, body: unknown): void => { msg.respond(Buffer.from(JSON.stringify(body))); };
  const owners = handlers.owners;
  const ownersSubscription = owners
    ? [nc.subscribe(names.owners, { queue: OWNERS_QUEUE_GROUP, callback: (err, msg) => { if (!err) reply(msg, owners()); } })]
    : [];
  return [
    ...ownersSubscription,
    nc.subscribe(names.reload, {
      callback: (err, msg) => {
        if (err) return;
        handlers.reload('nats').then((result) => reply(msg, result), (error: Error) => log.error({ err: error.message }, 'reload request failed'));
      },
    }),
    nc.subscribe(names.status, {
      callback: (err, msg) => {
        if (err) return;
        reply(msg, { host: hostname(), replica: handlers.instance.replica, instance: handlers.instance.id, version: handlers.instance.version, connections: handlers.status() });
      },
    }),
  ];
}
