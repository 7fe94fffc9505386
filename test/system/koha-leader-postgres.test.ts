// One Koha poller for the estate (docs/central.md, "Several instances"): two central instances on one PostgreSQL and
// the recorded-response Koha fake (test/helpers/koha-fake.ts). Only the leader asks Koha (one token, one request a
// poll, however many instances run); the leader stopped, the other leads and asks from the mark the instances share
// (lms_feed_marks, central/pg/migrations/031-koha-feed-mark.sql), so a change made in Koha while nobody polled, half
// an hour before the new leader's now, is applied; and a leader that lost the lock in the middle of a poll cannot move
// the shared mark back. Counts and marks, waited for with until(); the instances' and
// Koha's time jump by a shared offset, no test waits on the clock.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { PgFeedMarks } from '../../central/members/koha/feed-mark.js';
import { formatRfc3339, offsetMinutes } from '../../central/members/koha/rfc3339.js';
import { parseMemberFields } from '../../policies/member-list.js';
import { startKohaFake, type KohaFake } from '../helpers/koha-fake.js';
import { mqttCredentials } from '../helpers/mqtt-credentials.js';
import { startPostgres, type RunningPostgres } from '../helpers/postgres.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';
import { hashCard, TEST_KEY_HEX } from '../unit/members-sync/helpers.js';

const MINUTE = 60_000;
const OVERLAP_SECONDS = 5;
const PATRONS = Array.from({ length: 3 }, (_, i) => ({ patron_id: 3000 + i, cardnumber: `2352900030000${i}` }));

let dir: string;
let server: RunningPostgres;
let databaseUrl: string;
let koha: KohaFake;
let a: RunningCentral;
let b: RunningCentral;
/** Added to the real time by both instances and by Koha: "half an hour later" without waiting for it. */
let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;

async function instance(k: number): Promise<RunningCentral> {
  const mqtt = await mqttCredentials(['town'], mkdirSync(join(dir, `mqtt-${k}`), { recursive: true }));
  const config = parseCentralConfig({
    embedded: { port: 0, passwordFile: mqtt.passwordFile },
    http: { port: 0 },
    store: { path: join(dir, `central-${k}.sqlite`), postgres: { urlFile: join(dir, 'db.url'), poolSize: 3 } },
    signing: { keyFile: testSigningKey().privateFile },
    members: {
      koha: { url: koha.url, clientId: koha.clientId, clientSecretFile: join(dir, 'koha.secret'), pollSeconds: 3600, overlapSeconds: OVERLAP_SECONDS, registeredAttribute: 'OPENACCESS' },
    },
    log: { level: 'silent' },
  });
  return startCentral(config, { clock: { now: () => new Date(now()) }, logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } });
}

const tokens = (): number => koha.requests.filter((r) => r.path === '/api/v1/oauth/token').length;
const polls = () => koha.requests.filter((r) => r.path === '/api/v1/patrons');
/** The `updated_on` a poll asked from. */
const askedFrom = (r: { query: URLSearchParams }): string => (JSON.parse(r.query.get('q')!) as { updated_on: { '>=': string } }).updated_on['>='];

async function sharedMark(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ mark: string }>("SELECT mark FROM lms_feed_marks WHERE feed = 'koha'");
    return rows[0]?.mark;
  } finally {
    await client.end();
  }
}

async function blocked(central: RunningCentral, cardnumber: string): Promise<boolean | undefined> {
  const fields = await central.members!.store.heldFields(hashCard(cardnumber));
  return fields === undefined ? undefined : parseMemberFields(fields).blocked;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-koha-leader-'));
  server = await startPostgres();
  databaseUrl = await server.newDatabase();
  writeFileSync(join(dir, 'db.url'), `${databaseUrl}\n`);
  koha = await startKohaFake({ now });
  writeFileSync(join(dir, 'koha.secret'), `${koha.clientSecret}\n`);
  // Patrons Koha had before central first polled (the export's business, not the feed's).
  offsetMs = -24 * 60 * MINUTE;
  for (const p of PATRONS) koha.add(p);
  offsetMs = 0;
  // One after the other: the first leads (its first try at the lock is at once) and polls as it leads.
  a = await instance(1);
  await until(() => a.alerts.telling, 'the first instance to lead');
  await until(() => polls().length === 1, "the leader's first poll");
  b = await instance(2);
}, 120_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await koha?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the Koha feed with two central instances on PostgreSQL', () => {
  it('is polled by the leader alone', async () => {
    expect([a.alerts.telling, b.alerts.telling]).toEqual([true, false]);
    koha.update(PATRONS[0]!.patron_id, { restricted: true });
    const result = await a.koha!.poll();
    expect(result).toMatchObject({ changes: 1 });
    expect(await blocked(b, PATRONS[0]!.cardnumber)).toBe(true);
    // Two polls, both the leader's: one token asked for, the follower never asked Koha.
    expect(polls()).toHaveLength(2);
    expect(tokens()).toBe(1);
    expect(await sharedMark()).toBe(result.mark);
    expect(koha.schemaErrors).toEqual([]);
  }, 60_000);

  it('goes on, on the next leader, from the shared mark: a change made while nobody polled is applied', async () => {
    const mark = (await sharedMark())!;
    const version = (await b.members!.store.current())!.version;
    // Half an hour on, staff restrict a patron in Koha; half an hour later still, the leader stops.
    offsetMs = 30 * MINUTE;
    koha.update(PATRONS[1]!.patron_id, { restricted: true });
    offsetMs = 60 * MINUTE;
    await a.close();
    await until(() => b.alerts.telling, 'the second instance to lead', 30_000);
    await until(() => polls().length === 3, "the new leader's first poll", 30_000);
    // Asked from the shared mark (less the overlap), not from the new leader's now (which would miss the change).
    expect(askedFrom(polls()[2]!)).toBe(formatRfc3339(Date.parse(mark) - OVERLAP_SECONDS * 1000, offsetMinutes(mark)));
    expect(tokens()).toBe(2);
    await until(async () => (await b.members!.store.current())!.version > version, 'the version of the change', 30_000);
    expect(await b.members!.store.current()).toMatchObject({ version: version + 1, source: 'koha:poll', count: 2 });
    expect(await blocked(b, PATRONS[1]!.cardnumber)).toBe(true);
    expect(Date.parse((await sharedMark())!)).toBeGreaterThan(Date.parse(mark) + 29 * MINUTE);
    expect(koha.schemaErrors).toEqual([]);
  }, 90_000);

  it('keeps the newer mark when a leader that lost the lock mid-poll saves its older one', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const newer = (await sharedMark())!;
      const older = formatRfc3339(Date.parse(newer) - 45 * MINUTE, offsetMinutes(newer));
      await new PgFeedMarks(pool).set('koha', older, new Date(now()));
      expect(await sharedMark()).toBe(newer);
    } finally {
      await pool.end();
    }
  });
});
