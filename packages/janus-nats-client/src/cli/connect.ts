/**
 * The NATS connection of the CLI, from the options the `nats` CLI uses (and its environment
 * variables: commander reads them, a flag wins over its variable).
 */
import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type Authenticator,
  type ConnectionOptions,
  type NatsConnection,
} from 'nats';
import { MAX_TIMEOUT_MS } from '../client.js';
import { CliError, EXIT } from './exit.js';

export const DEFAULT_SERVER = 'nats://127.0.0.1:4222';
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The options every command takes (commander's optsWithGlobals()). */
export interface GlobalOptions {
  readonly server?: string;
  readonly creds?: string;
  readonly nkey?: string;
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  readonly tlscert?: string;
  readonly tlskey?: string;
  readonly tlsca?: string;
  /** Milliseconds (parsed by parseDuration). */
  readonly timeout: number;
  readonly prefix: string;
  readonly json?: boolean;
}

/**
 * A duration as the CLI takes it: a number of milliseconds (`800`), or with a unit as the nats
 * CLI writes them (`800ms`, `5s`, `1m`). Throws a plain Error with the reason (the caller
 * turns it into a usage error).
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!match)
    throw new Error(
      `a duration is milliseconds (800) or a number with ms, s or m (800ms, 5s, 1m), got ${JSON.stringify(text)}`,
    );
  const unit = match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1;
  const ms = Math.ceil(Number(match[1]) * unit);
  if (!(ms > 0) || ms > MAX_TIMEOUT_MS)
    throw new Error(`a duration must be above 0 and at most ${MAX_TIMEOUT_MS} ms, got ${JSON.stringify(text)}`);
  return ms;
}

/** Treats an empty value (an environment variable set to '') as not given. */
function given(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function readOptionFile(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(
      'UsageError',
      EXIT.usage,
      `${option}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** The secrets among the options, to be scrubbed from anything printed. */
export function secretsOf(o: Partial<GlobalOptions>): string[] {
  return [o.password, o.token].filter((s): s is string => typeof s === 'string' && s.length > 0);
}

export function serversOf(o: Partial<GlobalOptions>): string[] {
  const servers = (given(o.server) ?? DEFAULT_SERVER)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0) throw new CliError('UsageError', EXIT.usage, '--server: no server URL given');
  return servers;
}

export function connectionOptions(o: GlobalOptions): ConnectionOptions {
  const options: ConnectionOptions = {
    servers: serversOf(o),
    name: 'janus-nats',
    timeout: o.timeout,
    // Requests are answered or fail on their own; a subscriber (sub) rides out a server restart.
    maxReconnectAttempts: 10,
  };
  const user = given(o.user);
  const password = given(o.password);
  if (password !== undefined && user === undefined)
    throw new CliError('UsageError', EXIT.usage, '--password (NATS_PASSWORD) needs --user (NATS_USER)');
  if (user !== undefined) {
    options.user = user;
    if (password !== undefined) options.pass = password;
  }
  const token = given(o.token);
  if (token !== undefined) options.token = token;
  const creds = given(o.creds);
  const nkey = given(o.nkey);
  if (creds !== undefined && nkey !== undefined)
    throw new CliError('UsageError', EXIT.usage, 'give --creds or --nkey, not both');
  let authenticator: Authenticator | undefined;
  if (creds !== undefined) authenticator = credsAuthenticator(new Uint8Array(readOptionFile('--creds', creds)));
  if (nkey !== undefined) {
    const seed = /\bSU[A-Z2-7]{50,}\b/.exec(readOptionFile('--nkey', nkey).toString('utf8'))?.[0];
    if (!seed) throw new CliError('UsageError', EXIT.usage, `--nkey: ${nkey} holds no user NKey seed (SU…)`);
    authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (authenticator) options.authenticator = authenticator;
  const [certFile, keyFile, caFile] = [given(o.tlscert), given(o.tlskey), given(o.tlsca)];
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new CliError('UsageError', EXIT.usage, '--tlscert and --tlskey go together');
  for (const [option, file] of [
    ['--tlscert', certFile],
    ['--tlskey', keyFile],
    ['--tlsca', caFile],
  ] as const) {
    if (file !== undefined) readOptionFile(option, file);
  }
  if (certFile !== undefined || caFile !== undefined) {
    options.tls = {
      ...(certFile !== undefined ? { certFile } : {}),
      ...(keyFile !== undefined ? { keyFile } : {}),
      ...(caFile !== undefined ? { caFile } : {}),
    };
  }
  return options;
}

/** Connects, or throws a CliError with exit status 6 that says why (never a secret: see scrub). */
export async function openNats(o: GlobalOptions): Promise<NatsConnection> {
  const options = connectionOptions(o);
  try {
    return await connect(options);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new CliError(
      'NatsError',
      EXIT.connection,
      `cannot connect to ${(options.servers as string[]).join(',')}: ${(err as Error).message}`,
      typeof code === 'string' ? code : undefined,
    );
  }
}
