// The real `oag gateway` process, on simulated hardware, reporting to central through Debian's mosquitto (TLS,
// password, ACL): killed with -9 while taps keep coming and events are in flight, then started again. Nothing the
// broker acknowledged is lost, nothing reaches central twice, and the backlog goes out after the restart.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import type { RunningCentral } from '../../central/main.js';
import { freePort, startMosquitto } from '../helpers/mosquitto.js';
import type { RunningMosquitto } from '../helpers/mosquitto.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';

const root = resolve(import.meta.dirname, '..', '..');
const SITE = 'town-central';
const KEY = 'cd'.repeat(32);


describe('gateway process killed with -9 while publishing', () => {
  let dir: string;
  let broker: RunningMosquitto | undefined;
  let central: RunningCentral | undefined;
  const children: ChildProcess[] = [];

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await central?.close();
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing acknowledged and duplicates nothing at central', async () => {
    dir = mkdtempSync(join(tmpdir(), 'oag-kill9-'));
    broker = await startMosquitto({ users: { central: 'c-pw', [SITE]: 't-pw' }, centralUser: 'central' });
    const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
    central = await startCentral(
      parseCentralConfig({ signing: { keyFile: testSigningKey().privateFile }, broker: { url: broker.url, username: 'central', password: 'c-pw', tls }, http: { port: 0 }, store: { path: join(dir, 'central.sqlite') }, log: { level: 'silent' } }),
      { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) },
    );

    const port = await freePort();
    writeFileSync(
      join(dir, 'policy.yaml'),
      stringify({ version: 1, site: SITE, schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) } }),
    );
    writeFileSync(
      join(dir, 'gateway.yaml'),
      stringify({
        site: SITE,
        policyFile: 'policy.yaml',
        store: { path: 'gateway.sqlite' },
        clock: { trust: 'trusted' },
        http: { port },
        log: { level: 'warn' },
        hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
        mqtt: { url: broker.url, username: SITE, password: 't-pw', tls, reconnectPeriodMs: 200, reconnectMaxMs: 400, centralKeys: [testSigningKey().publicFile] },
      }),
    );
    const start = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [join(root, 'bin/oag.js'), 'gateway', '--config', join(dir, 'gateway.yaml')], {
        cwd: root,
        env: { ...process.env, OAG_DEPLOYMENT_KEY: KEY },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      await until(async () => (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => undefined))?.ok === true, 'the gateway to answer', 30_000);
      return child;
    };
    let tapped = 0;
    const tap = async (): Promise<void> => {
      tapped += 1;
      // A different card each time, so that none is folded into a repeat tap.
      const uid = `04${tapped.toString(16).toUpperCase().padStart(8, '0')}`;
      await fetch(`http://127.0.0.1:${port}/api/simulate/tap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uid }) }).catch(() => undefined);
    };
    const outbox = (): { rows: number; published: number; ids: string[]; publishedIds: string[] } => {
      const db = new Database(join(dir, 'gateway.sqlite'), { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare('SELECT id, published FROM events ORDER BY id').all() as Array<{ id: string; published: number }>;
        return { rows: rows.length, published: rows.filter((r) => r.published === 1).length, ids: rows.map((r) => r.id), publishedIds: rows.filter((r) => r.published === 1).map((r) => r.id) };
      } finally {
        db.close();
      }
    };

    const first = await start();
    // Taps in bursts until some events are acknowledged and more are still waiting: then the plug is pulled.
    await until(
      async () => {
        for (let i = 0; i < 5; i += 1) await tap();
        const o = outbox();
        return o.published >= 40 && o.rows > o.published;
      },
      'events acknowledged with more in flight',
      60_000,
    );
    // A burst of taps, and the kill right behind it: the burst's events are written and mostly still in flight.
    await Promise.all(Array.from({ length: 20 }, () => tap()));
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = outbox();
    expect(atKill.published).toBeGreaterThanOrEqual(40);
    console.log(`at the kill: ${atKill.rows} events written, ${atKill.published} acknowledged by the broker`);

    const second = await start();
    for (let i = 0; i < 30; i += 1) await tap();
    await until(() => {
      const o = outbox();
      return o.rows === o.published;
    }, 'the backlog to be acknowledged after the restart', 60_000);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    const final = outbox();

    // Every event acknowledged before the kill is still there and still marked.
    expect(final.publishedIds).toEqual(expect.arrayContaining(atKill.publishedIds));
    // The stop event written at SIGTERM may still be waiting in the outbox for the next start: compare what was sent.
    let remote: string[] = [];
    await until(
      async () => {
        const body = (await (await fetch(`${central!.httpUrl}/api/sites/${SITE}/events?limit=1000`, { headers: await centralHeaders(central!) })).json()) as { events: Array<{ event: { id: string } }> };
        remote = body.events.map((e) => e.event.id);
        return remote.length >= final.published;
      },
      `central to hold every acknowledged event (${final.published}; has ${remote.length})`,
      30_000,
    );
    expect(new Set(remote).size).toBe(remote.length);
    expect([...remote].sort()).toEqual(final.publishedIds);
    expect(final.rows - final.published).toBeLessThanOrEqual(1);
    expect(final.rows).toBeGreaterThan(60);
  });
});
