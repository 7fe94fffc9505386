import { describe, expect, it } from 'vitest';
import { dayRange, refusals, toCsv, visits } from '../../../central/figures.js';
import { ulid } from '../../../policies/contract/index.js';
import { accessEvent, occupancyEvent } from '../contract/fixtures.js';
import { centralParts } from './helpers.js';

function mode(site: string, at: string, from: string, to: string) {
  return { id: ulid(Date.parse(at)), at, site, type: 'mode', from, to, until: null };
}

describe('figures', () => {
  it('counts visits per day and hour, split by the mode at that moment, in local time', () => {
    const { publish, store } = centralParts();
    // 1 June 2025 is BST (UTC+1): 08:30Z is 09:30 local.
    publish('town', 'events', mode('town', '2025-05-31T16:00:00.000Z', 'staffed', 'closed'));
    publish('town', 'events', mode('town', '2025-06-01T08:00:00.000Z', 'closed', 'staffed'));
    publish('town', 'events', mode('town', '2025-06-01T12:00:00.000Z', 'staffed', 'open-access'));
    publish('town', 'events', occupancyEvent(1, '2025-06-01T08:30:00.000Z'));
    publish('town', 'events', occupancyEvent(2, '2025-06-01T08:40:00.000Z', 'town', 'tailgate'));
    publish('town', 'events', occupancyEvent(1, '2025-06-01T08:50:00.000Z', 'town', 'exit'));
    publish('town', 'events', occupancyEvent(2, '2025-06-01T13:10:00.000Z'));
    publish('town', 'events', occupancyEvent(1, '2025-06-01T23:30:00.000Z')); // 00:30 local on 2 June
    publish('village', 'events', occupancyEvent(1, '2025-06-01T10:00:00.000Z', 'village'));

    const range = dayRange('2025-06-01', '2025-06-02', 'Europe/London');
    expect(visits(store, range, { by: 'day', timezone: 'Europe/London' })).toEqual([
      { site: 'town', period: '2025-06-01', staffed: 2, openAccess: 1, other: 0, total: 3 },
      { site: 'town', period: '2025-06-02', staffed: 0, openAccess: 1, other: 0, total: 1 },
      { site: 'village', period: '2025-06-01', staffed: 0, openAccess: 0, other: 1, total: 1 },
    ]);
    const hours = visits(store, range, { by: 'hour', timezone: 'Europe/London', site: 'town' });
    expect(hours.map((h) => [h.period, h.total])).toEqual([
      ['2025-06-01T09', 2],
      ['2025-06-01T14', 1],
      ['2025-06-02T00', 1],
    ]);
  });

  it('counts refusals by reason and writes CSV a spreadsheet cannot mistake for formulas', () => {
    const { publish, store } = centralParts();
    publish('town', 'events', accessEvent({ decision: 'refused', reason: 'expired' }));
    publish('town', 'events', accessEvent({ decision: 'refused', reason: 'expired' }));
    publish('town', 'events', accessEvent({ decision: 'refused', reason: 'full' }));
    publish('town', 'events', accessEvent());
    const rows = refusals(store, dayRange('2025-06-02', '2025-06-02', 'Europe/London'));
    expect(rows).toEqual([
      { site: 'town', reason: 'expired', count: 2 },
      { site: 'town', reason: 'full', count: 1 },
    ]);
    expect(toCsv(rows, ['site', 'reason', 'count'])).toBe('site,reason,count\r\ntown,expired,2\r\ntown,full,1\r\n');
    expect(toCsv([{ a: '=SUM(A1)', b: 'x,y' }], ['a', 'b'])).toBe(`a,b\r\n"'=SUM(A1)","x,y"\r\n`);
  });
});
