// The pages' time comes from central: GET /api/time (central's injected clock, each branch's zone), the pages' clock
// in common.js that follows it at central's rate, and days counted in a branch's zone whatever the browser's is.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stateFixture } from '../contract/fixtures.js';
import { centralAppPerTest } from './helpers.js';

const centralApp = centralAppPerTest();

interface ZonedTime {
  localDate(date: Date, timeZone: string): string;
  addDays(isoDate: string, days: number): string;
  startOfLocalDay(isoDate: string, timeZone: string): Date;
  startOfLocalWeek(isoDate: string, timeZone: string): Date;
}
interface PageClock {
  now(): Date;
  timezone: string | undefined;
  zoneOf(site: string): string | undefined;
}
interface Common {
  serverClock(): Promise<PageClock>;
  signedIn(): Promise<unknown>;
  when(iso: string, now?: Date, timeZone?: string): string;
  duration(fromIso: string, now?: Date): string;
}
// Plain paths through a variable: they are the browser's modules, not the project's TypeScript.
const zonedPath: string = '../../../central/public/zoned-time.js';
const commonPath: string = '../../../central/public/common.js';

describe('GET /api/time', () => {
  it("answers central's clock, its zone, and each branch's zone from the policy central published for it", async () => {
    const current = await centralApp(new Date('2025-06-03T13:00:00.000Z'), {}, {});
    const { api, publish, store, clock } = current;
    for (const site of ['town', 'village', 'hub']) publish(site, 'state', stateFixture({ site }));
    store.setPolicy('village', 3, { version: 3, site: 'village', timezone: 'Europe/Stockholm', schedule: { weekly: {} } }, clock.now());
    // Published without a zone: the branch runs in the policy's default, whatever central's own is.
    store.setPolicy('hub', 2, { version: 2, site: 'hub', schedule: { weekly: {} } }, clock.now());
    const res = await api('/api/time');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      now: '2025-06-03T13:00:00.000Z',
      timezone: 'Europe/London',
      sites: { town: 'Europe/London', village: 'Europe/Stockholm', hub: 'Europe/London' },
    });
    clock.set(new Date('2025-06-03T13:05:00.000Z'));
    expect((await api('/api/time')).json().now).toBe('2025-06-03T13:05:00.000Z');
  });

  it('falls back to central\'s configured zone for a branch it has published no policy to', async () => {
    const current = await centralApp(new Date('2025-06-03T13:00:00.000Z'));
    const { api, publish } = current;
    await publish('town', 'state', stateFixture());
    // The helper builds central with Europe/London; the answer names it for the branch too.
    expect((await api('/api/time')).json().sites).toEqual({ town: 'Europe/London' });
    expect((await current.app.inject('/api/time')).statusCode).toBe(401);
  });
});

describe("days in a branch's zone (central/public/zoned-time.js)", () => {
  it('finds the date, the start of the day and of the week in the zone, across the clock changes', async () => {
    const z = (await import(zonedPath)) as ZonedTime;
    // 00:30 in London on a summer Tuesday is still Monday in UTC.
    expect(z.localDate(new Date('2025-06-02T23:30:00Z'), 'Europe/London')).toBe('2025-06-03');
    expect(z.localDate(new Date('2025-06-02T23:30:00Z'), 'UTC')).toBe('2025-06-02');
    expect(z.startOfLocalDay('2025-06-03', 'Europe/London').toISOString()).toBe('2025-06-02T23:00:00.000Z');
    expect(z.startOfLocalDay('2025-12-03', 'Europe/London').toISOString()).toBe('2025-12-03T00:00:00.000Z');
    expect(z.startOfLocalDay('2025-06-04', 'Pacific/Auckland').toISOString()).toBe('2025-06-03T12:00:00.000Z');
    // The day the clocks go forward (30 March 2025) and the Monday after it.
    expect(z.startOfLocalDay('2025-03-31', 'Europe/London').toISOString()).toBe('2025-03-30T23:00:00.000Z');
    expect(z.startOfLocalWeek('2025-04-02', 'Europe/London').toISOString()).toBe('2025-03-30T23:00:00.000Z');
    // A Sunday belongs to the week that began on the Monday before.
    expect(z.startOfLocalWeek('2025-06-08', 'Europe/London').toISOString()).toBe('2025-06-01T23:00:00.000Z');
    // Where a clock change skips midnight (Santiago, 7 September 2025), the day starts at 01:00.
    expect(z.startOfLocalDay('2025-09-07', 'America/Santiago').toISOString()).toBe('2025-09-07T04:00:00.000Z');
    expect(z.addDays('2025-06-03', -6)).toBe('2025-05-28');
    expect(z.addDays('2025-03-01', -1)).toBe('2025-02-28');
  });
});

describe("the pages' clock (common.js serverClock)", () => {
  const START = Date.parse('2025-06-03T13:00:00.000Z');
  /** Central's clock as a function of the browser's monotonic time; the fake fetch answers GET /api/time from it. */
  let central: (browserMs: number) => number;
  let calls = 0;

  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-12-02T10:00:00.000Z'), toFake: ['setTimeout', 'setInterval', 'Date', 'performance'] });
    vi.resetModules();
    calls = 0;
    vi.stubGlobal('fetch', async (url: string) => {
      const session = { username: 'vera', role: 'viewer', csrfToken: 'x' };
      if (url === '/api/auth/session') return { status: 200, ok: true, headers: { get: () => 'application/json' }, json: async () => session };
      expect(url).toBe('/api/time');
      calls++;
      const body = { now: new Date(central(performance.now())).toISOString(), timezone: 'Europe/London', sites: { village: 'Europe/Stockholm' } };
      return { status: 200, ok: true, headers: { get: () => 'application/json' }, json: async () => body };
    });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("runs at the rate central's clock runs (the demo's 60×), not the browser's, and reads times against it", async () => {
    const t0 = performance.now();
    central = (ms) => START + (ms - t0) * 60;
    const common = (await import(commonPath)) as Common;
    const clock = await common.serverClock();
    expect(clock.now().toISOString()).toBe('2025-06-03T13:00:00.000Z');
    expect(clock.timezone).toBe('Europe/London');
    expect(clock.zoneOf('village')).toBe('Europe/Stockholm');
    expect(clock.zoneOf('town')).toBe('Europe/London');
    // The second look, 2 s later, measures central's rate; from then on a real second is a minute of the day.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(clock.now().toISOString()).toBe('2025-06-03T13:03:00.000Z');
    // The defaults of the time helpers are central's now and zone: no "(7 days)" against the browser's 2026.
    expect(common.duration('2025-06-03T07:00:00.000Z')).toBe('6 h 3 min');
    expect(common.when('2025-06-03T07:00:00.000Z')).toBe('08:00');
    expect(common.when('2025-06-02T07:00:00.000Z')).toBe('Mon 2 Jun, 08:00');
    // Looked at again every 15 s.
    await vi.advanceTimersByTimeAsync(15_000);
    expect(calls).toBe(3);
  });

  it("starts on every page that signs in, so a page's plain when() and ago() are central's (an incident's \"raised\")", async () => {
    central = () => START;
    vi.stubGlobal('document', { querySelectorAll: () => [], getElementById: () => null });
    const common = (await import(commonPath)) as Common & { ago(fromIso: string): string };
    await common.signedIn();
    expect(calls).toBe(1);
    expect(common.when('2025-06-03T12:40:00.000Z')).toBe('13:40');
    expect(common.ago('2025-06-03T12:40:00.000Z')).toBe('20 min ago');
  });

  it('stays put with a clock central holds still, and follows a step at the next look', async () => {
    let held = START;
    central = () => held;
    const common = (await import(commonPath)) as Common;
    const clock = await common.serverClock();
    await vi.advanceTimersByTimeAsync(2_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(clock.now().toISOString()).toBe('2025-06-03T13:00:00.000Z');
    held = START + 3_600_000;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(clock.now().toISOString()).toBe('2025-06-03T14:00:00.000Z');
  });
});
