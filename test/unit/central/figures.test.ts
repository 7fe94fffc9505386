// The figures from seeded events against hand-counted truth: every event goes in through central's real ingest,
// as a branch's would.
import { describe, expect, it } from 'vitest';
import { countFigures, dayRange, refusals, toCsv, visits } from '../../../central/figures.js';
import { monthlyReport } from '../../../central/monthly-report.js';
import { ulid, type GatewayEvent, type OCCUPANCY_CHANGES } from '../../../policies/contract/index.js';
import { accessEvent, occupancyEvent } from '../contract/fixtures.js';
import { centralParts } from './helpers.js';

const TZ = 'Europe/London';

function mode(site: string, at: string, from: string, to: string) {
  return { id: ulid(Date.parse(at)), at, site, type: 'mode', from, to, until: null };
}

/** An occupancy event as a 1.8 gateway sends it: the mode at that instant, and the grant an entry followed. */
function counted(change: (typeof OCCUPANCY_CHANGES)[number], at: string, extra: Record<string, unknown> = {}, site = 'town'): GatewayEvent {
  return { ...occupancyEvent(1, at, site, change), ...extra } as GatewayEvent;
}

function granted(at: string, extra: Partial<Extract<GatewayEvent, { type: 'access' }>> = {}): GatewayEvent {
  return accessEvent({ id: ulid(Date.parse(at)), at, ...extra });
}

describe('figures', () => {
  it('splits visits by the mode on each entry: staffed, open access, group booking; tailgates and exits are not visits', async () => {
    const { publish, history: store } = centralParts();
    // 1 June 2025 is BST (UTC+1). A staffed morning, an open-access afternoon and a group booking in the evening,
    // and no `mode` event at all: the mode is on the entries (contract 1.8).
    await publish('town', 'events', counted('entry', '2025-06-01T08:30:00.000Z', { mode: 'staffed', via: 'contact' }));
    await publish('town', 'events', counted('entry', '2025-06-01T08:31:00.000Z', { mode: 'staffed', via: 'contact' }));
    await publish('town', 'events', counted('exit', '2025-06-01T09:00:00.000Z', { mode: 'staffed' }));
    await publish('town', 'events', counted('entry', '2025-06-01T13:10:00.000Z', { mode: 'open-access', grant: 'member' }));
    // One grant, two people through: two entries from the counter and one tailgate event about them.
    await publish('town', 'events', counted('entry', '2025-06-01T13:20:00.000Z', { mode: 'open-access', grant: 'member', via: 'counter' }));
    await publish('town', 'events', counted('entry', '2025-06-01T13:20:02.000Z', { mode: 'open-access', via: 'counter' }));
    await publish('town', 'events', counted('tailgate', '2025-06-01T13:20:10.000Z', { entries: 2, grants: 1, mode: 'open-access' }));
    await publish('town', 'events', counted('entry', '2025-06-01T18:05:00.000Z', { mode: 'closed', grant: 'booking' }));
    await publish('town', 'events', counted('entry', '2025-06-01T18:06:00.000Z', { mode: 'closed', grant: 'booking' }));
    await publish('town', 'events', counted('entry', '2025-06-01T23:30:00.000Z', { mode: 'closed' })); // 00:30 on 2 June
    // Staff held the door free at a branch with a contact only: two openings it could not count, shown not guessed.
    await publish('town', 'events', counted('uncounted', '2025-06-01T08:40:00.000Z', { mode: 'staffed', via: 'contact', confidence: 'estimated' }));
    await publish('town', 'events', counted('uncounted', '2025-06-01T08:41:00.000Z', { mode: 'staffed', via: 'contact', confidence: 'estimated' }));

    const range = dayRange('2025-06-01', '2025-06-02', TZ);
    const figures = await countFigures(store, range, { by: 'day', timezone: TZ });
    expect(figures.visits).toEqual([
      { site: 'town', period: '2025-06-01', staffed: 2, openAccess: 3, booking: 2, other: 0, total: 7, uncountedOpenings: 2 },
      { site: 'town', period: '2025-06-02', staffed: 0, openAccess: 0, booking: 0, other: 1, total: 1, uncountedOpenings: 0 },
    ]);
    expect(figures.tailgates).toEqual([{ site: 'town', period: '2025-06-01', tailgates: 1, extraPeople: 1 }]);
    const hours = await visits(store, range, { by: 'hour', timezone: TZ });
    expect(hours.map((h) => [h.period, h.total])).toEqual([
      ['2025-06-01T09', 2],
      ['2025-06-01T14', 3],
      ['2025-06-01T19', 2],
      ['2025-06-02T00', 1],
    ]);
  });

  it("finds an older gateway's mode from mode events and the access events, so entries after a start are not 'other'", async () => {
    const { publish, history: store } = centralParts();
    // A gateway before 1.8 started at 08:00 in staffed hours: no `mode` event until 12:00, but its access events
    // state the mode. Entries carry no mode of their own.
    await publish('town', 'events', granted('2025-06-01T08:10:00.000Z', { reason: 'staffed', mode: 'staffed' }));
    await publish('town', 'events', occupancyEvent(1, '2025-06-01T08:15:00.000Z'));
    await publish('town', 'events', occupancyEvent(2, '2025-06-01T08:20:00.000Z'));
    await publish('town', 'events', mode('town', '2025-06-01T12:00:00.000Z', 'staffed', 'open-access'));
    await publish('town', 'events', occupancyEvent(3, '2025-06-01T12:30:00.000Z'));
    await publish('village', 'events', occupancyEvent(1, '2025-06-01T10:00:00.000Z', 'village'));

    expect(await visits(store, dayRange('2025-06-01', '2025-06-01', TZ), { by: 'day', timezone: TZ })).toEqual([
      { site: 'town', period: '2025-06-01', staffed: 2, openAccess: 1, booking: 0, other: 0, total: 3, uncountedOpenings: 0 },
      // Nothing says the village's mode: other, not a guess.
      { site: 'village', period: '2025-06-01', staffed: 0, openAccess: 0, booking: 0, other: 1, total: 1, uncountedOpenings: 0 },
    ]);
  });

  it('counts refusals by reason without the PIN prompts, and writes CSV a spreadsheet cannot mistake for formulas', async () => {
    const { publish, history: store } = centralParts();
    // Three people at a card + PIN branch: each tap asks for the PIN first. One types it right, one wrong, one
    // walks away; and one expired card.
    const taps: Array<[string, 'granted' | 'refused', string]> = [
      ['09:00', 'refused', 'pin-required'],
      ['09:01', 'granted', 'member'],
      ['09:10', 'refused', 'pin-required'],
      ['09:11', 'refused', 'pin-wrong'],
      ['09:20', 'refused', 'pin-required'],
      ['09:30', 'refused', 'expired'],
    ];
    for (const [time, decision, reason] of taps) {
      await publish('town', 'events', granted(`2025-06-02T${time}:00.000Z`, { decision, reason: reason as 'member' }));
    }
    const rows = await refusals(store, dayRange('2025-06-02', '2025-06-02', TZ));
    expect(rows).toEqual([
      { site: 'town', reason: 'expired', count: 1 },
      { site: 'town', reason: 'pin-wrong', count: 1 },
    ]);
    expect(toCsv(rows, ['site', 'reason', 'count'])).toBe('site,reason,count\r\ntown,expired,1\r\ntown,pin-wrong,1\r\n');
    expect(toCsv([{ a: '=SUM(A1)', b: 'x,y' }], ['a', 'b'])).toBe(`a,b\r\n"'=SUM(A1)","x,y"\r\n`);
  });

  it('counts card entries by kind and age band from the access events alone, exit taps left out', async () => {
    const { publish, history: store } = centralParts();
    // The same child twice (one pseudonym): two child entries, whatever links them or not.
    await publish('town', 'events', granted('2025-06-02T09:00:00.000Z', { ageBand: 'adult' }));
    await publish('town', 'events', granted('2025-06-02T09:00:10.000Z', { reason: 'accompanied', ageBand: 'child', person: 'c0c0c0c0' }));
    await publish('town', 'events', granted('2025-06-02T15:00:00.000Z', { reason: 'accompanied', ageBand: 'child', person: 'c0c0c0c0' }));
    await publish('town', 'events', granted('2025-06-02T09:30:00.000Z', { reason: 'staff', ageBand: 'adult' }));
    await publish('town', 'events', granted('2025-06-02T10:00:00.000Z', { reason: 'booking', ageBand: 'adult' }));
    await publish('town', 'events', granted('2025-06-02T11:00:00.000Z')); // a gateway before 1.8: no age band
    await publish('town', 'events', granted('2025-06-02T12:00:00.000Z', { reason: 'exit', reader: 'exit', ageBand: 'adult' }));

    expect((await countFigures(store, dayRange('2025-06-02', '2025-06-02', TZ), { by: 'day', timezone: TZ })).grants).toEqual([
      { site: 'town', kind: 'accompanied', ageBand: 'child', count: 2 },
      { site: 'town', kind: 'booking', ageBand: 'adult', count: 1 },
      { site: 'town', kind: 'member', ageBand: 'adult', count: 1 },
      { site: 'town', kind: 'member', ageBand: 'unknown', count: 1 },
      { site: 'town', kind: 'staff', ageBand: 'adult', count: 1 },
    ]);
  });

  it('counts the days of the clock changes in Europe/London as local days of 25 and 23 hours', async () => {
    const { publish, history: store } = centralParts();
    const entry = (at: string) => publish('town', 'events', counted('entry', at, { mode: 'open-access' }));
    // 26 October 2025: 00:00 local is 23:00Z the day before; 01:00–02:00 local happens twice; the day ends at 00:00Z.
    await entry('2025-10-25T22:59:00.000Z'); // 23:59 BST on the 25th
    await entry('2025-10-25T23:00:00.000Z'); // 00:00 BST on the 26th
    await entry('2025-10-26T00:30:00.000Z'); // 01:30 BST
    await entry('2025-10-26T01:30:00.000Z'); // 01:30 GMT, the second time round
    await entry('2025-10-26T23:59:00.000Z'); // 23:59 GMT on the 26th
    await entry('2025-10-27T00:00:00.000Z'); // 00:00 GMT on the 27th
    // 30 March 2025: 01:00 GMT jumps to 02:00 BST; the day ends at 23:00Z.
    await entry('2025-03-30T00:30:00.000Z'); // 00:30 GMT
    await entry('2025-03-30T01:30:00.000Z'); // 02:30 BST
    await entry('2025-03-30T22:59:00.000Z'); // 23:59 BST
    await entry('2025-03-30T23:00:00.000Z'); // 00:00 BST on the 31st

    const autumn = await visits(store, dayRange('2025-10-25', '2025-10-27', TZ), { by: 'day', timezone: TZ });
    expect(autumn.map((r) => [r.period, r.total])).toEqual([
      ['2025-10-25', 1],
      ['2025-10-26', 4],
      ['2025-10-27', 1],
    ]);
    // The repeated hour is one row with both hours' entries; no entry is lost or moved to another day.
    const hours = await visits(store, dayRange('2025-10-26', '2025-10-26', TZ), { by: 'hour', timezone: TZ });
    expect(hours.map((r) => [r.period, r.total])).toEqual([
      ['2025-10-26T00', 1],
      ['2025-10-26T01', 2],
      ['2025-10-26T23', 1],
    ]);
    const spring = await visits(store, dayRange('2025-03-30', '2025-03-31', TZ), { by: 'hour', timezone: TZ });
    expect(spring.map((r) => [r.period, r.total])).toEqual([
      ['2025-03-30T00', 1],
      ['2025-03-30T02', 1],
      ['2025-03-30T23', 1],
      ['2025-03-31T00', 1],
    ]);
  });

  it('counts an event sent twice once, and one arriving hours late in the hour it happened', async () => {
    const { publish, history: store, ingest, clock } = centralParts(new Date('2025-06-02T10:00:00.000Z'));
    const first = counted('entry', '2025-06-02T09:10:00.000Z', { mode: 'open-access', grant: 'member' });
    await publish('town', 'events', first);
    // The gateway did not hear the broker's acknowledgement and sends it again after a reconnect.
    await publish('town', 'events', first);
    const tailgate = counted('tailgate', '2025-06-02T09:10:05.000Z', { entries: 2, grants: 1 });
    await publish('town', 'events', tailgate);
    await publish('town', 'events', tailgate);
    // After an outage the outbox empties at 15:00: an entry from 09:40 arrives five hours late.
    clock.set(new Date('2025-06-02T15:00:00.000Z'));
    await publish('town', 'events', counted('entry', '2025-06-02T09:40:00.000Z', { mode: 'open-access', grant: 'member' }));
    await publish('town', 'events', counted('entry', '2025-06-02T14:59:00.000Z', { mode: 'open-access', grant: 'member' }));

    expect(ingest.stats).toMatchObject({ stored: 4, duplicates: 2, late: 1 });
    const figures = await countFigures(store, dayRange('2025-06-02', '2025-06-02', TZ), { by: 'hour', timezone: TZ });
    expect(figures.visits.map((r) => [r.period, r.openAccess])).toEqual([
      ['2025-06-02T10', 2],
      ['2025-06-02T15', 1],
    ]);
    expect(figures.tailgates).toEqual([{ site: 'town', period: '2025-06-02T10', tailgates: 1, extraPeople: 1 }]);
  });

  it('sums the monthly report from the same figures: every day of the month, per branch and for the estate', async () => {
    const { publish, history: store } = centralParts();
    await publish('town', 'events', counted('entry', '2026-11-02T10:00:00.000Z', { mode: 'staffed' }));
    await publish('town', 'events', counted('entry', '2026-11-02T18:00:00.000Z', { mode: 'open-access', grant: 'member' }));
    await publish('town', 'events', counted('tailgate', '2026-11-02T18:00:05.000Z', { entries: 3, grants: 1 }));
    await publish('village', 'events', counted('entry', '2026-11-30T19:00:00.000Z', { mode: 'closed', grant: 'booking' }, 'village'));
    await publish('village', 'events', counted('entry', '2026-12-01T00:30:00.000Z', { mode: 'open-access' }, 'village')); // December
    await publish('village', 'events', granted('2026-11-30T18:59:00.000Z', { site: 'village', reason: 'booking', ageBand: 'child' }));
    await publish('village', 'events', granted('2026-11-29T18:59:00.000Z', { site: 'village', decision: 'refused', reason: 'expired', ageBand: 'adult' }));
    const now = new Date('2026-12-02T09:00:00.000Z');

    const estate = await monthlyReport(store, { month: '2026-11', timezone: TZ, now });
    expect(estate.days).toHaveLength(30);
    expect(estate.days[1]).toEqual({ date: '2026-11-02', staffed: 1, openAccess: 1, booking: 0, other: 0, total: 2, tailgates: 1, extraPeople: 2, uncountedOpenings: 0 });
    expect(estate.days[29]).toMatchObject({ date: '2026-11-30', booking: 1, total: 1 });
    expect(estate.totals).toEqual({ staffed: 1, openAccess: 1, booking: 1, other: 0, total: 3, tailgates: 1, extraPeople: 2, uncountedOpenings: 0 });
    expect(estate.bySite.map((s) => [s.site, s.total])).toEqual([
      ['town', 2],
      ['village', 1],
    ]);
    expect(estate.refusals).toEqual([{ reason: 'expired', count: 1 }]);
    expect(estate.grantsByKind).toEqual([{ kind: 'booking', count: 1 }]);
    expect(estate.grantsByAgeBand).toEqual([{ ageBand: 'child', count: 1 }]);
    expect(estate).toMatchObject({ month: '2026-11', site: null, generatedAt: '2026-12-02T09:00:00.000Z' });

    const village = await monthlyReport(store, { month: '2026-11', site: 'village', timezone: TZ, now });
    expect(village.totals.total).toBe(1);
    expect(village.bySite.map((s) => s.site)).toEqual(['village']);
  });
});
