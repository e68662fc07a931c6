/** The bridge's NATS subjects (README of janus-nats-bridge, "Subjects and messages"). */

const TOKEN = /^[^\s.*>]+$/;

/** The subject prefix when none is given (the bridge's nats.subjectPrefix default). */
export const DEFAULT_PREFIX = 'janus';

export function checkJanusId(janusId: string): string {
  if (typeof janusId !== 'string' || !TOKEN.test(janusId)) {
    throw new TypeError(
      `janus_id must be one NATS subject token (no spaces, dots, * or >), got ${JSON.stringify(janusId)}`,
    );
  }
  return janusId;
}

export function checkPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !prefix.split('.').every((token) => TOKEN.test(token))) {
    throw new TypeError(`prefix must be NATS subject tokens separated by dots, got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

export const subjects = {
  request: (prefix: string, janusId: string): string => `${prefix}.request.${janusId}`,
  /** Flat mode: every event of one Janus. */
  event: (prefix: string, janusId: string): string => `${prefix}.event.${janusId}`,
  /** Handle mode: the events of one handle. */
  handleEvent: (prefix: string, janusId: string, handleId: number): string =>
    `${prefix}.event.${janusId}.handle.${handleId}`,
  /** Handle mode: the events without a sender (session-level). */
  sessionEvent: (prefix: string, janusId: string): string => `${prefix}.event.${janusId}.session`,
  status: (prefix: string, janusId: string): string => `${prefix}.status.${janusId}`,
};

/** The bridge's default stream name for its event capture: the prefix in upper case, dots as `_`, then `_EVENTS`. */
export function defaultStreamName(prefix: string): string {
  return `${prefix.toUpperCase().replace(/[^A-Za-z0-9_-]/g, '_')}_EVENTS`;
}

/** Janus ids are JSON integers below 2^53. */
export function isJanusId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
