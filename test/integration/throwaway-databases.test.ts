/**
 * The throw-away PostgreSQL and MariaDB that the tests start on a machine where none runs
 * (test/support/local-databases.ts): each starts from Debian's binaries in a temporary
 * directory, takes the shipped schema and the daemon's list query, and leaves nothing behind.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { expect, it } from 'vitest';
import { startThrowAwayServer } from '../support/local-databases.js';
import { eventually, startBridge } from '../support/bridge.js';
import { REPO, startNats } from '../support/processes.js';

it.each(['postgres', 'mysql'] as const)(
  'a throw-away %s server starts, serves the connection list to the daemon, and is gone after stop()',
  async (engine) => {
    const server = await startThrowAwayServer(engine);
    const nats = await startNats();
    try {
      const schema = readFileSync(resolve(REPO, `deploy/sql/${engine}.sql`), 'utf8');
      if (engine === 'postgres') {
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        await client.query('CREATE DATABASE jnb_throwaway');
        await client.end();
        const db = new pg.Client({ connectionString: server.url.replace(/\/postgres$/, '/jnb_throwaway') });
        await db.connect();
        await db.query(schema);
        await db.query("INSERT INTO janus (janus_id, janus_url) VALUES ('tw', 'janusws://127.0.0.1:1/janus')");
        await db.end();
      } else {
        const admin = await mysql.createConnection({ uri: server.url, multipleStatements: true });
        await admin.query('CREATE DATABASE jnb_throwaway; USE jnb_throwaway;');
        await admin.query(schema);
        await admin.query("INSERT INTO janus (janus_id, janus_url) VALUES ('tw', 'janusws://127.0.0.1:1/janus')");
        await admin.end();
      }
      const url = new URL(server.url);
      url.pathname = '/jnb_throwaway';
      const bridge = await startBridge({ nats: { servers: [nats.url] }, db: { url: url.toString() } });
      try {
        await eventually(() => bridge.daemon.connectionStats('tw') !== undefined, 10_000, 'the row served');
      } finally {
        await bridge.stop();
      }
    } finally {
      await nats.stop();
      await server.stop();
    }
    expect(existsSync(server.dir)).toBe(false);
    const port = Number(new URL(server.url).port);
    const refused = await new Promise<boolean>((done) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        done(false);
      });
      socket.once('error', () => done(true));
    });
    expect(refused).toBe(true);
  },
  90_000,
);
