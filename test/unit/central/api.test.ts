// Every API route through fastify's inject(): what a caller gets, and a 400 naming the field for bad input.
import { describe, expect, it } from 'vitest';
import { accessEvent, occupancyEvent, stateFixture } from '../contract/fixtures.js';
import { CONTRACT_MINOR } from '../../../policies/contract/index.js';
import { centralAppPerTest, type CentralApp } from './helpers.js';

const centralApp = centralAppPerTest();

async function withData(): Promise<CentralApp> {
  const current = await centralApp();
  const { publish } = current;
  await publish('town', 'availability', { state: 'online', at: '2025-06-02T08:00:00.000Z' }, true);
  await publish('town', 'state', stateFixture());
  await publish('town', 'events', occupancyEvent(3, '2025-06-02T09:00:00.000Z'));
  await publish('town', 'events', accessEvent({ decision: 'refused', reason: 'expired', at: '2025-06-02T09:10:00.000Z' }));
  return current;
}

const POLICY = {
  version: 5,
  site: 'town',
  schedule: { weekly: { mon: [{ from: '09:00', to: '17:00', mode: 'staffed' }, { from: '17:00', to: '21:00', mode: 'open-access' }] } },
};

describe('central API', () => {
  it('GET /api/sites and /api/sites/:site show the tile data', async () => {
    const { api } = await withData();
    const all = await api('/api/sites');
    expect(all.statusCode).toBe(200);
    expect(all.json()).toEqual({
      sites: [expect.objectContaining({ id: 'town', online: true, since: '2025-06-02T08:00:00.000Z', state: expect.objectContaining({ mode: 'open-access' }) })],
    });
    const one = await api('/api/sites/town');
    expect(one.json()).toMatchObject({ id: 'town', state: { occupancy: { inside: 3, capacity: 40 } } });
    expect((await api('/api/sites/nowhere')).statusCode).toBe(404);
    const bad = await api('/api/sites/Not%20A%20Site');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.stringMatching(/^params\.site: must be lower case/)]);
  });

  it('GET /api/sites/:site/events lists newest first, filters by type, names a bad limit', async () => {
    const { api } = await withData();
    const res = await api('/api/sites/town/events?limit=10');
    expect(res.json().events.map((e: { event: { type: string } }) => e.event.type)).toEqual(['access', 'occupancy']);
    const only = await api('/api/sites/town/events?type=occupancy');
    expect(only.json().events).toHaveLength(1);
    // Any type, also one a newer gateway sends and this central does not know: there are none of it here.
    expect((await api('/api/sites/town/events?type=output')).json()).toEqual({ events: [] });
    const bad = await api('/api/sites/town/events?limit=5000&type=Not%20A%20Type');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.stringMatching(/^query\.limit: must be at most 1000/), expect.stringMatching(/^query\.type: must be a name/)]);
  });

  it('GET /api/sites/:site/occupancy gives today by default, and refuses a bad range', async () => {
    const { api } = await withData();
    const res = await api('/api/sites/town/occupancy');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ from: '2025-06-01T23:00:00.000Z', to: '2025-06-02T09:30:00.000Z' });
    expect(res.json().samples.map((s: { inside: number }) => s.inside)).toEqual([3]);
    const bad = await api('/api/sites/town/occupancy?from=yesterday');
    expect(bad.json()).toMatchObject({ errors: [expect.stringMatching(/^query\.from: must be an ISO 8601/)] });
    const backwards = await api('/api/sites/town/occupancy?from=2025-06-02T10:00:00Z&to=2025-06-02T09:00:00Z');
    expect(backwards.statusCode).toBe(400);
  });

  it('PUT /api/sites/:site/policy validates, numbers it in central’s own sequence, publishes retained, and refuses a bad or stale document', async () => {
    const { api, link, store } = await withData();
    // The body's 5 is not central's next number (1): refused, naming the number, and nothing is published.
    const pinned = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: POLICY });
    expect(pinned.statusCode).toBe(400);
    expect(pinned.json().errors).toEqual(['version: must be 1, the next in central\'s sequence for "town" (or leave it out and central numbers it)']);
    const { version: _v, ...unnumbered } = POLICY;
    const first = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: unnumbered });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ published: true, site: 'town', version: 1 });
    const second = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: { ...POLICY, version: 2 } });
    expect(second.json()).toEqual({ published: true, site: 'town', version: 2 });
    expect(link.policies).toEqual([
      { site: 'town', doc: expect.objectContaining({ version: 1 }) },
      { site: 'town', doc: expect.objectContaining({ version: 2 }) },
    ]);
    expect((await api('/api/sites/town/policy')).json()).toMatchObject({ version: 2, doc: { site: 'town' } });
    expect(store.policy('town')?.version).toBe(2);

    const badWindow = structuredClone(unnumbered) as Omit<typeof POLICY, 'version'>;
    badWindow.schedule.weekly.mon[1]!.to = '16:00';
    const bad = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: badWindow });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual(['schedule.weekly.mon[1].to: must be after from']);

    // An edit made from version 1 after 2 went out, and a number that would pin a branch: refused, naming why.
    const stale = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: { ...POLICY, version: 2 } });
    expect(stale.json().errors).toEqual(['version: must be 3, the next in central\'s sequence for "town" (or leave it out and central numbers it)']);
    const huge = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: { ...POLICY, version: 2 ** 53 - 1 } });
    expect(huge.json().errors).toEqual(['version: must be at most 2147483647']);
    const other = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: { ...unnumbered, site: 'village' } });
    expect(other.json().errors).toEqual(['site: must be "town"']);
    const typo = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: { ...unnumbered, sheduel: {} } });
    expect(typo.json().errors).toEqual(['sheduel: unknown key']);
    expect(link.policies).toHaveLength(2);
    expect((await api('/api/sites/village/policy')).statusCode).toBe(404);

    link.connected = false;
    const down = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: unnumbered });
    expect(down.statusCode).toBe(503);
    // The number was not used: the next publish still gets 3.
    link.connected = true;
    expect((await api({ method: 'PUT', url: '/api/sites/town/policy', payload: unnumbered })).json()).toMatchObject({ version: 3 });
  });

  it('numbers above the central version a branch reports in force (central restored from an older backup)', async () => {
    const { api, publish } = await withData();
    await publish('town', 'state', { ...stateFixture(), site: 'town', policy: { version: 41, source: 'central' } }, true);
    const { version: _v, ...unnumbered } = POLICY;
    expect((await api({ method: 'PUT', url: '/api/sites/town/policy', payload: unnumbered })).json()).toMatchObject({ version: 42 });
  });

  it('refuses a policy naming a switched output or a door the branch says it lacks, before publishing it; a branch too old to say decides', async () => {
    const { api, publish, link } = await withData();
    const { version: _v, ...unnumbered } = POLICY;
    const heating = { ...unnumbered, outputs: { heating: [{ during: ['closed'], fromMinutes: 60 }] } };
    const meetingRoom = { ...unnumbered, bookings: [{ group: 'scouts', weekly: { day: 'tue', from: '18:00', to: '20:00' }, doors: ['meeting-room'] }] };
    await publish('town', 'state', { ...stateFixture(), site: 'town', v: CONTRACT_MINOR, outputs: [{ id: 'pcs', on: false, label: 'Public PCs' }] }, true);
    const refused = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: heating });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors).toEqual(['outputs.heating: no switched output "heating" at this branch (outputs: pcs)']);
    const noRoom = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: meetingRoom });
    expect(noRoom.json().errors).toEqual(['bookings[0].doors[0]: no door "meeting-room" at this branch (doors: main)']);
    expect(link.policies).toEqual([]);
    const pcs = await api({ method: 'PUT', url: '/api/sites/town/policy', payload: { ...unnumbered, outputs: { pcs: [{ during: ['open-access'] }] } } });
    expect(pcs.statusCode).toBe(202);
    // A 1.8 branch cannot say what outputs it has: the branch itself refuses what it lacks.
    await publish('town', 'state', { ...stateFixture(), site: 'town', v: 8 }, true);
    expect((await api({ method: 'PUT', url: '/api/sites/town/policy', payload: heating })).statusCode).toBe(202);
  });

  it('POST /api/sites/:site/commands answers with the branch reply, 504 on timeout, 400 naming the field', async () => {
    const { api, link, store, publish } = await withData();
    const ok = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'unlock' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ ok: true });
    // A branch that names no doors (one door, or a gateway before 1.8, which would unlock its main door): only `main`.
    const noSuchDoor = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'unlock', door: 'meeting-room' } });
    expect(noSuchDoor.statusCode).toBe(400);
    expect(noSuchDoor.json().errors).toEqual(['door: no door "meeting-room" at town (doors: main)']);
    // At a branch with several doors, unlock names one; the branch is told which.
    await publish('town', 'state', { ...stateFixture(), site: 'town', doors: [{ id: 'main', state: 'locked' }, { id: 'meeting-room', state: 'locked' }] }, true);
    const meetingRoom = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'unlock', door: 'meeting-room' } });
    expect(meetingRoom.json()).toMatchObject({ ok: true });
    expect(link.commands.at(-1)).toMatchObject({ command: 'unlock', door: 'meeting-room' });
    const doorForLights = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'lights-on', door: 'meeting-room' } });
    expect(doorForLights.json().errors).toEqual(['door: only allowed with unlock and lock']);
    link.answer = 'refuse';
    const refused = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'lockdown-off' } });
    expect(refused.json()).toMatchObject({ ok: false, error: 'not in lockdown' });
    link.answer = 'timeout';
    const late = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'lock' } });
    expect(late.statusCode).toBe(504);
    expect(store.commands('town', 10).map((c) => c.result)).toEqual(expect.arrayContaining(['ok', 'refused: not in lockdown', 'timeout']));

    const bad = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'open-everything' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.stringMatching(/^command: must be one of unlock, lock, /)]);
    // Who asks is who signed in: a body naming someone else is refused, not believed.
    const claimed = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'unlock', actor: 'the-director' } });
    expect(claimed.statusCode).toBe(400);
    expect(claimed.json().errors).toEqual(['actor: unknown key']);
    const noText = await api({ method: 'POST', url: '/api/sites/town/commands', payload: { command: 'announce' } });
    expect(noText.json().errors).toEqual(['text: required with announce']);
    const notJson = await api({ method: 'POST', url: '/api/sites/town/commands', headers: { 'content-type': 'application/json' }, payload: '{"command":' });
    expect(notJson.statusCode).toBe(400);
    const unknownSite = await api({ method: 'POST', url: '/api/sites/nowhere/commands', payload: { command: 'lock' } });
    expect(unknownSite.statusCode).toBe(404);
    expect(link.commands).toHaveLength(4);
    expect(link.commands.map((c) => c.actor)).toEqual([expect.stringMatching(/^token:test-administrator-\d+$/), expect.any(String), expect.any(String), expect.any(String)]);
  });

  it('GET /api/figures/* give JSON and CSV, and name bad dates', async () => {
    const { api } = await withData();
    const visits = await api('/api/figures/visits?from=2025-06-01&to=2025-06-02');
    expect(visits.json()).toEqual({
      from: '2025-06-01',
      to: '2025-06-02',
      timezone: 'Europe/London',
      rows: [{ site: 'town', period: '2025-06-02', staffed: 0, openAccess: 0, booking: 0, other: 1, total: 1, uncountedOpenings: 0 }],
    });
    const csv = await api('/api/figures/refusals?format=csv');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="refusals-2025-05-27-2025-06-02.csv"');
    expect(csv.body).toBe('site,reason,count\r\ntown,expired,1\r\n');
    const hourly = await api('/api/figures/visits?by=hour&format=csv');
    expect(hourly.body).toBe('site,period,staffed,openAccess,booking,other,total,uncountedOpenings\r\ntown,2025-06-02T10,0,0,0,1,1,0\r\n');
    const bad = await api('/api/figures/visits?from=2025-06-05&to=2025-06-01&by=week');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.stringMatching(/^query\.by: must be one of "day", "hour"/)]);
    const backwards = await api('/api/figures/refusals?from=2025-06-05&to=2025-06-01');
    expect(backwards.json().errors).toEqual(['query.to: must not be before from']);
  });

  it('GET /api/figures/tailgates, /grants and /report: JSON, CSV, and a month that is not YYYY-MM named', async () => {
    const { api, publish } = await withData();
    await publish('town', 'events', { ...occupancyEvent(5, '2025-06-02T09:20:00.000Z', 'town', 'tailgate'), entries: 3, grants: 1 });
    await publish('town', 'events', accessEvent({ at: '2025-06-02T09:19:00.000Z', ageBand: 'child' }));
    const tailgates = await api('/api/figures/tailgates?from=2025-06-02&to=2025-06-02');
    expect(tailgates.json().rows).toEqual([{ site: 'town', period: '2025-06-02', tailgates: 1, extraPeople: 2 }]);
    const grants = await api('/api/figures/grants?from=2025-06-02&to=2025-06-02&format=csv');
    expect(grants.headers['content-disposition']).toBe('attachment; filename="grants-2025-06-02-2025-06-02.csv"');
    expect(grants.body).toBe('site,kind,ageBand,count\r\ntown,member,child,1\r\n');

    // No month: this month by central's clock (2 June 2025).
    const report = await api('/api/figures/report?site=town');
    expect(report.statusCode).toBe(200);
    expect(report.json()).toMatchObject({ month: '2025-06', site: 'town', timezone: 'Europe/London', totals: { other: 1, total: 1, tailgates: 1, extraPeople: 2 }, refusals: [{ reason: 'expired', count: 1 }] });
    expect(report.json().days).toHaveLength(30);
    const csv = await api('/api/figures/report?month=2025-06&format=csv');
    expect(csv.headers['content-disposition']).toBe('attachment; filename="report-estate-2025-06.csv"');
    expect(csv.body.split('\r\n').slice(0, 3)).toEqual(['date,staffed,openAccess,booking,other,total,tailgates,extraPeople,uncountedOpenings', '2025-06-01,0,0,0,0,0,0,0,0', '2025-06-02,0,0,0,1,1,1,2,0']);
    for (const month of ['2025-6', '2025-13', 'june']) {
      const bad = await api(`/api/figures/report?month=${month}`);
      expect(bad.statusCode, month).toBe(400);
      expect(bad.json().errors, month).toEqual(['query.month: must be YYYY-MM']);
    }
  });

  it('GET /api/stats, /api/health and the OpenAPI document', async () => {
    const { api, app, publish } = await withData();
    await publish('town', 'events', 'garbage');
    const stats = await api('/api/stats');
    expect(stats.json()).toMatchObject({ mqttConnected: true, events: 2, ingest: { rejected: 1, lastRejections: [{ topic: 'oa/v1/sites/town/events' }] } });
    // Health is public and says only that central answers; the link's state is in the stats, behind a sign-in.
    const health = await app.inject('/api/health');
    expect(health.json()).toEqual({ ok: true });
    const doc = (await api('/api/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/sites',
        '/api/sites/{site}',
        '/api/sites/{site}/events',
        '/api/sites/{site}/occupancy',
        '/api/sites/{site}/policy',
        '/api/sites/{site}/commands',
        '/api/figures/visits',
        '/api/figures/refusals',
        '/api/figures/tailgates',
        '/api/figures/grants',
        '/api/figures/report',
        '/api/live',
        '/api/stats',
      ]),
    );
    expect(doc.paths['/api/sites/{site}/commands'].post.requestBody.content['application/json'].schema.properties.command.enum).toContain('unlock');
  });

  it('serves the pages and the chart library from the box (no CDN)', async () => {
    const current = await centralApp();
    const { app } = current;
    // The pages and their files are public (no data in them); their scripts sign in first.
    for (const [url, type] of [
      ['/', 'text/html'],
      ['/sites/town', 'text/html'],
      ['/figures', 'text/html'],
      ['/report', 'text/html'],
      ['/static/report.css', 'text/css'],
      ['/audit', 'text/html'],
      ['/login', 'text/html'],
      ['/static/dashboard.js', 'javascript'],
      ['/vendor/uplot/uPlot.esm.js', 'javascript'],
      ['/vendor/uplot/uPlot.min.css', 'text/css'],
    ] as const) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toContain(type);
      expect(res.body, url).not.toMatch(/https?:\/\/(cdn|unpkg|fonts)\./);
    }
  });
});
