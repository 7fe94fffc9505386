// One behaviour for central's history whatever the engine: every HistoryStore (SQLite, PostgreSQL) runs this suite
// (test/unit/central/history-sqlite.test.ts, test/system/history-postgres.test.ts). Each test is what a user of
// central would see go wrong: an event twice after a resend, a stale state on the dashboard, a chart starting at
// zero, a page of events skipping one, a person's pseudonym kept past retention, a new pseudonym key on restart.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryStore } from '../../central/history/history-store.js';
import type { ReceivedEvent, ReceivedKnownEvent, ReceivedState } from '../../policies/contract/index.js';
import { accessEvent, eventId, occupancyEvent, stateFixture } from '../unit/contract/fixtures.js';

export interface HistoryStoreFixture {
  /** A store on a fresh, empty history. */
  store: HistoryStore;
  /** Another store object on the same database (a second central instance, or the same one restarted). */
  another(): Promise<HistoryStore>;
  /** Closes every store it opened and removes the database. */
  close(): Promise<void>;
}

const T0 = Date.parse('2026-01-31T22:00:00.000Z');
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();
const date = (minutes: number): Date => new Date(T0 + minutes * 60_000);

function access(minutes: number, over: Partial<Extract<ReceivedKnownEvent, { type: 'access' }>> = {}): ReceivedEvent {
  const when = at(minutes);
  return accessEvent({ id: eventId(Date.parse(when)), at: when, ...over } as never) as ReceivedEvent;
}

function occupancy(minutes: number, inside: number, site = 'town'): ReceivedEvent {
  return occupancyEvent(inside, at(minutes), site) as ReceivedEvent;
}

function mode(minutes: number, to: 'open-access' | 'closed' | 'staffed', site = 'town'): ReceivedEvent {
  const when = at(minutes);
  return { id: eventId(Date.parse(when)), at: when, site, type: 'mode', from: 'closed', to, until: null } as ReceivedEvent;
}

function state(minutes: number, inside: number, capacity: number | null = 40, site = 'town'): ReceivedState {
  return stateFixture({ site, at: at(minutes), occupancy: { inside, capacity } }) as ReceivedState;
}

const ids = (events: Array<{ event: ReceivedEvent }>): string[] => events.map((e) => e.event.id);

export function historyStoreSuite(engine: string, open: () => Promise<HistoryStoreFixture>): void {
  describe(`HistoryStore (${engine})`, () => {
    let fx: HistoryStoreFixture;
    let h: HistoryStore;
    beforeEach(async () => {
      fx = await open();
      h = fx.store;
    });
    afterEach(async () => {
      await fx.close();
    });

    it('stores an event once: a resend of it changes nothing and says so', async () => {
      const e = access(1);
      expect(await h.insertEvent(e, date(2))).toBe(true);
      expect(await h.insertEvent(e, date(30))).toBe(false);
      expect(await h.eventCount()).toBe(1);
      const [stored] = await h.recentEvents('town', { limit: 10 });
      expect(stored).toEqual({ event: e, receivedAt: at(2) });
    });

    it('stores a batch of events in one call, saying for each whether it was new: a copy in the batch or stored before is not', async () => {
      await h.setState(state(0, 1, 40), date(0));
      const before = access(1);
      await h.insertEvent(before, date(1));
      // Across a month's end (T0 is 22:00 on 31 January), plain and occupancy events mixed, an unknown type.
      const march = access(120);
      const reading = { id: eventId(T0 + 3 * 60_000), at: at(3), site: 'town', type: 'air-quality', co2: 612 } as unknown as ReceivedEvent;
      const inside = occupancy(130, 2);
      const batch = [access(2), before, march, inside, reading, march, occupancy(131, 3, 'village')];
      const stored = await h.insertEvents(batch.map((event, k) => ({ event, receivedAt: date(200 + k) })));

      expect(stored).toEqual([true, false, true, true, true, false, true]);
      expect(await h.eventCount()).toBe(6);
      expect(await h.event('town', reading.id)).toEqual(reading);
      expect((await h.recentEvents('town', { limit: 10 })).find((e) => e.event.id === march.id)?.receivedAt).toBe(at(202));
      expect(await h.occupancy('town', date(0), date(300))).toEqual([
        { at: at(0), inside: 1, capacity: 40 },
        { at: at(130), inside: 2, capacity: 40 },
      ]);
      expect(await h.occupancy('village', date(0), date(300))).toEqual([{ at: at(131), inside: 3, capacity: null }]);
      expect(await h.insertEvents([])).toEqual([]);
    });

    it('stores nothing of a batch when one of its events cannot be stored, and says so', async () => {
      // A field no store can write (JSON has no BigInt): the events before it in the batch are not kept either.
      const broken = { ...access(5), reading: 10n } as unknown as ReceivedEvent;
      await expect(h.insertEvents([access(1), broken, occupancy(6, 2)].map((event) => ({ event, receivedAt: date(10) })))).rejects.toThrow();
      expect(await h.eventCount()).toBe(0);
      expect(await h.occupancy('town', date(0), date(60))).toEqual([]);
    });

    it('finds one event by its site and id, and no other site\'s', async () => {
      const e = access(1);
      await h.insertEvent(e, date(2));
      expect(await h.event('town', e.id)).toEqual(e);
      expect(await h.event('village', e.id)).toBeNull();
      expect(await h.event('town', access(2).id)).toBeNull();
    });

    it('keeps an event of a type it does not know whole, with all its fields', async () => {
      const when = at(1);
      const e = { id: eventId(Date.parse(when)), at: when, site: 'town', type: 'sauna', temperature: 81.5, note: 'a\u0000b', nested: { a: [1, 2] } };
      expect(await h.insertEvent(e as unknown as ReceivedEvent, date(1))).toBe(true);
      const [stored] = await h.recentEvents('town', { limit: 1 });
      expect(stored?.event).toMatchObject({ id: e.id, type: 'sauna', temperature: 81.5, nested: { a: [1, 2] } });
      expect((stored?.event as unknown as { note: string }).note).toMatch(/^a.b$/);
    });

    it('keeps the latest state of a site: an older one arriving late does not overwrite it', async () => {
      await h.setState(state(10, 5), date(10));
      await h.setState(state(5, 2), date(11));
      const site = await h.site('town');
      expect(site?.state?.at).toBe(at(10));
      expect(site?.state?.occupancy.inside).toBe(5);
      expect(site?.lastSeen).toBe(at(10));
      await h.setState(state(12, 6), date(12));
      expect((await h.site('town'))?.state?.occupancy.inside).toBe(6);
    });

    it('adds an occupancy sample when a state changes the count or the capacity, not when it repeats them', async () => {
      await h.setState(state(0, 3), date(0));
      await h.setState(state(1, 3), date(1));
      await h.setState(state(2, 4), date(2));
      await h.setState(state(3, 4, 50), date(3));
      expect(await h.occupancy('town', date(0), date(60))).toEqual([
        { at: at(0), inside: 3, capacity: 40 },
        { at: at(2), inside: 4, capacity: 40 },
        { at: at(3), inside: 4, capacity: 50 },
      ]);
    });

    it("an occupancy event adds a sample with the site's last known capacity; its resend adds none", async () => {
      await h.setState(state(0, 1, 40), date(0));
      const e = occupancy(5, 2);
      await h.insertEvent(e, date(5));
      await h.insertEvent(occupancy(6, 3, 'village'), date(6));
      await h.insertEvent(e, date(7));
      expect(await h.occupancy('town', date(0), date(60))).toEqual([
        { at: at(0), inside: 1, capacity: 40 },
        { at: at(5), inside: 2, capacity: 40 },
      ]);
      expect(await h.occupancy('village', date(0), date(60))).toEqual([{ at: at(6), inside: 3, capacity: null }]);
    });

    it('a chart of occupancy starts at the level before its window, and ends before its end', async () => {
      await h.setState(state(0, 3), date(0));
      await h.setState(state(30, 7), date(30));
      await h.setState(state(90, 1), date(90));
      expect(await h.occupancy('town', date(20), date(90))).toEqual([
        { at: at(20), inside: 3, capacity: 40 },
        { at: at(30), inside: 7, capacity: 40 },
      ]);
      expect(await h.occupancy('town', date(-60), date(-1))).toEqual([]);
      expect(await h.occupancy('nowhere', date(0), date(100))).toEqual([]);
    });

    it('tells when a site came online or went offline, not when it said so again', async () => {
      await h.setAvailability('town', true, date(0));
      await h.setAvailability('town', true, date(5));
      let site = await h.site('town');
      expect(site).toMatchObject({ online: true, since: at(0), lastSeen: at(5) });
      await h.setAvailability('town', false, date(9));
      site = await h.site('town');
      expect(site).toMatchObject({ online: false, since: at(9), lastSeen: at(9) });
      // availability told late does not move "last seen" back
      await h.setAvailability('town', false, date(7));
      expect((await h.site('town'))?.lastSeen).toBe(at(9));
    });

    it('lists every site by id with its policy version, and finds one', async () => {
      await h.setAvailability('village', true, date(0));
      await h.setState(state(0, 1, 40, 'town'), date(0));
      await h.setAvailability('Hub', true, date(0));
      await h.setPolicy('town', 3, { zone: 'Europe/London', weekly: { mon: [] } }, date(1));
      await h.setPolicy('town', 4, { zone: 'Europe/London' }, date(2));
      const sites = await h.sites();
      // bytewise, as the dashboard pages them: capitals first
      expect(sites.map((s) => s.id)).toEqual(['Hub', 'town', 'village']);
      expect(sites.map((s) => s.policyVersion)).toEqual([null, 4, null]);
      expect(await h.site('town')).toMatchObject({ id: 'town', online: false, since: null, policyVersion: 4 });
      expect(await h.site('nowhere')).toBeNull();
      expect(await h.policy('town')).toEqual({ version: 4, doc: { zone: 'Europe/London' }, seenAt: at(2) });
      expect(await h.policy('village')).toBeNull();
    });

    it('lists events newest first, across months, and pages with `before` without skipping or repeating one', async () => {
      // two events in one millisecond (a tap and its count): ordered by id, the later-made first
      const events = [access(-120), access(0), occupancy(0, 1), access(90), access(24 * 60 * 31), mode(-24 * 60 * 40, 'closed')];
      for (const e of events) await h.insertEvent(e, date(0));
      await h.insertEvent(access(1, { site: 'village' }), date(0));
      const all = await h.recentEvents('town', { limit: 100 });
      const expected = [events[4]!, events[3]!, events[2]!, events[1]!, events[0]!, events[5]!].map((e) => e.id);
      expect(ids(all)).toEqual(expected);
      const page1 = await h.recentEvents('town', { limit: 2 });
      const page2 = await h.recentEvents('town', { limit: 2, before: new Date(page1[1]!.event.at) });
      expect(ids(page1)).toEqual(expected.slice(0, 2));
      // `before` is exclusive: the page after the 90th minute starts at minute 0
      expect(ids(page2)).toEqual(expected.slice(2, 4));
      expect(ids(await h.recentEvents('town', { limit: 10, type: 'occupancy' }))).toEqual([events[2]!.id]);
      expect(ids(await h.recentEvents('town', { limit: 10, type: 'access', before: date(0) }))).toEqual([events[0]!.id]);
    });

    it('gives the events of one type in a window [from, to), in time order, for the figures', async () => {
      const a = access(10);
      const b = access(10, { site: 'village' });
      const c = access(59);
      await h.insertEvent(c, date(0));
      await h.insertEvent(access(60), date(0));
      await h.insertEvent(b, date(0));
      await h.insertEvent(access(9), date(0));
      await h.insertEvent(a, date(0));
      await h.insertEvent(occupancy(20, 1), date(0));
      const found = await h.eventsOfType('access', date(10), date(60));
      // a and b in one millisecond: by id (a was made first), whatever order they arrived in
      expect(found.map((e) => e.id)).toEqual([a.id, b.id, c.id]);
    });

    it('finds the last mode change of a site before an instant', async () => {
      const first = mode(0, 'open-access');
      const second = mode(60, 'closed');
      await h.insertEvent(first, date(0));
      await h.insertEvent(second, date(0));
      await h.insertEvent(mode(30, 'staffed', 'village'), date(0));
      await h.insertEvent(access(45), date(0));
      expect((await h.lastModeBefore('town', date(59)))?.id).toBe(first.id);
      expect((await h.lastModeBefore('town', date(60)))?.id).toBe(first.id);
      expect((await h.lastModeBefore('town', date(61)))?.id).toBe(second.id);
      expect(await h.lastModeBefore('town', date(0))).toBeNull();
    });

    it('lists commands newest first, per site, and a command recorded again shows its new result', async () => {
      const cmd = (id: string, minutes: number, result = 'sent', site = 'town') => ({ id, site, command: 'unlock', actor: 'alice', at: at(minutes), result });
      await h.recordCommand(cmd('c1', 1));
      await h.recordCommand(cmd('c2', 3));
      await h.recordCommand(cmd('c3', 2));
      await h.recordCommand(cmd('v1', 4, 'sent', 'village'));
      await h.recordCommand(cmd('c2', 3, 'ok'));
      expect(await h.commands('town', 10)).toEqual([cmd('c2', 3, 'ok'), cmd('c3', 2), cmd('c1', 1)]);
      expect((await h.commands('town', 2)).map((c) => c.id)).toEqual(['c2', 'c3']);
    });

    it('retention forgets events and samples from before the cutoff, in every month, and keeps the rest', async () => {
      const old = [access(-24 * 60 * 70), access(-24 * 60 * 35), access(60), occupancy(90, 2)];
      const kept = [access(121), access(24 * 60 * 3)];
      for (const e of [...old, ...kept]) await h.insertEvent(e, date(0));
      await h.setState(state(100, 4), date(100));
      await h.setState(state(130, 5), date(130));
      await h.purgeBefore(date(120));
      expect(await h.eventCount()).toBe(2);
      expect(ids(await h.recentEvents('town', { limit: 10 }))).toEqual([kept[1]!.id, kept[0]!.id]);
      expect(await h.occupancy('town', date(0), date(200))).toEqual([{ at: at(130), inside: 5, capacity: 40 }]);
      // an event arriving late for a month already forgotten is stored again (and forgotten at the next pass)
      expect(await h.insertEvent(access(-24 * 60 * 70), date(200))).toBe(true);
    });

    it("blanks card holders' pseudonyms in batches, oldest first, keeping every event and its other fields", async () => {
      const withPerson = [access(-24 * 60 * 40, { person: 'aaaa1111' }), access(1, { person: 'bbbb2222' }), access(2, { person: 'cccc3333' })];
      const refused = access(3, { decision: 'refused', reason: 'unknown-card', person: null } as never);
      const recent = access(100, { person: 'dddd4444' });
      for (const e of [...withPerson, refused, recent, occupancy(4, 1)]) await h.insertEvent(e, date(0));
      expect(await h.blankPersonsBefore(date(50), 2)).toBe(2);
      expect(await h.blankPersonsBefore(date(50), 2)).toBe(1);
      expect(await h.blankPersonsBefore(date(50), 2)).toBe(0);
      expect(await h.eventCount()).toBe(6);
      const byId = new Map((await h.recentEvents('town', { limit: 10, before: date(1000) })).map((s) => [s.event.id, s.event]));
      for (const e of withPerson) expect(byId.get(e.id)).toEqual({ ...e, person: null });
      expect(byId.get(recent.id)).toEqual(recent);
      expect(await h.eventsOfType('access', date(-24 * 60 * 41), date(200))).toHaveLength(5);
    });

    it('blanks the oldest first: a small batch takes the oldest events', async () => {
      const older = access(-30, { person: 'aaaa1111' });
      const newer = access(-10, { person: 'bbbb2222' });
      await h.insertEvent(newer, date(0));
      await h.insertEvent(older, date(0));
      expect(await h.blankPersonsBefore(date(0), 1)).toBe(1);
      const [n, o] = await h.recentEvents('town', { limit: 2 });
      expect(o?.event).toMatchObject({ id: older.id, person: null });
      expect(n?.event).toMatchObject({ id: newer.id, person: 'bbbb2222' });
    });

    it('makes a secret once: the same bytes on every later call and for another store on the same database', async () => {
      const key = await h.secret('pseudonym-key', 32);
      expect(key).toHaveLength(32);
      expect(await h.secret('pseudonym-key', 32)).toEqual(key);
      const other = await fx.another();
      expect(await other.secret('pseudonym-key', 32)).toEqual(key);
      const [x, y] = await Promise.all([other.secret('second', 16), h.secret('second', 16)]);
      expect(x).toEqual(y);
      expect(x).not.toEqual(key.subarray(0, 16));
    });

    it('another store on the same database sees what the first one stored', async () => {
      const e = access(1);
      await h.insertEvent(e, date(1));
      await h.setState(state(1, 2), date(1));
      const other = await fx.another();
      expect(await other.insertEvent(e, date(2))).toBe(false);
      expect((await other.site('town'))?.state?.occupancy.inside).toBe(2);
      expect(other.engine).toBe(h.engine);
    });
  });
}
