import type { ConnectionEntry } from './spec.js';
import { toSpec, type ConnectionList, type ConnectionSource, type ConnectionSpec, type SkippedEntry } from './spec.js';

/**
 * The `connections` list of the config file. `readEntries` reads the file again on a
 * reload (it throws a ListLoadError when the file has become invalid).
 */
export class ConfigConnectionSource implements ConnectionSource {
  readonly description = 'config file (connections)';

  constructor(private readonly readEntries: () => readonly ConnectionEntry[]) {}

  async load(): Promise<ConnectionList> {
    const specs: ConnectionSpec[] = [];
    const skipped: SkippedEntry[] = [];
    this.readEntries().forEach((entry, index) => {
      const result = toSpec(entry.janus_id, entry.janus_url, entry.janus_admin_url);
      if (result.ok) specs.push(result.spec);
      else
        skipped.push({
          row: `connections[${index}]`,
          janusId: entry.janus_id,
          reason: result.field === 'janus_url' ? result.reason : `${result.field}: ${result.reason}`,
        });
    });
    return { specs, skipped };
  }
}
