/** The daemon in the test's own process (so tests can look inside), and a NATS client for talking to it. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, type ConnectionOptions, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { loadConfig, type ConfigResult } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/schema.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { startNats, type NatsServer } from './processes.js';

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends Array<infer U> ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

/** A config as a user would write it, validated by the real loader. */
export function testConfig(values: DeepPartial<BridgeConfig>): BridgeConfig {
  const file = join(mkdtempSync(join(tmpdir(), 'jnb-config-')), 'config.json');
  writeFileSync(file, JSON.stringify({ http: { host: '127.0.0.1', port: 0 }, ...values }));
  const loaded = loadConfig({ file, env: {} });
  if (!loaded.ok) throw new Error(loaded.problem);
  return loaded.config;
}

export interface TestBridge {
  readonly daemon: Daemon;
  readonly config: BridgeConfig;
  /** Every log line written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startBridge(
  values: DeepPartial<BridgeConfig>,
  options: { waitForList?: boolean; rereadConfig?: () => ConfigResult } = {},
): Promise<TestBridge> {
  const config = testConfig(values);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const daemon = await startDaemon(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'debug', sink), {
    rereadConfig: options.rereadConfig,
  });
  if (options.waitForList !== false) await daemon.listLoaded;
  return {
    daemon,
    config,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    stop: () => daemon.shutdown('test over'),
  };
}

export interface Reply {
  json: Record<string, unknown>;
  headers: MsgHdrs | undefined;
  ms: number;
}

export class Client {
  private constructor(readonly nc: NatsConnection) {}

  static async connect(url: string, options: Omit<ConnectionOptions, 'servers'> = {}): Promise<Client> {
    return new Client(await connect({ servers: url, ...options }));
  }

  async request(subject: string, payload: unknown, timeout = 10_000): Promise<Reply> {
    const data = typeof payload === 'string' || payload instanceof Uint8Array ? payload : JSON.stringify(payload);
    const started = performance.now();
    const msg = await this.nc.request(subject, data, { timeout });
    return {
      json: JSON.parse(msg.string()) as Record<string, unknown>,
      headers: msg.headers,
      ms: performance.now() - started,
    };
  }

  publish(subject: string, payload: unknown): void {
    this.nc.publish(subject, typeof payload === 'string' ? payload : JSON.stringify(payload));
  }

  /** Collects every message on `subject` from now on. */
  collect(subject: string): Collector {
    return new Collector(this.nc.subscribe(subject));
  }

  close(): Promise<void> {
    return this.nc.close();
  }
}

export class Collector {
  readonly messages: Array<{
    subject: string;
    json: Record<string, unknown>;
    headers: MsgHdrs | undefined;
    at: number;
  }> = [];
  private waiters: Array<() => void> = [];

  constructor(private readonly sub: Subscription) {
    void (async () => {
      for await (const msg of sub) {
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(msg.string()) as Record<string, unknown>;
        } catch {
          json = { unparsable: msg.string() };
        }
        this.messages.push({ subject: msg.subject, json, headers: msg.headers, at: performance.now() });
        for (const wake of this.waiters.splice(0)) wake();
      }
    })();
  }

  /** The first collected message matching `predicate`, waiting up to `timeoutMs`. */
  async waitFor(
    predicate: (json: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    return (await this.waitForMessage((m) => predicate(m.json), timeoutMs)).json;
  }

  /** Like waitFor, with the subject and headers too. */
  async waitForMessage(
    predicate: (message: Collector['messages'][number]) => boolean,
    timeoutMs = 10_000,
  ): Promise<Collector['messages'][number]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching message within ${timeoutMs} ms; got ` +
            `${JSON.stringify(this.messages.map((m) => m.json)).slice(0, 2000)}`,
        );
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  stop(): void {
    this.sub.unsubscribe();
  }
}

const STORY_FIELDS = ['janus_id', 'replica', 'reason', 'from', 'to', 'session_id', 'status'];

/**
 * What a bridge logged at info and above, a line each (time, level, message, the fields that
 * say who and why): printed when a test fails, where a replica's hand-overs and fences are
 * the first thing to read.
 */
export function logStory(bridge: TestBridge): string {
  return bridge
    .logs()
    .filter((line) => line.level !== 'debug' && line.level !== 'trace')
    .map((line) => {
      const fields = STORY_FIELDS.filter((key) => line[key] !== undefined).map(
        (key) => `${key}=${JSON.stringify(line[key])}`,
      );
      return [line.time, line.level, line.msg, ...fields].join(' ');
    })
    .join('\n');
}

/** Waits until `check` is true, polling every 20 ms (tests only). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * For a test file: one private nats-server and a client for the whole file, and a list
 * of things each test started, stopped after that test in reverse order.
 */
export function natsPerFile(hooks: {
  beforeAll: (fn: () => Promise<void>) => void;
  afterEach: (fn: () => Promise<void>) => void;
  afterAll: (fn: () => Promise<void>) => void;
}) {
  const scope = {
    nats: undefined as unknown as NatsServer,
    client: undefined as unknown as Client,
    running: [] as Array<{ stop(): Promise<unknown> }>,
  };
  hooks.beforeAll(async () => {
    scope.nats = await startNats();
    scope.client = await Client.connect(scope.nats.url);
  });
  hooks.afterEach(async () => {
    for (const item of scope.running.splice(0).reverse()) await item.stop();
  });
  hooks.afterAll(async () => {
    await scope.client?.close();
    await scope.nats?.stop();
  });
  return scope;
}
