// Central's `sites` and `regions`: what the dashboard calls each branch and groups it under, the mistakes the config
// names, the worst alarm a tile is ordered by, and the Figures page's region.
import { describe, expect, it } from 'vitest';
import { CentralConfigError, parseCentralConfig } from '../../../central/config.js';
import { countFigures, dayRange } from '../../../central/figures.js';
import { siteDirectory, siteSummary } from '../../../central/http/summary.js';
import { occupancyEvent, stateFixture } from '../contract/fixtures.js';
import { centralParts } from './helpers.js';

function configErrors(input: unknown): string[] {
  try {
    parseCentralConfig(input);
    return [];
  } catch (error) {
    if (!(error instanceof CentralConfigError)) throw error;
    return error.errors;
  }
}

describe("central's sites and regions", () => {
  it('names and places a branch from either section; a branch named in neither is in Other', async () => {
    const config = parseCentralConfig({
      sites: { town: { name: 'Town Library', region: 'North' }, hub: { name: 'The Hub' } },
      regions: { North: ['village'], South: ['hub'] },
    });
    const directory = siteDirectory(config);
    expect(['town', 'village', 'hub', 'castle'].map((id) => [directory.nameOf(id), directory.regionOf(id)])).toEqual([
      ['Town Library', 'North'],
      [null, 'North'],
      ['The Hub', 'South'],
      [null, 'Other'],
    ]);
    // A site id that is also an Object.prototype key is just an unnamed branch.
    expect([directory.nameOf('constructor'), directory.regionOf('constructor')]).toEqual([null, 'Other']);
  });

  it('names the path of every mistake: a bad site id, an empty name, an unknown key, a branch in two regions', async () => {
    expect(configErrors({ sites: { 'Town Library': { name: 'Town' }, town: { name: ' ', colour: 'red' } } })).toEqual([
      'sites["Town Library"]: must be a site id: lower case letters, digits and dashes (at most 63)',
      'sites.town.name: must not be empty',
      'sites.town.colour: unknown key',
    ]);
    expect(configErrors({ regions: { North: ['town', 'Hub'] } })).toEqual(['regions.North[1]: must be lower case letters, digits and dashes (at most 63)']);
    expect(configErrors({ sites: { town: { region: 'South' } }, regions: { North: ['village', 'town'], South: ['village'] } })).toEqual([
      'regions.North[1]: town is in region "South" already: a branch is in one region',
      'regions.South[0]: village is in region "North" already: a branch is in one region',
    ]);
    // Saying the same twice is no mistake.
    expect(configErrors({ sites: { town: { region: 'North' } }, regions: { North: ['town'] } })).toEqual([]);
  });

  it("gives a tile its name, its region and its worst alarm's severity (an alarm central does not know is a warning)", async () => {
    const { publish, store } = centralParts();
    const directory = siteDirectory(parseCentralConfig({ sites: { town: { name: 'Town Library', region: 'North' } } }));
    const tile = async (alarms: string[]) => {
      await publish('town', 'state', { ...stateFixture(), alarms });
      return siteSummary(store.site('town')!, directory);
    };
    expect(await tile([])).toMatchObject({ id: 'town', name: 'Town Library', region: 'North', severity: null });
    expect(await tile(['sound-failed'])).toMatchObject({ severity: 'minor' });
    expect(await tile(['sound-failed', 'smoke-detected'])).toMatchObject({ severity: 'warning' });
    expect(await tile(['held-open', 'fire', 'smoke-detected'])).toMatchObject({ severity: 'critical' });
    // Without a directory (a test's central): unnamed, in Other.
    expect(siteSummary(store.site('town')!)).toMatchObject({ name: null, region: 'Other' });
  });

  it("counts a region's figures from its branches alone", async () => {
    const { publish, history } = centralParts();
    for (const [site, entries] of [['town', 3], ['village', 2], ['castle', 1]] as const) {
      for (let i = 0; i < entries; i++) await publish(site, 'events', { ...occupancyEvent(i + 1, `2025-06-01T10:0${i}:00.000Z`, site, 'entry'), mode: 'open-access' });
    }
    const { regionOf } = siteDirectory(parseCentralConfig({ regions: { North: ['town', 'village'] } }));
    const range = dayRange('2025-06-01', '2025-06-01', 'Europe/London');
    const totals = async (name?: string) =>
      (await countFigures(history, range, { by: 'day', timezone: 'Europe/London', region: name === undefined ? undefined : { name, of: regionOf } })).visits.map((v) => [v.site, v.total]);
    expect(await totals()).toEqual([['castle', 1], ['town', 3], ['village', 2]]);
    expect(await totals('North')).toEqual([['town', 3], ['village', 2]]);
    expect(await totals('Other')).toEqual([['castle', 1]]);
    expect(await totals('South')).toEqual([]);
  });
});
