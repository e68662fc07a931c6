/**
 * The daemon's own errors. Janus's codes are 403 and 450–499; ours are 600–699, so a
 * client can always tell who refused a request. The one table of them lives in the client
 * package, so that services read the same codes and names the daemon sends; docs/errors.md's
 * table is checked against it by a unit test.
 */
import { BRIDGE_ERRORS, type BridgeErrorName } from 'janus-nats-client/errors-table';

export { BRIDGE_ERRORS, type BridgeErrorName };

export interface BridgeError {
  readonly name: BridgeErrorName;
  readonly code: number;
  /** The table's reason, plus the specific detail when there is one. */
  readonly reason: string;
}

export function bridgeError(name: BridgeErrorName, detail?: string): BridgeError {
  const { code, reason } = BRIDGE_ERRORS[name];
  return { name, code, reason: detail ? `${reason}: ${detail}` : reason };
}
