// The dashboard's own JavaScript (central/public/common.js), without a browser: its names for the contract's open
// lists, and a tile built from what the API says about a branch whose gateway is newer than central.
import { describe, expect, it } from 'vitest';
import { ACCESS_REASONS, ALARM_NAMES, BRANCH_MODES, CONTRACT_MINOR, DOOR_STATES } from '../../../policies/contract/index.js';
import { stateFixture } from '../contract/fixtures.js';
import { centralCommonJsPerFile, type FakeElement } from '../../helpers/central-common-js.js';
import { centralApp } from './helpers.js';

interface Common {
  ALARM_LABELS: Record<string, string>;
  MODE_LABELS: Record<string, string>;
  DOOR_LABELS: Record<string, string>;
  ACCESS_REASONS: string[];
  nameOf(known: Record<string, string> | string[], name: string, what: string): string;
  renderTile(site: unknown, options?: { link?: boolean; now?: Date }): FakeElement;
}

const common = centralCommonJsPerFile<Common>();

describe('dashboard names', () => {
  it("has a label for every name the contract knows, and central's list of access reasons is the contract's", async () => {
    expect(Object.keys(common.ALARM_LABELS).sort()).toEqual([...ALARM_NAMES].sort());
    expect(Object.keys(common.MODE_LABELS).sort()).toEqual([...BRANCH_MODES].sort());
    expect(Object.keys(common.DOOR_LABELS).sort()).toEqual([...DOOR_STATES].sort());
    expect(common.ACCESS_REASONS).toEqual([...ACCESS_REASONS]);
    expect(common.ALARM_LABELS.storage).toBe('Storage not writable');
  });

  it('shows a name it does not know as it came, marked unknown', async () => {
    expect(common.nameOf(common.ALARM_LABELS, 'fire', 'alarm')).toBe('Fire alarm');
    expect(common.nameOf(common.ALARM_LABELS, 'smoke-detected', 'alarm')).toBe('Unknown alarm: smoke-detected');
    // A slug that is also an Object.prototype key is still just a name.
    expect(common.nameOf(common.ALARM_LABELS, 'constructor', 'alarm')).toBe('Unknown alarm: constructor');
    expect(common.nameOf(common.ACCESS_REASONS, 'expired', 'reason')).toBe('expired');
    expect(common.nameOf(common.ACCESS_REASONS, 'card-cloned', 'reason')).toBe('Unknown reason: card-cloned');
  });

  it("draws the tile of a newer gateway's state: known alarms by label, unknown ones and an unknown mode by name", async () => {
    const { publish, app, store, api } = await centralApp();
    try {
      await publish('town', 'state', { ...stateFixture(), v: CONTRACT_MINOR + 1, mode: 'quiet-hours', alarms: ['fire', 'smoke-detected'], solar: { watts: 1 } });
      const site = (await api('/api/sites/town')).json();
      const texts = common.renderTile(site, { now: new Date('2025-06-02T09:30:00.000Z') }).texts();
      expect(texts).toEqual(expect.arrayContaining(['Fire alarm', 'Unknown alarm: smoke-detected', expect.stringMatching(/^Unknown mode: quiet-hours until /)]));
      expect(texts).toContain(`Gateway speaks contract 1.${CONTRACT_MINOR + 1}: update central to name everything it sends.`);
    } finally {
      await app.close();
      store.close();
    }
  });

  it("draws an estimated count as ≈ N with the console's note, the last motion on central's clock, and each door of a branch with several", async () => {
    const { publish, app, store, api } = await centralApp();
    try {
      await publish('town', 'state', stateFixture({
        occupancy: { inside: 3, capacity: 40, confidence: 'estimated', motionAt: '2025-06-02T09:27:00.000Z' },
        door: 'locked',
        doors: [
          { id: 'main', state: 'locked' },
          { id: 'meeting-room', state: 'open' },
        ],
      }));
      await publish('village', 'state', stateFixture({ site: 'village', occupancy: { inside: 2, capacity: null, confidence: 'counted', motionAt: null } }));
      const sites = (await api('/api/sites')).json() as { sites: Array<{ id: string; state: { occupancy: unknown; doors?: unknown } }> };
      const town = sites.sites.find((s) => s.id === 'town');
      // Through central's store and API unchanged: the page has what the gateway said.
      expect(town?.state.occupancy).toEqual({ inside: 3, capacity: 40, confidence: 'estimated', motionAt: '2025-06-02T09:27:00.000Z' });
      expect(town?.state.doors).toEqual([
        { id: 'main', state: 'locked' },
        { id: 'meeting-room', state: 'open' },
      ]);

      const now = new Date('2025-06-02T09:30:00.000Z');
      const townTexts = common.renderTile(town, { now }).texts();
      expect(townTexts).toEqual(expect.arrayContaining(['≈ 3 / 40', 'Estimated: some comings and goings were not seen.', 'Motion', '3 min ago', 'Doors', 'main locked', 'meeting-room open']));
      expect(townTexts).not.toContain('Door');

      const villageTexts = common.renderTile(sites.sites.find((s) => s.id === 'village'), { now }).texts();
      expect(villageTexts).toEqual(expect.arrayContaining(['2', 'Not seen since the gateway started', 'Door', 'Locked']));
      expect(villageTexts.join(' ')).not.toMatch(/≈|Estimated/);
    } finally {
      await app.close();
      store.close();
    }
  });
});
