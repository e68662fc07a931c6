/** What NATS accepts as a subject token, a subject prefix and a JetStream name: general rules, no I/O. */
const TOKEN = /^[^\s.*>]+$/;

export function isSubjectToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN.test(value);
}

export function isSubjectPrefix(value: unknown): value is string {
  return typeof value === 'string' && value.split('.').every((token) => TOKEN.test(token));
}

/**
 * A JetStream name (stream, KV bucket) made from the subject prefix: what a name may not hold (dots, among others)
 * becomes `_`.
 */
export function jetStreamNameFrom(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_-]/g, '_');
}
