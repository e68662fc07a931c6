/** The list's source: the SQL table when `db.url` is set, else the config file's `connections`. */
import { loadConfig, type ConfigResult } from './load.js';
import type { BridgeConfig } from './schema.js';
import type { Logger } from '../log.js';
import { ConfigConnectionSource } from '../connections/config-source.js';
import { parseDbUrl } from '../connections/db-url.js';
import { ListLoadError } from '../connections/list-errors.js';
import type { ConnectionSource } from '../connections/spec.js';
import { SqlConnectionSource } from '../connections/sql/source.js';

/** How to read the configuration again on a reload (the same file and environment). */
export type ConfigReader = () => ConfigResult;

export function configReader(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ConfigReader {
  return () => loadConfig({ file, env });
}

export function chooseSource(
  config: BridgeConfig,
  rereadConfig: ConfigReader | undefined,
  log: Logger,
): ConnectionSource {
  if (config.db.url) {
    const parsed = parseDbUrl(config.db.url);
    if (!parsed.ok) throw new Error(`db.url ${parsed.reason}`);
    if (config.connections.length > 0) {
      log.warn({ ignored: config.connections.length }, 'db.url is set: the connections of the config file are ignored');
    }
    return new SqlConnectionSource(parsed.target, config.db.table, {
      url: config.db.url,
      connectTimeoutMs: config.db.connectTimeout,
      tls: config.db.tls,
    });
  }
  let first = true;
  return new ConfigConnectionSource(() => {
    // The first load uses the configuration already validated; reloads read the file again.
    if (first || !rereadConfig) {
      first = false;
      return config.connections;
    }
    const reread = rereadConfig();
    if (!reread.ok) throw new ListLoadError('invalid-config', reread.problem);
    return reread.config.connections;
  });
}
