/**
 * Secrets given as a value or as a file (a mounted Kubernetes Secret), resolved once at
 * start-up. A problem names the key and the file, never the secret.
 */
import { readFileSync } from 'node:fs';
import type { BridgeConfig } from './schema.js';

export interface Secrets {
  nats: { user: string; password: string; token: string; nkeySeed: string; creds: Uint8Array | undefined };
  janus: { apiSecret: string; token: string; adminSecret: string };
  /** What a Janus event handler must send (eventHandler.secret); empty: nothing asked. */
  eventHandler: { secret: string };
}

export type SecretsResult = { ok: true; secrets: Secrets } | { ok: false; problem: string };

export function resolveSecrets(config: BridgeConfig): SecretsResult {
  try {
    const nats = config.nats;
    const secrets: Secrets = {
      nats: {
        user: nats.user,
        password: valueOrFile('nats.password', nats.password, nats.passwordFile),
        token: valueOrFile('nats.token', nats.token, nats.tokenFile),
        nkeySeed: valueOrFile('nats.nkeySeed', nats.nkeySeed, nats.nkeySeedFile),
        creds: nats.credsFile ? readBytes('nats.credsFile', nats.credsFile) : undefined,
      },
      janus: {
        apiSecret: valueOrFile('janus.apiSecret', config.janus.apiSecret, config.janus.apiSecretFile),
        token: valueOrFile('janus.token', config.janus.token, config.janus.tokenFile),
        adminSecret: valueOrFile('janus.adminSecret', config.janus.adminSecret, config.janus.adminSecretFile),
      },
      eventHandler: {
        secret: valueOrFile('eventHandler.secret', config.eventHandler.secret, config.eventHandler.secretFile),
      },
    };
    if (secrets.nats.password && !secrets.nats.user) throw new Error('nats.password: is set but nats.user is empty');
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
      if (nats.tls[key]) readBytes(`nats.tls.${key}`, nats.tls[key]);
    }
    if (Boolean(nats.tls.certFile) !== Boolean(nats.tls.keyFile))
      throw new Error('nats.tls.certFile and nats.tls.keyFile: set both or neither');
    return { ok: true, secrets };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
}

function valueOrFile(key: string, value: string, file: string): string {
  if (value && file) throw new Error(`${key} and ${key}File: set one of them, not both`);
  return file ? readBytes(`${key}File`, file).toString().trim() : value;
}

function readBytes(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      cause: err,
    });
  }
}
