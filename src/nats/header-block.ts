/**
 * NATS message headers whose values the caller has checked already, encoded once.
 *
 * nats.js's `headers()` validates every name and value as it is set (character classes, trimming)
 * and builds the header block again, string then bytes, on every publish: several microseconds
 * an event, a tenth of what the daemon spends on one. An event's headers are made of values the
 * bridge has checked (event-meta.ts: isExactHeaderValue) under names it owns, so this class only
 * keeps them in order and encodes them once, on the first call of encode().
 *
 * It is a complete MsgHdrs, so nats.js takes it wherever it takes headers; nats.js's publish()
 * only calls encode() on it (nats 2.x: `HPUB` with the bytes it returns). The unit test
 * compares its bytes with what nats.js encodes, and the event tests read these headers back
 * through a real nats-server, so a nats.js that used headers otherwise would be caught there.
 * set() and append() refuse a value nats.js would refuse (CR or LF), as nats.js does.
 */
import { ErrorCode, NatsError, type MsgHdrs } from 'nats';

const HEADER_LINE = 'NATS/1.0';

export class HeaderBlock implements MsgHdrs {
  readonly hasError = false;
  readonly status = '';
  readonly code = 0;
  readonly description = '';
  private readonly pairs: Array<[string, string]>;
  private encoded: Uint8Array | undefined;

  /** `pairs`: names and values as they are to be sent, each value free of CR and LF and without outer spaces. */
  constructor(pairs: Array<[string, string]> = []) {
    this.pairs = pairs;
  }

  /** The header block as sent (empty when there are no headers). */
  encode(): Uint8Array {
    if (this.encoded) return this.encoded;
    if (this.pairs.length === 0) return (this.encoded = new Uint8Array(0));
    let text = HEADER_LINE;
    for (const [name, value] of this.pairs) text += `\r\n${name}: ${value}`;
    return (this.encoded = Buffer.from(`${text}\r\n\r\n`));
  }

  /** What the block counts against the server's max_payload. */
  get byteLength(): number {
    return this.encode().byteLength;
  }

  *[Symbol.iterator](): Iterator<[string, string[]]> {
    const names: string[] = [];
    for (const [name] of this.pairs) if (!names.includes(name)) names.push(name);
    for (const name of names) yield [name, this.values(name)];
  }

  get(name: string): string {
    return this.pairs.find(([n]) => n === name)?.[1] ?? '';
  }

  last(name: string): string {
    return this.values(name).at(-1) ?? '';
  }

  has(name: string): boolean {
    return this.pairs.some(([n]) => n === name);
  }

  keys(): string[] {
    return [...this].map(([name]) => name);
  }

  values(name: string): string[] {
    return this.pairs.filter(([n]) => n === name).map(([, value]) => value);
  }

  set(name: string, value: string): void {
    checked(name, value);
    this.delete(name);
    this.pairs.push([name, value.trim()]);
  }

  append(name: string, value: string): void {
    checked(name, value);
    this.pairs.push([name, value.trim()]);
    this.encoded = undefined;
  }

  delete(name: string): void {
    for (let i = this.pairs.length - 1; i >= 0; i--) if (this.pairs[i]![0] === name) this.pairs.splice(i, 1);
    this.encoded = undefined;
  }
}

function checked(name: string, value: string): void {
  if (/[\r\n]/.test(name) || /[\r\n]/.test(value))
    throw new NatsError('invalid header value - \\r and \\n are not allowed.', ErrorCode.BadHeader);
}
