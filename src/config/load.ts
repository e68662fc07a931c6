/**
 * Loads the configuration: schema defaults, then the JSON file, then environment
 * variables. Any problem is reported as one line naming the key, before anything starts.
 */
import { readFileSync } from 'node:fs';
import convict from 'convict';
import { jsonErrorWithoutInput } from '../json-errors.js';
import { parseDbUrl } from '../connections/db-url.js';
import { FORMATS, SCHEMA, type BridgeConfig } from './schema.js';

for (const [name, format] of Object.entries(FORMATS)) convict.addFormat({ name, ...format });

export type ConfigResult = { ok: true; config: BridgeConfig } | { ok: false; problem: string };

export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): ConfigResult {
  let config: convict.Config<BridgeConfig>;
  try {
    config = convict<BridgeConfig>(SCHEMA as unknown as convict.Schema<BridgeConfig>, {
      env: options.env ?? process.env,
      args: [],
    });
  } catch (err) {
    return { ok: false, problem: oneLine((err as Error).message) };
  }
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      return {
        ok: false,
        problem:
          `config file ${options.file}: ${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim(),
      };
    }
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch (err) {
      return {
        ok: false,
        problem: `config file ${options.file} is not valid JSON: ${jsonErrorWithoutInput(err as Error)}`,
      };
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      return { ok: false, problem: `config file ${options.file} must hold a JSON object` };
    }
    const connections = (values as { connections?: unknown }).connections;
    if (connections !== undefined && !Array.isArray(connections) && typeof connections === 'object') {
      // convict would merge an object into the list's default and quietly load nothing.
      return {
        ok: false,
        problem: 'connections: must be a list of {"janus_id": "...", "janus_url": "..."} objects, got an object',
      };
    }
    try {
      // convict re-applies environment variables after load(): they win over the file.
      config.load(values as Partial<BridgeConfig>);
    } catch (err) {
      return { ok: false, problem: oneLine((err as Error).message) };
    }
  }
  try {
    config.validate({ allowed: 'strict' });
  } catch (err) {
    return { ok: false, problem: oneLine((err as Error).message) };
  }
  const loaded = config.getProperties();
  const dbUrl = dbUrlFromFile(loaded.db);
  if (!dbUrl.ok) return dbUrl;
  loaded.db.url = dbUrl.url;
  if (loaded.janus.reconnect.minDelay > loaded.janus.reconnect.maxDelay) {
    return { ok: false, problem: 'janus.reconnect.minDelay: must not exceed janus.reconnect.maxDelay' };
  }
  return { ok: true, config: loaded };
}

/** db.url, or what db.urlFile holds (validated as db.url is, never repeated: it holds the password). */
function dbUrlFromFile(db: BridgeConfig['db']): { ok: true; url: string } | { ok: false; problem: string } {
  if (!db.urlFile) return { ok: true, url: db.url };
  if (db.url) return { ok: false, problem: 'db.url and db.urlFile: set one of them, not both' };
  let url: string;
  try {
    url = readFileSync(db.urlFile, 'utf8').trim();
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { ok: false, problem: `db.urlFile: cannot read ${db.urlFile} (${why})` };
  }
  const parsed = parseDbUrl(url);
  return parsed.ok ? { ok: true, url } : { ok: false, problem: `db.urlFile: ${parsed.reason}` };
}

/** convict's messages, one line, without its "value was …" echo: values may hold credentials. */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.replace(/: value was .*$/, '').trim())
    .filter(Boolean)
    .join('; ');
}
