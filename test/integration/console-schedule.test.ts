// Schedule editing through the console API: the policy in force and where it came from, a draft checked with the
// policies' own schema (errors name the field), a two-week preview, saving as a branch override (no version number of
// its own: over the version in force, until central's next), and the door following it at once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OPEN_ALL_DAY, startConsole } from '../helpers/console.js';
import type { ConsoleHarness, SignedIn } from '../helpers/console.js';

let c: ConsoleHarness | undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  // A Wednesday.
  vi.setSystemTime(new Date('2026-03-04T12:00:00Z'));
});
afterEach(async () => {
  await c?.stop();
  c = undefined;
  vi.useRealTimers();
});

async function asManager(members: Record<string, object> = {}): Promise<{ c: ConsoleHarness; mia: SignedIn }> {
  c = await startConsole({ members });
  await c.addUser('mia', 'manager');
  return { c, mia: await c.login('mia') };
}

type Draft = Record<string, unknown> & { schedule: Record<string, unknown> };

interface Loaded {
  version: number;
  source: string;
  central: number | null;
  override: { by: string; at: string; over: { source: string; version: number } } | null;
  revision: string;
  draft: Draft;
}

async function loadDraft(h: ConsoleHarness, who: SignedIn): Promise<Loaded> {
  const response = await h.call(who, 'GET', '/api/console/policy');
  expect(response.statusCode).toBe(200);
  const { version, source, central, override, revision, policy } = response.json();
  const { version: _v, ...draft } = policy;
  return { version, source, central, override, revision, draft };
}

describe('the schedule in the console', () => {
  it('previews an exception day as the coming two weeks, saves it as a branch override over the file, and the door follows at once', async () => {
    const { c, mia } = await asManager({ '04A1B2C3D4': {} });
    const { version, source, override, revision, draft } = await loadDraft(c, mia);
    expect({ version, source, override }).toEqual({ version: 1, source: 'file', override: null });
    const withHoliday = { ...draft, schedule: { ...draft.schedule, exceptions: [{ date: '2026-03-05', label: 'Staff training', windows: [] }] } };

    const preview = await c.call(mia, 'POST', '/api/console/policy/preview', { policy: withHoliday });
    expect(preview.statusCode).toBe(200);
    const { over, days } = preview.json();
    expect(over).toEqual({ source: 'file', version: 1 });
    expect(days).toHaveLength(14);
    expect(days[0]).toMatchObject({ date: '2026-03-04', weekday: 'wed', changed: false, segments: [{ mode: 'open-access', from: '00:00', to: '24:00', start: 0, end: 1440 }] });
    expect(days[1]).toMatchObject({ date: '2026-03-05', label: 'Staff training', changed: true, segments: [{ mode: 'closed', from: '00:00', to: '24:00' }] });
    expect(days.filter((d: { changed: boolean }) => d.changed)).toHaveLength(1);
    // A preview changes nothing.
    expect(c.harness.running.gateway.policies.current.version).toBe(1);

    const saved = await c.call(mia, 'PUT', '/api/console/policy', { baseRevision: revision, policy: withHoliday });
    expect(saved.statusCode).toBe(200);
    const saidOverride = { by: 'mia', at: '2026-03-04T12:00:00.000Z', over: { source: 'file', version: 1 } };
    expect(saved.json()).toEqual({ ok: true, version: 1, source: 'console', override: saidOverride });
    const gateway = c.harness.running.gateway;
    expect(gateway.policies.current.version).toBe(1);
    expect(gateway.policies.source).toBe('console');
    expect(await loadDraft(c, mia)).toMatchObject({ source: 'console', version: 1, override: saidOverride });
    expect(gateway.state.policy).toEqual({ version: 1, source: 'console', override: { by: 'mia', at: '2026-03-04T12:00:00.000Z' } });
    const logged = c.harness.events.flatMap((e): unknown[][] =>
      e.type === 'policy' ? [[e.type, e.result, e.version]] : e.type === 'staff' && e.action === 'schedule-edit' ? [[e.type, e.action, e.actor]] : [],
    );
    expect(logged).toEqual([
      ['policy', 'applied', 1],
      ['staff', 'schedule-edit', 'mia'],
    ]);

    // Thursday, the exception day: the card that got in on Wednesday is refused, and the log says why.
    c.harness.tap('04A1B2C3D4');
    vi.setSystemTime(new Date('2026-03-05T10:00:00Z'));
    vi.advanceTimersByTime(60_000);
    c.harness.tap('04A1B2C3D4');
    expect(c.harness.reasons()).toEqual(['member', 'closed']);
    // A new day, a new session (the one from yesterday has passed its 12 hours).
    expect((await c.call(mia, 'GET', '/api/console/log')).statusCode).toBe(401);
    const log = (await c.call(await c.login('mia'), 'GET', '/api/console/log?types=access')).json().events;
    expect(log[0]).toMatchObject({ decision: 'refused', reason: 'closed', summary: 'Entry refused: branch closed (and no group booking for this card)' });
  });

  it('names each problem of a draft by its field and saves nothing', async () => {
    const { c, mia } = await asManager();
    const { draft } = await loadDraft(c, mia);
    const broken = {
      ...draft,
      schedule: {
        ...draft.schedule,
        weekly: { ...(draft.schedule.weekly as object), mon: [{ from: '10:00', to: '09:00', mode: 'open-access' }], tue: [{ from: '08:00', to: '12:00', mode: 'staffed' }, { from: '11:00', to: '13:00', mode: 'open-access' }] },
        exceptions: [{ date: '2026-02-30', windows: [] }],
        changeoverMinutes: 300,
      },
      bookings: [{ group: 'Scouts!', weekly: { day: 'thu', from: '18:00', to: '25:00' } }],
    };
    for (const [method, url, body] of [
      ['POST', '/api/console/policy/preview', { policy: broken }],
      ['PUT', '/api/console/policy', { baseRevision: (await loadDraft(c, mia)).revision, policy: broken }],
    ] as const) {
      const response = await c.call(mia, method, url, body);
      expect(response.statusCode).toBe(400);
      expect(response.json().errors).toEqual(
        expect.arrayContaining([
          'policy.schedule.weekly.mon[0].to: must be after from',
          'policy.schedule.weekly.tue[1]: overlaps tue[0] (08:00–12:00)',
          'policy.schedule.exceptions[0].date: must be a real date YYYY-MM-DD',
          'policy.schedule.changeoverMinutes: must be at most 240',
          'policy.bookings[0].group: must be lower case letters, digits and dashes (at most 63)',
          'policy.bookings[0].weekly.to: must be a time HH:MM from 00:00 to 24:00',
        ]),
      );
    }
    const otherSite = await c.call(mia, 'POST', '/api/console/policy/preview', { policy: { ...draft, site: 'village' } });
    expect(otherSite.json().errors).toEqual(['policy.site: must be this gateway\'s site "town-central"']);
    const withVersion = await c.call(mia, 'POST', '/api/console/policy/preview', { policy: { ...draft, version: 9 } });
    expect(withVersion.json().errors).toEqual(['policy.version: unknown key']);
    const roomBooking = { group: 'scouts', weekly: { day: 'thu', from: '18:00', to: '20:00' }, doors: ['meeting-room'] };
    const unknownDoor = await c.call(mia, 'POST', '/api/console/policy/preview', { policy: { ...draft, bookings: [roomBooking] } });
    expect(unknownDoor.json().errors).toEqual(['policy.bookings[0].doors[0]: no door "meeting-room" at this branch (doors: main)']);
    const heating = { heating: [{ during: ['closed'], fromMinutes: 60 }] };
    const unknownOutput = await c.call(mia, 'POST', '/api/console/policy/preview', { policy: { ...draft, outputs: heating } });
    expect(unknownOutput.json().errors).toEqual(['policy.outputs.heating: no switched output "heating" at this branch (outputs: none)']);
    expect(c.harness.running.gateway.policies.current.version).toBe(1);
    expect(c.harness.events.filter((e) => e.type === 'policy')).toEqual([]);
  });

  it('lets a group booking in while closed, from the day it is saved', async () => {
    const { c, mia } = await asManager({ '0455555555': { groups: ['scouts'] }, '0466666666': {} });
    const { draft, revision } = await loadDraft(c, mia);
    const policy = {
      ...draft,
      schedule: { ...draft.schedule, weekly: { thu: [{ from: '09:00', to: '17:00', mode: 'open-access' }] } },
      bookings: [{ group: 'scouts', label: '12th Town Scouts', weekly: { day: 'thu', from: '18:00', to: '20:00' } }],
    };
    const preview = (await c.call(mia, 'POST', '/api/console/policy/preview', { policy })).json();
    expect(preview.days[1]).toMatchObject({ date: '2026-03-05', bookings: [{ group: 'scouts', label: '12th Town Scouts', from: '18:00', to: '20:00' }] });
    expect((await c.call(mia, 'PUT', '/api/console/policy', { baseRevision: revision, policy })).statusCode).toBe(200);
    vi.setSystemTime(new Date('2026-03-05T18:30:00Z'));
    vi.advanceTimersByTime(60_000);
    c.harness.tap('0455555555');
    c.harness.tap('0466666666');
    expect(c.harness.reasons()).toEqual(['booking', 'closed']);
  });

  it('refuses to save over a version that came in meanwhile; saved over central 5, central 6 supersedes the override', async () => {
    const { c, mia } = await asManager();
    const { draft, revision } = await loadDraft(c, mia);
    const gateway = c.harness.running.gateway;
    expect(gateway.offerPolicy({ ...OPEN_ALL_DAY, version: 5 }, 'central').ok).toBe(true);
    const tenMinutes = { ...draft, schedule: { ...draft.schedule, changeoverMinutes: 10 } };
    const stale = await c.call(mia, 'PUT', '/api/console/policy', { baseRevision: revision, policy: tenMinutes });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ version: 5, source: 'central', error: expect.stringMatching(/central version 5 is now in force/) });
    expect(gateway.policies.current.version).toBe(5);
    const loaded = await loadDraft(c, mia);
    expect(loaded).toMatchObject({ version: 5, source: 'central', central: 5, override: null });

    const again = await c.call(mia, 'PUT', '/api/console/policy', { baseRevision: loaded.revision, policy: tenMinutes });
    expect(again.json()).toMatchObject({ version: 5, source: 'console', override: { by: 'mia', over: { source: 'central', version: 5 } } });
    expect(gateway.policies.current.schedule.changeoverMinutes).toBe(10);
    // A second save from the page loaded before the first: the override it was made over is gone, 409.
    expect((await c.call(mia, 'PUT', '/api/console/policy', { baseRevision: loaded.revision, policy: draft })).statusCode).toBe(409);

    // Central's 5 again (a retained message on reconnect) leaves the override in force; central's 6 supersedes it.
    expect(gateway.offerPolicy({ ...OPEN_ALL_DAY, version: 5 }, 'central')).toMatchObject({ ok: true, changed: false });
    expect(gateway.policies.source).toBe('console');
    expect(gateway.offerPolicy({ ...OPEN_ALL_DAY, version: 6 }, 'central')).toMatchObject({ ok: true, changed: true });
    expect(await loadDraft(c, mia)).toMatchObject({ version: 6, source: 'central', central: 6, override: null });
    expect(gateway.policies.current.schedule.changeoverMinutes).not.toBe(10);
  });

  it('draws the day the clocks go forward as 23 hours', async () => {
    vi.setSystemTime(new Date('2026-03-25T12:00:00Z'));
    const { c, mia } = await asManager();
    const { days } = (await c.call(mia, 'GET', '/api/console/policy/timetable')).json();
    const dst = days.find((d: { date: string }) => d.date === '2026-03-29');
    expect(dst).toMatchObject({ minutes: 1380, segments: [{ mode: 'open-access', from: '00:00', to: '24:00', start: 0, end: 1380 }] });
  });
});
