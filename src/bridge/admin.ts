/** `<prefix>.admin.*`: operations over NATS. */
import type { NatsConnection, Subscription } from 'nats';
import type { ReloadResult } from '../connections/list-keeper.js';
import type { Logger } from '../log.js';

export function adminSubjects(prefix: string): { reload: string } {
  return { reload: `${prefix}.admin.reload` };
}

/** Answers `<prefix>.admin.reload` with the reload's summary (or why it failed). */
export function serveReload(nc: NatsConnection, prefix: string, reload: (trigger: string) => Promise<ReloadResult>, log: Logger): Subscription {
  return nc.subscribe(adminSubjects(prefix).reload, {
    callback: (err, msg) => {
      if (err) return;
      reload('nats').then(
        (result) => msg.respond(Buffer.from(JSON.stringify(result))),
        (error: Error) => log.error({ err: error.message }, 'reload request failed'),
      );
    },
  });
}
