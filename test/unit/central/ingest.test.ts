import { describe, expect, it } from 'vitest';
import { accessEvent, occupancyEvent, stateFixture } from '../contract/fixtures.js';
import { centralParts } from './helpers.js';

describe('central ingest', () => {
  it('stores an event once however often it arrives', () => {
    const { publish, store, ingest } = centralParts();
    const e = occupancyEvent(5);
    publish('town', 'events', e);
    publish('town', 'events', e);
    publish('town', 'events', e);
    expect(store.eventCount()).toBe(1);
    expect(ingest.stats).toMatchObject({ received: 3, stored: 1, duplicates: 2, rejected: 0 });
    expect(store.recentEvents('town', { limit: 10 }).map((x) => x.event)).toEqual([e]);
  });

  it('logs, counts and stores nothing for a bad payload, on every topic, and keeps going', () => {
    const { publish, store, ingest } = centralParts();
    publish('town', 'events', 'not json');
    publish('town', 'events', { ...accessEvent(), reason: 'because' });
    publish('town', 'state', { ...stateFixture(), occupancy: { inside: -2, capacity: null } });
    publish('town', 'availability', { state: 'maybe', at: 'now' });
    publish('town', 'policy', { version: 0 });
    publish('town', 'commandReply', { ok: 'yes' });
    // A site may not speak for another one.
    publish('town', 'events', { ...occupancyEvent(1), site: 'village' });
    ingest.handle({ topic: 'oa/v1/sites/town/secrets', payload: Buffer.from('{}'), retain: false });
    expect(ingest.stats.rejected).toBe(8);
    expect(ingest.stats.stored).toBe(0);
    expect(store.eventCount()).toBe(0);
    expect(store.sites()).toEqual([]);
    expect(ingest.stats.lastRejections[1]).toMatchObject({ topic: 'oa/v1/sites/town/events', errors: ['site: "village" does not match the topic\'s site "town"'] });
    expect(ingest.stats.lastRejections.find((r) => r.topic.endsWith('/state'))?.errors).toEqual([expect.stringMatching(/^occupancy\.inside: must be at least 0/)]);

    publish('town', 'events', occupancyEvent(1));
    expect(store.eventCount()).toBe(1);
  });

  it('keeps the latest state, online/offline with since when, and occupancy samples', () => {
    const { publish, store, clock, bus } = centralParts();
    const changed: string[] = [];
    bus.on('site', (s) => changed.push(s));
    publish('town', 'availability', { state: 'online', at: '2025-06-02T09:00:00.000Z' }, true);
    publish('town', 'state', stateFixture({ at: '2025-06-02T09:29:00.000Z', occupancy: { inside: 3, capacity: 40 } }));
    // An older state arriving late does not win.
    publish('town', 'state', stateFixture({ at: '2025-06-02T09:10:00.000Z', occupancy: { inside: 1, capacity: 40 } }));
    let site = store.site('town');
    expect(site).toMatchObject({ online: true, since: '2025-06-02T09:00:00.000Z', state: { occupancy: { inside: 3 } } });

    clock.set(new Date('2025-06-02T09:45:00.000Z'));
    publish('town', 'availability', { state: 'offline', at: '2025-06-02T09:00:00.000Z' });
    site = store.site('town');
    expect(site).toMatchObject({ online: false, since: '2025-06-02T09:45:00.000Z' });
    expect(changed).toEqual(['town', 'town', 'town', 'town']);

    publish('town', 'events', occupancyEvent(4, '2025-06-02T09:40:00.000Z'));
    const samples = store.occupancy('town', new Date('2025-06-02T00:00:00Z'), new Date('2025-06-02T23:00:00Z'));
    expect(samples.map((s) => [s.at, s.inside])).toEqual([
      ['2025-06-02T09:10:00.000Z', 1],
      ['2025-06-02T09:29:00.000Z', 3],
      ['2025-06-02T09:40:00.000Z', 4],
    ]);
  });

  it('keeps the policy the broker holds, and ignores an empty (cleared) retained message', () => {
    const { publish, store, ingest } = centralParts();
    publish('town', 'policy', { version: 3, site: 'town', schedule: {} }, true);
    publish('town', 'policy', '', true);
    expect(store.policy('town')).toMatchObject({ version: 3 });
    expect(ingest.stats.ignored).toBe(1);
  });
});
