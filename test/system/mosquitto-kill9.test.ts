// The gateway process killed with -9 in the middle of publishing, then started again: nothing the broker
// acknowledged is lost, nothing reaches central's history twice. The gateway here is a small child process with
// a real SQLite outbox (FULL sync) and the real uplink.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { until } from '../unit/uplink/fakes.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { testSigningKey } from '../helpers/signing-keys.js';

const TOTAL = 400;
const root = resolve(import.meta.dirname, '..', '..');
// The child lives in a temp folder: it names its packages by path.
const requireHere = createRequire(join(root, 'package.json'));
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CHILD = `
import Database from ${JSON.stringify(requireHere.resolve('better-sqlite3'))};
import pino from ${JSON.stringify(requireHere.resolve('pino'))};
import { Uplink } from ${JSON.stringify(join(root, 'gateway/uplink/index.ts'))};
import { UplinkConfigSchema } from ${JSON.stringify(join(root, 'gateway/uplink/types.ts'))};
import { monotonicUlid } from ${JSON.stringify(join(root, 'policies/contract/index.ts'))};
import { stateFixture } from ${JSON.stringify(join(root, 'test/unit/contract/fixtures.ts'))};

const [dbPath, url, ca, cert, key, total] = process.argv.slice(2);
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, at TEXT, type TEXT, payload TEXT, published INTEGER NOT NULL DEFAULT 0)');
const unpublished = db.prepare('SELECT id, at, type, payload FROM outbox WHERE published = 0 ORDER BY seq LIMIT ?');
const mark = db.prepare('UPDATE outbox SET published = 1 WHERE id = ?');
const markAll = db.transaction((ids) => { for (const id of ids) mark.run(id); });
const insert = db.prepare('INSERT INTO outbox (id, at, type, payload) VALUES (?, ?, ?, ?)');
let n = db.prepare('SELECT COUNT(*) AS n FROM outbox').get().n;
const nextId = monotonicUlid();
const uplink = new Uplink({
  config: UplinkConfigSchema.parse({ url, username: 'town', password: 't-pw', tls: { ca, cert, key }, reconnectPeriodMs: 200, reconnectMaxMs: 400, centralKeys: [${JSON.stringify(testSigningKey().publicFile)}] }),
  site: 'town',
  outbox: {
    unpublished: (limit) => unpublished.all(limit).map((r) => ({ ...r, payload: JSON.parse(r.payload) })),
    markPublished: (ids) => markAll(ids),
  },
  state: { current: () => ({ ...stateFixture(), at: new Date().toISOString() }), onChange: () => () => {} },
  commands: { execute: async () => ({ ok: true }) },
  policy: { offer: () => ({ ok: false, errors: ['not in this test'] }) },
  clock: { now: () => new Date() },
  logger: pino({ level: 'silent' }),
});
uplink.start();
// Bursts of taps, so that a kill finds events written but not yet acknowledged.
setInterval(() => {
  for (let k = 0; k < 10 && n < Number(total); k++) {
    n++;
    const at = new Date();
    const event = { id: nextId(at.getTime()), at: at.toISOString(), site: 'town', type: 'occupancy', change: 'entry', inside: n };
    insert.run(event.id, event.at, event.type, JSON.stringify(event));
  }
  uplink.kick();
}, 10);
`;

describe('gateway killed with -9 while publishing', () => {
  it('loses nothing acknowledged and duplicates nothing at central', async () => {
    const broker = await startMosquitto({ users: { central: 'c-pw', town: 't-pw' }, centralUser: 'central' });
    cleanups.push(() => broker.stop());
    const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
    const central = await startCentral(
      parseCentralConfig({ signing: { keyFile: testSigningKey().privateFile }, broker: { url: broker.url, username: 'central', password: 'c-pw', tls }, http: { port: 0 }, store: { path: ':memory:' } }),
      { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) },
    );
    cleanups.push(() => central.close());

    const dir = mkdtempSync(join(tmpdir(), 'oag-kill9-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'gateway.mts');
    writeFileSync(script, CHILD);
    const dbPath = join(dir, 'outbox.sqlite');
    const run = (): ChildProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, dbPath, broker.url, tls.ca, tls.cert, tls.key, String(TOTAL)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
      cleanups.push(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      return child;
    };
    const counts = (): { rows: number; published: number } => {
      try {
        const db = new Database(dbPath, { readonly: true, fileMustExist: true });
        try {
          return db.prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(published), 0) AS published FROM outbox').get() as { rows: number; published: number };
        } finally {
          db.close();
        }
      } catch {
        return { rows: 0, published: 0 };
      }
    };

    const first = run();
    await until(() => {
      const c = counts();
      return c.published >= 100 && c.rows - c.published >= 5;
    }, 'events acknowledged and more in flight', 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = counts();
    expect(atKill.rows).toBeLessThan(TOTAL);

    const db = new Database(dbPath, { readonly: true });
    const acknowledgedBeforeKill = (db.prepare('SELECT id FROM outbox WHERE published = 1').all() as Array<{ id: string }>).map((r) => r.id);
    db.close();

    run();
    await until(() => {
      const c = counts();
      return c.rows === TOTAL && c.published === TOTAL;
    }, 'every event acknowledged after the restart', 60_000);

    let ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const body = (await (await fetch(`${central.httpUrl}/api/sites/town/events?limit=1000`, { headers: await centralHeaders(central) })).json()) as { events: Array<{ event: { id: string; inside: number } }> };
      ids = body.events.map((e) => e.event.id);
      if (ids.length >= TOTAL) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ids).toHaveLength(TOTAL);
    expect(new Set(ids).size).toBe(TOTAL);
    const atCentral = new Set(ids);
    expect(acknowledgedBeforeKill.filter((id) => !atCentral.has(id))).toEqual([]);
    console.log(`kill -9 test: killed at ${atKill.rows} appended / ${atKill.published} acknowledged; ${TOTAL} stored once at central`);
  });
});
