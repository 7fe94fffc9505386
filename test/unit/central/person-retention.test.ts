// Central's person-level retention: past store.personRetentionDays, card holders' pseudonyms are blanked in the
// events central keeps, and every figure counted from those events stays as it was (docs/privacy.md).
import { describe, expect, it } from 'vitest';
import { CentralConfigError, parseCentralConfig } from '../../../central/config.js';
import { countFigures, dayRange } from '../../../central/figures.js';
import { forgetPersonsBefore } from '../../../central/person-retention.js';
import { ulid } from '../../../policies/contract/index.js';
import { accessEvent, occupancyEvent } from '../contract/fixtures.js';
import { centralParts } from './helpers.js';

const DAY_MS = 86_400_000;
const OLD_DAY = '2025-04-10';
const RECENT_DAY = '2025-06-01';

function mode(at: string, from: string, to: string) {
  return { id: ulid(Date.parse(at)), at, site: 'town', type: 'mode', from, to, until: null };
}

/** An evening at the branch on `day`: open access from 17:00 UTC, four people in, two cards refused. */
async function evening(publish: ReturnType<typeof centralParts>['publish'], day: string): Promise<void> {
  await publish('town', 'events', mode(`${day}T17:00:00.000Z`, 'staffed', 'open-access'));
  for (const [i, minute] of ['05', '10', '15', '20'].entries()) {
    const at = `${day}T18:${minute}:00.000Z`;
    await publish('town', 'events', accessEvent({ id: ulid(Date.parse(at)), at, person: `0000000${i}`, ageBand: i === 0 ? 'child' : 'adult' }));
    await publish('town', 'events', occupancyEvent(i + 1, `${day}T18:${minute}:05.000Z`));
  }
  for (const [i, reason] of (['expired', 'blocked'] as const).entries()) {
    const at = `${day}T19:0${i}:00.000Z`;
    await publish('town', 'events', accessEvent({ id: ulid(Date.parse(at)), at, decision: 'refused', reason, person: `1000000${i}` }));
  }
}

function figures(store: ReturnType<typeof centralParts>['history'], day: string) {
  return countFigures(store, dayRange(day, day, 'Europe/London'), { by: 'hour', timezone: 'Europe/London' });
}

function persons(store: ReturnType<typeof centralParts>['store'], day: string): Array<string | null> {
  return store
    .recentEvents('town', { limit: 100, type: 'access' })
    .filter(({ event }) => event.at.startsWith(day))
    .map(({ event }) => (event as { person: string | null }).person);
}

describe('person-level retention at central', () => {
  it('blanks the pseudonyms of events older than the period, keeps newer ones, and leaves the figures unchanged', async () => {
    const { publish, store, history } = centralParts(new Date('2025-06-02T09:00:00.000Z'));
    await evening(publish, OLD_DAY);
    await evening(publish, RECENT_DAY);
    const before = { old: await figures(history, OLD_DAY), recent: await figures(history, RECENT_DAY) };
    expect(before.old.visits.reduce((n, row) => n + row.openAccess, 0)).toBe(4);
    expect(before.old.refusals).toHaveLength(2);

    let turns = 0;
    const cutoff = new Date(Date.parse('2025-06-02T09:00:00.000Z') - 30 * DAY_MS);
    const blanked = await forgetPersonsBefore(history, cutoff, { batch: 4, yieldToLoop: async () => void turns++ });

    expect(blanked).toBe(6);
    expect(turns).toBeGreaterThan(0); // a long backlog goes in batches, the loop turning between them
    expect(persons(store, OLD_DAY)).toEqual([null, null, null, null, null, null]);
    expect(persons(store, RECENT_DAY)).toHaveLength(6);
    expect(persons(store, RECENT_DAY)).not.toContain(null);
    expect(await figures(history, OLD_DAY)).toEqual(before.old);
    expect(await figures(history, RECENT_DAY)).toEqual(before.recent);
    expect(store.eventCount()).toBe(2 * (1 + 4 + 4 + 2));
    // The next day's pass finds nothing left to blank before the same cutoff.
    expect(await forgetPersonsBefore(history, cutoff)).toBe(0);
  });

  it('stops between batches when central is stopping', async () => {
    const { publish, store, history } = centralParts();
    await evening(publish, OLD_DAY);
    let stopping = false;
    const blanked = await forgetPersonsBefore(history, new Date(`${RECENT_DAY}T00:00:00.000Z`), {
      batch: 2,
      yieldToLoop: async () => void (stopping = true),
      stopped: () => stopping,
    });
    expect(blanked).toBe(2);
    expect(persons(store, OLD_DAY).filter((p) => p === null)).toHaveLength(2);
  });
});

describe('store.personRetentionDays', () => {
  const storeErrors = (store: unknown): string[] => {
    try {
      parseCentralConfig({ store });
      return [];
    } catch (error) {
      if (!(error instanceof CentralConfigError)) throw error;
      return error.errors.filter((line) => line.startsWith('store.'));
    }
  };

  it('is 30 days unless set, and takes 1 to 400 whole days', async () => {
    expect(parseCentralConfig({}).store.personRetentionDays).toBe(30);
    expect(parseCentralConfig({ store: { personRetentionDays: 7 } }).store.personRetentionDays).toBe(7);
    expect(storeErrors({ personRetentionDays: 1 })).toEqual([]);
    expect(storeErrors({ personRetentionDays: 400 })).toEqual([]);
    expect(storeErrors({ personRetentionDays: 0 })).toEqual([expect.stringMatching(/^store\.personRetentionDays: /)]);
    expect(storeErrors({ personRetentionDays: 401 })).toEqual([expect.stringMatching(/^store\.personRetentionDays: /)]);
    expect(storeErrors({ personRetentionDays: 2.5 })).toEqual([expect.stringMatching(/^store\.personRetentionDays: /)]);
    expect(storeErrors({ personRetentionDays: '30' })).toEqual([expect.stringMatching(/^store\.personRetentionDays: /)]);
  });
});
