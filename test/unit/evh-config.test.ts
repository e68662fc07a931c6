import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { resolveSecrets } from '../../src/config/secrets.js';
import { evhStreamSettings } from '../../src/eventhandlers/start.js';

const dir = mkdtempSync(join(tmpdir(), 'jnb-evh-config-'));

function load(env: NodeJS.ProcessEnv) {
  const result = loadConfig({ env });
  if (!result.ok) throw new Error(result.problem);
  return result.config;
}

describe('eventHandler configuration', () => {
  it('is off by default (port 0), on 0.0.0.0, no secret', () => {
    const config = load({});
    expect(config.eventHandler).toMatchObject({ port: 0, host: '0.0.0.0', secret: '', maxMessageBytes: 8388608 });
  });

  it('takes its keys from the environment', () => {
    const config = load({
      JNB_EVENT_HANDLER_PORT: '8190',
      JNB_EVENT_HANDLER_HOST: '127.0.0.1',
      JNB_EVENT_HANDLER_SECRET: 's',
      JNB_EVENT_HANDLER_MAX_MESSAGE_BYTES: '65536',
      JNB_EVENT_HANDLER_STREAM: 'true',
      JNB_EVENT_HANDLER_STREAM_NAME: 'EVH',
      JNB_EVENT_HANDLER_STREAM_STORAGE: 'memory',
      JNB_EVENT_HANDLER_STREAM_BUFFER: '500',
    });
    expect(config.eventHandler).toMatchObject({
      port: 8190,
      host: '127.0.0.1',
      secret: 's',
      maxMessageBytes: 65536,
      stream: { enabled: true, name: 'EVH', storage: 'memory', bufferSize: 500 },
    });
  });

  it.each([['70000'], ['-1'], ['x']])('refuses the port %s, naming the key', (port) => {
    const result = loadConfig({ env: { JNB_EVENT_HANDLER_PORT: port } });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problem).toContain('eventHandler.port');
  });

  it('reads the secret from a file, and refuses a value and a file together without repeating either', () => {
    const file = join(dir, 'secret');
    writeFileSync(file, 'from-file\n');
    const fromFile = resolveSecrets(load({ JNB_EVENT_HANDLER_SECRET_FILE: file }));
    expect(fromFile.ok && fromFile.secrets.eventHandler.secret).toBe('from-file');
    const both = resolveSecrets(load({ JNB_EVENT_HANDLER_SECRET_FILE: file, JNB_EVENT_HANDLER_SECRET: 'inline' }));
    expect(both).toEqual({
      ok: false,
      problem: 'eventHandler.secret and eventHandler.secretFile: set one of them, not both',
    });
    const missing = resolveSecrets(load({ JNB_EVENT_HANDLER_SECRET_FILE: join(dir, 'nope') }));
    expect(missing.ok ? '' : missing.problem).toMatch(/^eventHandler\.secretFile: cannot read /);
  });

  it('names its stream <PREFIX>_EVH over <prefix>.evh.> unless told', () => {
    expect(evhStreamSettings(load({}))).toMatchObject({
      name: 'JANUS_EVH',
      subjects: ['janus.evh.>'],
      storage: 'file',
      maxPending: 256,
      bufferSize: 10000,
    });
    expect(evhStreamSettings(load({ JNB_NATS_SUBJECT_PREFIX: 'a.b' })).name).toBe('A_B_EVH');
    expect(evhStreamSettings(load({ JNB_NATS_SUBJECT_PREFIX: 'a.b' })).subjects).toEqual(['a.b.evh.>']);
    expect(evhStreamSettings(load({ JNB_EVENT_HANDLER_STREAM_NAME: 'MINE' })).name).toBe('MINE');
  });
});
