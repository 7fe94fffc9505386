import { describe, expect, it } from 'vitest';
import { CONTRACT_MINOR, type ReceivedEvent } from '../../../policies/contract/index.js';
import { accessEvent, AT, eventId, occupancyEvent, stateFixture } from '../contract/fixtures.js';
import { centralApp, centralParts } from './helpers.js';

describe('central ingest', () => {
  it('stores an event once however often it arrives', async () => {
    const { publish, store, ingest } = centralParts();
    const e = occupancyEvent(5);
    await publish('town', 'events', e);
    await publish('town', 'events', e);
    await publish('town', 'events', e);
    expect(store.eventCount()).toBe(1);
    expect(ingest.stats).toMatchObject({ received: 3, stored: 1, duplicates: 2, rejected: 0 });
    // Read as 1.0: it has no `v`.
    expect(store.recentEvents('town', { limit: 10 }).map((x) => x.event)).toEqual([{ ...e, v: 0 }]);
  });

  it('logs, counts and stores nothing for a bad payload, on every topic, and keeps going', async () => {
    const { publish, store, ingest } = centralParts();
    await publish('town', 'events', 'not json');
    await publish('town', 'events', { ...accessEvent(), reason: 'Because!' });
    await publish('town', 'state', { ...stateFixture(), occupancy: { inside: -2, capacity: null } });
    await publish('town', 'availability', { state: 'maybe', at: 'now' });
    await publish('town', 'policy', { version: 0 });
    await publish('town', 'commandReply', { ok: 'yes' });
    // A site may not speak for another one.
    await publish('town', 'events', { ...occupancyEvent(1), site: 'village' });
    await ingest.handle({ topic: 'oa/v1/sites/town/secrets', payload: Buffer.from('{}'), retain: false });
    expect(ingest.stats.rejected).toBe(8);
    expect(ingest.stats.stored).toBe(0);
    expect(store.eventCount()).toBe(0);
    expect(store.sites()).toEqual([]);
    expect(ingest.stats.lastRejections[1]).toMatchObject({ topic: 'oa/v1/sites/town/events', errors: ['site: "village" does not match the topic\'s site "town"'] });
    expect(ingest.stats.lastRejections.find((r) => r.topic.endsWith('/state'))?.errors).toEqual([expect.stringMatching(/^occupancy\.inside: must be at least 0/)]);

    await publish('town', 'events', occupancyEvent(1));
    expect(store.eventCount()).toBe(1);
  });

  it('keeps the latest state, online/offline with since when, and occupancy samples', async () => {
    const { publish, store, clock, bus } = centralParts();
    const changed: string[] = [];
    bus.on('site', (s) => changed.push(s));
    await publish('town', 'availability', { state: 'online', at: '2025-06-02T09:00:00.000Z' }, true);
    await publish('town', 'state', stateFixture({ at: '2025-06-02T09:29:00.000Z', occupancy: { inside: 3, capacity: 40 } }));
    // An older state arriving late does not win.
    await publish('town', 'state', stateFixture({ at: '2025-06-02T09:10:00.000Z', occupancy: { inside: 1, capacity: 40 } }));
    let site = store.site('town');
    expect(site).toMatchObject({ online: true, since: '2025-06-02T09:00:00.000Z', state: { occupancy: { inside: 3 } } });

    clock.set(new Date('2025-06-02T09:45:00.000Z'));
    await publish('town', 'availability', { state: 'offline', at: '2025-06-02T09:00:00.000Z' });
    site = store.site('town');
    expect(site).toMatchObject({ online: false, since: '2025-06-02T09:45:00.000Z' });
    expect(changed).toEqual(['town', 'town', 'town', 'town']);

    await publish('town', 'events', occupancyEvent(4, '2025-06-02T09:40:00.000Z'));
    const samples = store.occupancy('town', new Date('2025-06-02T00:00:00Z'), new Date('2025-06-02T23:00:00Z'));
    expect(samples.map((s) => [s.at, s.inside])).toEqual([
      ['2025-06-02T09:10:00.000Z', 1],
      ['2025-06-02T09:29:00.000Z', 3],
      ['2025-06-02T09:40:00.000Z', 4],
    ]);
  });

  it('takes its own published policy back quietly, refuses one it did not publish without moving its sequence, and ignores an empty one', async () => {
    const { publish, store, ingest } = centralParts();
    const doc = { version: 3, site: 'town', schedule: {} };
    store.setPolicy('town', 3, doc, new Date());
    await publish('town', 'policy', doc, true);
    expect(ingest.stats).toMatchObject({ ignored: 1, rejected: 0 });
    // A retained policy someone else put there, with a number that would end central's sequence, or other content.
    await publish('town', 'policy', { ...doc, version: 2 ** 31 - 1 }, true);
    await publish('town', 'policy', { ...doc, name: 'Forged' }, true);
    await publish('village', 'policy', { ...doc, site: 'village' }, true);
    expect(ingest.stats.rejected).toBe(3);
    expect(ingest.stats.lastRejections.map((r) => r.errors[0])).toEqual([
      'version: 3 is not a version central published (none for this site)',
      '(root): version 3 holds other content than the version central published',
      'version: 2147483647 is not the version central published (3)',
    ]);
    expect(store.policy('town')).toMatchObject({ version: 3, doc });
    expect(store.policy('village')).toBeNull();
    await publish('town', 'policy', '', true);
    expect(ingest.stats.ignored).toBe(2);
  });

  it("stores a newer gateway's state with an alarm, a mode and a field it does not know, and shows them as unknown", async () => {
    const { publish, ingest, store, app, api } = await centralApp();
    try {
      const newer = {
        ...stateFixture(),
        v: CONTRACT_MINOR + 1,
        mode: 'quiet-hours',
        alarms: ['fire', 'smoke-detected'],
        solar: { watts: 120 },
      };
      await publish('town', 'state', newer);
      expect(ingest.stats).toMatchObject({ received: 1, stored: 1, rejected: 0 });
      const state = store.site('town')?.state;
      expect(state).toMatchObject({ mode: 'quiet-hours', alarms: ['fire', 'smoke-detected'], v: CONTRACT_MINOR + 1 });
      expect(state).not.toHaveProperty('solar');

      const tile = (await api('/api/sites/town')).json();
      expect(tile).toMatchObject({
        id: 'town',
        contract: `1.${CONTRACT_MINOR + 1}`,
        unknown: { alarm: ['smoke-detected'], mode: ['quiet-hours'] },
        state: { alarms: ['fire', 'smoke-detected'], mode: 'quiet-hours' },
      });
      expect((await api('/api/sites')).json().sites).toEqual([tile]);
    } finally {
      await app.close();
      store.close();
    }
  });

  it("takes a 1.0 gateway's messages, without `v`, as 1.0", async () => {
    const { publish, ingest, store, app, api } = await centralApp();
    try {
      await publish('town', 'availability', { state: 'online', at: AT }, true);
      await publish('town', 'state', stateFixture({ alarms: ['fire'] }));
      await publish('town', 'events', occupancyEvent(2));
      await publish('town', 'commandReply', { ok: true });
      expect(ingest.stats).toMatchObject({ received: 4, rejected: 0 });
      expect(store.eventCount()).toBe(1);
      expect((await api('/api/sites/town')).json()).toMatchObject({ online: true, contract: '1.0', unknown: {}, state: { alarms: ['fire'] } });
    } finally {
      await app.close();
      store.close();
    }
  });

  it('stores an event of a type it does not know whole, and one naming an alarm it does not know, and passes both on', async () => {
    const { publish, ingest, store, bus } = centralParts();
    const seen: ReceivedEvent[] = [];
    bus.on('event', (e) => seen.push(e));
    const reading = { id: eventId(), at: AT, site: 'town', v: CONTRACT_MINOR + 1, type: 'air-quality', sensor: 'reading-room', co2ppm: 900 };
    const alarm = { id: eventId(), at: AT, site: 'town', type: 'alarm', alarm: 'smoke-detected', state: 'raised', zone: 'stacks' };
    await publish('town', 'events', reading);
    await publish('town', 'events', alarm);
    expect(ingest.stats).toMatchObject({ stored: 2, rejected: 0 });
    const { zone: _dropped, ...known } = alarm;
    expect(store.recentEvents('town', { limit: 10 }).map((x) => x.event)).toEqual([{ ...known, v: 0 }, reading]);
    expect(store.recentEvents('town', { limit: 10, type: 'air-quality' }).map((x) => x.event)).toEqual([reading]);
    expect(seen).toEqual([reading, { ...known, v: 0 }]);
  });

  it('refuses an event of a known type with what is wrong with it, not that it matches no form', async () => {
    const { publish, ingest, store } = centralParts();
    const { inside: _inside, ...noInside } = occupancyEvent(1) as Extract<ReceivedEvent, { type: 'occupancy' }>;
    await publish('town', 'events', noInside);
    await publish('town', 'events', { ...occupancyEvent(1), type: 'Coffee Break' });
    expect(store.eventCount()).toBe(0);
    expect(ingest.stats.lastRejections.map((r) => r.errors)).toEqual([[expect.stringMatching(/^type: must be a name/)], ['inside: required']]);
  });
});

describe('central ingest when its store fails', () => {
  it('leaves the message unacknowledged, says once that the store fails and once that it is back, and stores the resend', async () => {
    const { history, bus, ingest, store } = centralParts();
    const said: unknown[] = [];
    bus.on('store', (change) => said.push(change));
    const insert = history.insertEvents.bind(history);
    let full = true;
    history.insertEvents = async (items) => {
      if (full) throw new Error('SQLITE_FULL: database or disk is full');
      return insert(items);
    };
    const message = (e: object) => ({ topic: 'oa/v1/sites/town/events', payload: Buffer.from(JSON.stringify(e)), retain: false });
    const first = occupancyEvent(1);
    const second = occupancyEvent(2);

    await expect(ingest.handle(message(first))).rejects.toThrow('SQLITE_FULL');
    await expect(ingest.handle(message(second))).rejects.toThrow('SQLITE_FULL');
    expect(said).toEqual([{ ok: false, error: 'SQLITE_FULL: database or disk is full' }]);
    expect(ingest.stats).toMatchObject({ storeFailures: 2, stored: 0, rejected: 0 });

    full = false;
    await ingest.handle(message(first));
    await ingest.handle(message(second));
    expect(said).toEqual([{ ok: false, error: 'SQLITE_FULL: database or disk is full' }, { ok: true }]);
    expect(store.eventCount()).toBe(2);
  });
});
