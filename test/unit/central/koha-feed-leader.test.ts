// The Koha poller as the leader runs it (central/main.ts starts it on lead and stops it on loss): a lead taken twice
// makes one poller, not two asking Koha; and the next leader on the same database goes
// on from the mark the last one saved, not from its own now. Koha here is a function that records what it was asked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KohaPage } from '../../../central/members/koha/client.js';
import { SqliteFeedMarks } from '../../../central/members/koha/feed-mark.js';
import { KOHA_FEED, KohaPoller } from '../../../central/members/koha/poller.js';
import { CentralStore } from '../../../central/store.js';
import { until } from '../../helpers/until.js';

let dir: string;
let store: CentralStore;
/** The `since` of every request to Koha, by any poller. */
let asked: string[];
let now: Date;

function poller(): KohaPoller {
  return new KohaPoller({
    changedSince: async function* (since: string): AsyncGenerator<KohaPage> {
      asked.push(since);
      yield { patrons: [], total: 0 };
    },
    mapping: { map: () => ({ ok: false, skip: 'no-card' }) },
    marks: new SqliteFeedMarks(store.db),
    current: async () => undefined,
    apply: async () => ({ version: null }),
    config: { pollSeconds: 3600, overlapSeconds: 5, failuresBeforeIncident: 3 },
    problem: { raise: () => {}, clear: () => {} },
    clock: { now: () => now },
    logger: pino({ level: 'silent' }),
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oag-koha-leader-'));
  store = new CentralStore(join(dir, 'central.sqlite'));
  asked = [];
  now = new Date('2026-03-02T09:00:00Z');
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Koha poller on the leader', () => {
  it('asks Koha once when the lead is taken twice (one poller, not two)', async () => {
    const leader = poller();
    try {
      leader.start();
      leader.start();
      await until(() => asked.length >= 1, 'the first poll');
      await leader.poll();
      expect(asked).toHaveLength(2);
    } finally {
      await leader.stop();
    }
  });

  it('goes on, as the next leader, from the mark the last one saved, not from its own now', async () => {
    const first = poller();
    first.start();
    await until(() => asked.length === 1, "the first leader's poll");
    await first.stop();
    expect(await new SqliteFeedMarks(store.db).get(KOHA_FEED)).toBe('2026-03-02T09:00:00Z');
    expect(asked).toEqual(['2026-03-02T08:59:55Z']);

    // An hour on, another leader: it asks from the saved mark (less the overlap), not from its own now.
    now = new Date('2026-03-02T10:00:00Z');
    const next = poller();
    try {
      next.start();
      await until(() => asked.length === 2, "the next leader's poll");
      await next.poll();
      expect(asked).toEqual(['2026-03-02T08:59:55Z', '2026-03-02T08:59:55Z', '2026-03-02T08:59:55Z']);
    } finally {
      await next.stop();
    }
  });
});
