/** `<prefix>.admin.*`: operations over NATS. */
import { hostname } from 'node:os';
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { ReloadResult } from '../connections/list-keeper.js';
import type { Logger } from '../log.js';
import type { AnswerMetrics } from './reporting.js';
import { errorText, mayAnswer, respondJson, type AnswerReport } from './replies.js';

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
  /** The Admin API link (janus_admin_url), without its secret; null when the connection has none. */
  admin: { janus_admin_url: string; state: string; since: string; pending: number; secret: boolean } | null;
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
 * `<prefix>.admin.owners` (the ownership table; one replica answers). A request whose reply
 * subject the bridge may not publish on is refused before anything runs (a reload included).
 */
export function serveAdmin(
  nc: NatsConnection,
  prefix: string,
  handlers: AdminHandlers,
  log: Logger,
  metrics?: AnswerMetrics,
): Subscription[] {
  const names = adminSubjects(prefix);
  const report: AnswerReport = { log, metrics };
  const reply = (msg: Msg, body: unknown): void => {
    respondJson(msg, body, 'admin', report);
  };
  /** A callback that refuses forged reply subjects and never throws into nats.js's reader. */
  const answering =
    (what: string, act: (msg: Msg) => void) =>
    (err: Error | null, msg: Msg): void => {
      if (err) return;
      try {
        if (mayAnswer(msg, prefix, 'admin', report)) act(msg);
      } catch (error) {
        log.error({ err: errorText(error) }, `${what} request failed`);
      }
    };
  const owners = handlers.owners;
  const ownersSubscription = owners
    ? [
        nc.subscribe(names.owners, {
          queue: OWNERS_QUEUE_GROUP,
          callback: answering('owners', (msg) => reply(msg, owners())),
        }),
      ]
    : [];
  return [
    ...ownersSubscription,
    nc.subscribe(names.reload, {
      callback: answering('reload', (msg) => {
        handlers.reload('nats').then(
          (result) => reply(msg, result),
          (error: unknown) => log.error({ err: errorText(error) }, 'reload request failed'),
        );
      }),
    }),
    nc.subscribe(names.status, {
      callback: answering('status', (msg) => {
        reply(msg, {
          host: hostname(),
          replica: handlers.instance.replica,
          instance: handlers.instance.id,
          version: handlers.instance.version,
          connections: handlers.status(),
        });
      }),
    }),
  ];
}
