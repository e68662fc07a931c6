/** The NATS subjects of the contract, in one place. */
const TOKEN = /^[^\s.*>]+$/;

export function isSubjectToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN.test(value);
}

export function isSubjectPrefix(value: unknown): value is string {
  return typeof value === 'string' && value.split('.').every((token) => TOKEN.test(token));
}

export interface Subjects {
  request(janusId: string): string;
  event(janusId: string): string;
  status(janusId: string): string;
}

export function subjects(prefix: string): Subjects {
  return {
    request: (janusId) => `${prefix}.request.${janusId}`,
    event: (janusId) => `${prefix}.event.${janusId}`,
    status: (janusId) => `${prefix}.status.${janusId}`,
  };
}

/** A JetStream name (stream, KV bucket) made from the subject prefix: what a name may not hold (dots, among others) becomes `_`. */
export function jetStreamNameFrom(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Requests of every connection are served in this queue group, so a request runs once whatever the replica count. */
export const REQUEST_QUEUE_GROUP = 'janus-nats-bridge';
