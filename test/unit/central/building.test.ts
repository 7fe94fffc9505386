// The building around the door at central (contract 1.9): the branch's outputs, intruder alarm and "secured" through
// central's store and API unchanged; the dashboard tile's "Secured" badge and the branch page's rows, drawn by
// central/public/common.js without a browser; the three new events in words; and the announce phrases' names.
import { describe, expect, it } from 'vitest';
import { CONTRACT_MINOR, INTRUDER_ALARM_STATES, type GatewayEvent } from '../../../policies/contract/index.js';
import { PHRASE_IDS } from '../../../policies/schema.js';
import { AT, eventId, stateFixture } from '../contract/fixtures.js';
import { centralCommonJsPerFile, type FakeElement } from '../../helpers/central-common-js.js';
import { centralAppPerTest } from './helpers.js';

interface Common {
  INTRUDER_ALARM_LABELS: Record<string, string>;
  PHRASE_LABELS: Record<string, string>;
  renderTile(site: unknown, options?: { link?: boolean; now?: Date; timeZone?: string; building?: boolean }): FakeElement;
  describeBuildingEvent(event: unknown, outputs?: unknown[]): [string, string] | null;
}

const common = centralCommonJsPerFile<Common>();

const centralApp = centralAppPerTest();
const NOW = new Date(AT);
const LONDON = 'Europe/London';

/** Closed for the night at 21:00 BST: PCs off, heating on, the panel set since 20:30 BST. */
const SECURED = {
  mode: 'closed' as const,
  occupancy: { inside: 0, capacity: 40 },
  outputs: [
    { id: 'pcs', on: false, label: 'Public PCs' },
    { id: 'heating', on: true },
  ],
  intruderAlarm: { state: 'set' as const, since: '2025-06-02T19:30:00.000Z' },
  secured: true,
};

describe("a branch's building at central", () => {
  it('passes outputs, the intruder alarm and secured through the store and the API as the gateway sent them', async () => {
    const { publish, api } = await centralApp();
    await publish('town', 'state', stateFixture(SECURED));
    const one = (await api('/api/sites/town')).json();
    expect(one.state).toMatchObject({ outputs: SECURED.outputs, intruderAlarm: SECURED.intruderAlarm, secured: true });
    expect(one.unknown).toEqual({});
    const all = (await api('/api/sites')).json();
    expect(all.sites[0].state).toMatchObject({ outputs: SECURED.outputs, intruderAlarm: SECURED.intruderAlarm, secured: true });
  });

  it('the dashboard tile shows a "Secured" badge only; the branch page the intruder alarm, each output and "Secured for the night"', async () => {
    const { publish, api } = await centralApp();
    await publish('town', 'state', stateFixture(SECURED));
    const site = (await api('/api/sites/town')).json();

    const tile = common.renderTile(site, { now: NOW, timeZone: LONDON }).texts();
    expect(tile).toContain('Secured');
    expect(tile).not.toContain('Intruder alarm');

    const page = common.renderTile(site, { link: false, now: NOW, timeZone: LONDON, building: true }).texts();
    expect(page).toEqual(
      expect.arrayContaining(['Secured', 'Intruder alarm', 'Set since 20:30', 'Outputs', 'Public PCs off', 'heating on', 'Secured for the night: closed, nobody inside, intruder alarm set.']),
    );
  });

  it('a branch without a panel or outputs shows none of it; a panel on its way says so; a newer state is marked unknown', async () => {
    const { publish, api } = await centralApp();
    await publish('town', 'state', stateFixture());
    await publish('village', 'state', stateFixture({ site: 'village', intruderAlarm: { state: 'unsetting', since: null }, secured: false }));
    await publish('hub', 'state', { ...stateFixture({ site: 'hub' }), v: CONTRACT_MINOR + 1, intruderAlarm: { state: 'part-set', since: null } });
    const [hub, town, village] = (await api('/api/sites')).json().sites;

    const plain = common.renderTile(town, { building: true, now: NOW, timeZone: LONDON }).texts().join(' | ');
    expect(plain).not.toMatch(/Secured|Intruder alarm|Outputs/);

    const waiting = common.renderTile(village, { building: true, now: NOW, timeZone: LONDON }).texts();
    expect(waiting).toEqual(expect.arrayContaining(['Intruder alarm', 'Unsetting…']));
    expect(waiting).not.toContain('Secured');

    expect(hub.unknown).toEqual({ intruderAlarm: ['part-set'] });
    expect(common.renderTile(hub, { building: true, now: NOW, timeZone: LONDON }).texts()).toContain('Unknown intruder alarm state: part-set');
  });

  it('takes the three new events and the branch page says them in words', async () => {
    const { publish, api } = await centralApp();
    const events: GatewayEvent[] = [
      { id: eventId(Date.parse(AT) - 3000), at: AT, site: 'town', type: 'output', output: 'pcs', on: false, by: 'schedule' },
      { id: eventId(Date.parse(AT) - 2000), at: AT, site: 'town', type: 'intruder-alarm', action: 'set', outcome: 'failed', by: 'empty after close' },
      { id: eventId(Date.parse(AT) - 1000), at: AT, site: 'town', type: 'announcement', phrase: 'closing-soon', languages: ['cy', 'en'], outcome: 'played' },
    ];
    for (const e of events) await publish('town', 'events', e);
    const listed = (await api('/api/sites/town/events?limit=10')).json().events.map((x: { event: unknown }) => x.event);
    expect(listed.map((e: { type: string }) => e.type).sort()).toEqual(['announcement', 'intruder-alarm', 'output']);
    const words = new Map(listed.map((e: { type: string }) => [e.type, common.describeBuildingEvent(e)]));
    expect(words.get('output')).toEqual(['pcs switched off', 'by the schedule']);
    // By its label where the branch's state gives one.
    expect(common.describeBuildingEvent(listed.find((e: { type: string }) => e.type === 'output'), SECURED.outputs)).toEqual(['Public PCs switched off', 'by the schedule']);
    expect(words.get('intruder-alarm')).toEqual(['Intruder alarm did not set', 'the panel did not confirm · empty after close']);
    expect(words.get('announcement')).toEqual(['Announced: Closing soon (the minutes left)', 'cy, en · played']);
    expect(common.describeBuildingEvent({ type: 'announcement', phrase: 'evacuate', languages: ['en'], outcome: 'failed', detail: 'no sound device' })).toEqual([
      'Announced: Evacuate the building',
      'en · failed: no sound device',
    ]);
    expect(common.describeBuildingEvent({ type: 'announcement', phrase: 'text', languages: ['en'], outcome: 'interrupted', detail: 'The lift is out of order' })).toEqual([
      'Announced: “The lift is out of order”',
      'en · interrupted',
    ]);
    expect(common.describeBuildingEvent({ type: 'door', state: 'open' })).toBeNull();
  });

  it('names every phrase a branch can announce and every intruder alarm state, and the announce command takes a phrase id', async () => {
    expect(Object.keys(common.PHRASE_LABELS).sort()).toEqual([...PHRASE_IDS].sort());
    expect(Object.keys(common.INTRUDER_ALARM_LABELS).sort()).toEqual([...INTRUDER_ALARM_STATES].sort());
    const { api, link, publish } = await centralApp();
    await publish('town', 'state', stateFixture());
    const res = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'announce', text: 'closing-soon' } });
    expect(res.statusCode).toBe(200);
    expect(link.commands).toEqual([expect.objectContaining({ site: 'town', command: 'announce', text: 'closing-soon' })]);
  });
});
