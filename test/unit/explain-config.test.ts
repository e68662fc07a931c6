import { describe, expect, it } from 'vitest';
import { explainConfig, formatExplained } from '../../src/config/explain.js';
import { loadConfig } from '../../src/config/load.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function load(values: unknown, env: Record<string, string> = {}) {
  const file = join(mkdtempSync(join(tmpdir(), 'jnb-explain-')), 'c.json');
  writeFileSync(file, JSON.stringify(values));
  const loaded = loadConfig({ file, env });
  if (!loaded.ok) throw new Error(loaded.problem);
  return explainConfig(loaded.config, values, env);
}

describe('the effective configuration, explained', () => {
  it('says for each key whether the environment, the file or the default set it (the environment wins)', () => {
    const keys = load({ janus: { cmdTimeout: 3000 }, log: { level: 'debug' } }, { JNB_LOG_LEVEL: 'warn' });
    const of = (key: string) => keys.find((k) => k.key === key)!;
    expect(of('janus.cmdTimeout')).toMatchObject({ value: 3000, source: 'file' });
    expect(of('log.level')).toMatchObject({ value: 'warn', source: 'env', env: 'JNB_LOG_LEVEL' });
    expect(of('janus.sendTimeout')).toMatchObject({ value: 1000, source: 'default' });
  });

  it('masks every secret and shows Janus URLs without their credentials', () => {
    const keys = load(
      {
        nats: { user: 'bridge', password: 'pw-123' },
        janus: { apiSecret: 'api-456' },
        connections: [{ janus_id: 'a', janus_url: 'janusws://u:p@10.0.0.1:8188/janus?access_token=tok-789' }],
      },
      { JNB_DB_URL: 'postgres://u:db-000@db/x' },
    );
    const text = formatExplained(keys);
    for (const secret of ['pw-123', 'api-456', 'tok-789', 'db-000', ':p@']) expect(text).not.toContain(secret);
    expect(keys.find((k) => k.key === 'nats.password')!.value).toBe('***');
    expect(keys.find((k) => k.key === 'db.url')).toMatchObject({ value: '***', source: 'env' });
    expect(keys.find((k) => k.key === 'nats.user')!.value).toBe('bridge');
    expect(text).toContain('access_token=***');
  });

  it('lists every key of the schema once, one per line', () => {
    const keys = load({});
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
    expect(formatExplained(keys).trim().split('\n')).toHaveLength(keys.length);
  });
});
