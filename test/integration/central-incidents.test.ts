// Incidents at central's API and the page behind an e-mailed link, through central's real HTTP side, store, ingest
// and alerting: who may do what (401/403), what a bad body gets (400 naming the field, nothing changed), who the
// actor is (the signed-in identity, or the link's contact), and the audit of each change.
import { describe, expect, it } from 'vitest';
import { signIn, tokenHeaders } from '../helpers/central-auth.js';
import { eventId, stateFixture } from '../unit/contract/fixtures.js';
import { rulesInput } from '../unit/alerts/helpers.js';
import { centralAppPerTest, type CentralApp } from '../unit/central/helpers.js';

const centralApp = centralAppPerTest();

const NOW = new Date('2025-06-02T21:05:00.000Z');

async function withAlarm(alarm = 'people-inside-after-close'): Promise<CentralApp & { id: number }> {
  const c = await centralApp(NOW);
  await c.publish('town', 'availability', { state: 'online', at: '2025-06-02T08:00:00.000Z' }, true);
  await c.publish('town', 'events', { id: eventId(NOW.getTime()), at: NOW.toISOString(), site: 'town', type: 'alarm', alarm, state: 'raised', severity: 'major' });
  const list = (await c.api('/api/incidents')).json() as { incidents: Array<{ id: number }> };
  return { ...c, id: list.incidents[0]!.id };
}

describe('incidents API', () => {
  it('lists an alarm from a branch as an open incident to a viewer, and refuses anyone not signed in', async () => {
    const c = await withAlarm();
    const viewer = await tokenHeaders(c.auth, 'viewer');
    const list = await c.app.inject({ url: '/api/incidents', headers: viewer });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({ incidents: [{ site: 'town', alarm: 'people-inside-after-close', severity: 'major', status: 'raised' }], next: null });
    expect((await c.app.inject({ url: '/api/incidents' })).statusCode).toBe(401);
    const one = await c.app.inject({ url: `/api/incidents/${c.id}`, headers: viewer });
    expect(one.json()).toMatchObject({ id: c.id, history: [{ kind: 'raised', actor: 'site:town' }], messages: [] });
    expect((await c.app.inject({ url: '/api/incidents/99999', headers: viewer })).statusCode).toBe(404);
    expect((await c.app.inject({ url: '/api/incidents/abc', headers: viewer })).json().errors).toEqual([expect.stringMatching(/^params\.id: /)]);
  });

  it('lets an operator acknowledge in their own name with a note, audited; a viewer gets 403 and nothing changes', async () => {
    const c = await withAlarm();
    const viewer = await tokenHeaders(c.auth, 'viewer');
    const refused = await c.app.inject({ method: 'POST', url: `/api/incidents/${c.id}/acknowledge`, headers: viewer, payload: { note: 'me' } });
    expect(refused.statusCode).toBe(403);
    expect((await c.alerts.alerts.incidents.get(c.id))!.status).toBe('raised');

    const op = await signIn(c.app, c.auth, 'olive', 'operator');
    const tooLong = await c.app.inject({ method: 'POST', url: `/api/incidents/${c.id}/acknowledge`, headers: op.headers, payload: { note: 'x'.repeat(501) } });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().errors).toEqual([expect.stringMatching(/^note: /)]);
    const forged = await c.app.inject({ method: 'POST', url: `/api/incidents/${c.id}/acknowledge`, headers: op.headers, payload: { note: 'x', actor: 'user:boss' } });
    expect(forged.statusCode).toBe(400);
    expect((await c.alerts.alerts.incidents.get(c.id))!.status).toBe('raised');

    const ok = await c.app.inject({ method: 'POST', url: `/api/incidents/${c.id}/acknowledge`, headers: op.headers, payload: { note: 'Calling the keyholder' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'acknowledged', acknowledged: { by: 'user:olive', note: 'Calling the keyholder' } });
    const again = await c.app.inject({ method: 'POST', url: `/api/incidents/${c.id}/acknowledge`, headers: op.headers, payload: {} });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/user:olive/);
    const audit = (await c.auth.audit.query({ limit: 10 })).rows.filter((r) => r.action === 'incident-acknowledge');
    expect(audit).toEqual([expect.objectContaining({ actor: 'user:olive', site: 'town', detail: expect.stringContaining('Calling the keyholder') })]);

    const resolved = await c.app.inject({ method: 'POST', url: `/api/incidents/${c.id}/resolve`, headers: op.headers, payload: { note: 'all out' } });
    expect(resolved.statusCode).toBe(200);
    expect((await c.api('/api/incidents')).json().incidents).toEqual([]);
    expect((await c.api('/api/incidents?state=all')).json().incidents).toMatchObject([{ id: c.id, status: 'cleared', cleared: { by: 'user:olive' } }]);
  });

  it('pages the full list by before, and filters by site', async () => {
    const c = await centralApp(NOW);
    for (const [i, alarm] of ['fire', 'door-forced', 'people-inside-after-close'].entries()) {
      await c.publish(i === 0 ? 'hill' : 'town', 'events', { id: eventId(NOW.getTime() + i), at: NOW.toISOString(), site: i === 0 ? 'hill' : 'town', type: 'alarm', alarm, state: 'raised' });
    }
    const first = (await c.api('/api/incidents?limit=2')).json() as { incidents: Array<{ alarm: string }>; next: number };
    expect(first.incidents.map((i) => i.alarm)).toEqual(['people-inside-after-close', 'door-forced']);
    const second = (await c.api(`/api/incidents?limit=2&before=${first.next}`)).json() as { incidents: Array<{ alarm: string }>; next: number | null };
    expect(second).toMatchObject({ incidents: [{ alarm: 'fire' }], next: null });
    expect((await c.api('/api/incidents?site=hill')).json().incidents).toMatchObject([{ alarm: 'fire' }]);
    const bad = await c.api('/api/incidents?state=closed&limit=0');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.stringMatching(/^query\.state: /), expect.stringMatching(/^query\.limit: /)]);
  });
});

describe('alert rules API', () => {
  it('lets an operator read and only an administrator save; a bad document names every field and changes nothing', async () => {
    const c = await centralApp(NOW);
    const op = await tokenHeaders(c.auth, 'operator');
    expect((await c.app.inject({ url: '/api/alerts/rules', headers: await tokenHeaders(c.auth, 'viewer') })).statusCode).toBe(403);
    expect((await c.app.inject({ url: '/api/alerts/rules', headers: op })).json()).toMatchObject({ version: 0, versions: [] });
    expect((await c.app.inject({ method: 'PUT', url: '/api/alerts/rules', headers: op, payload: { doc: rulesInput() } })).statusCode).toBe(403);

    const admin = await signIn(c.app, c.auth, 'ada', 'administrator');
    const bad = rulesInput();
    bad.rules![0]!.steps[1]!.afterMinutes = 0;
    bad.rules![1]!.regions = ['south'];
    const refused = await c.app.inject({ method: 'PUT', url: '/api/alerts/rules', headers: admin.headers, payload: { doc: bad } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/^rules\[0\]\.steps\[1\]\.afterMinutes: /), expect.stringMatching(/^rules\[1\]\.regions\[0\]: no region named "south"/)]),
    );
    expect(await c.alerts.alerts.rules.versions()).toEqual([]);
    const neither = await c.app.inject({ method: 'PUT', url: '/api/alerts/rules', headers: admin.headers, payload: { basedOn: 0 } });
    expect(neither.json().errors).toEqual([expect.stringMatching(/^text: send either text/)]);
    const yamlBad = await c.app.inject({ method: 'PUT', url: '/api/alerts/rules', headers: admin.headers, payload: { text: 'contacts: [' } });
    expect(yamlBad.statusCode).toBe(400);

    const saved = await c.app.inject({ method: 'PUT', url: '/api/alerts/rules', headers: admin.headers, payload: { text: JSON.stringify(rulesInput()), basedOn: 0 } });
    expect(saved.json()).toEqual({ version: 1 });
    const stale = await c.app.inject({ method: 'PUT', url: '/api/alerts/rules', headers: admin.headers, payload: { doc: rulesInput(), basedOn: 0 } });
    expect(stale.statusCode).toBe(409);
    const read = (await c.app.inject({ url: '/api/alerts/rules', headers: op })).json();
    expect(read).toMatchObject({ version: 1, versions: [{ version: 1, actor: 'user:ada' }], doc: { contacts: expect.any(Array) } });
    expect((await c.app.inject({ url: '/api/alerts/rules/versions/1', headers: op })).json()).toMatchObject({ version: 1, actor: 'user:ada' });
    expect((await c.app.inject({ url: '/api/alerts/rules/versions/2', headers: op })).statusCode).toBe(404);
    expect((await c.auth.audit.query({ limit: 10 })).rows.filter((r) => r.action === 'alert-rules-save')).toEqual([expect.objectContaining({ actor: 'user:ada', detail: 'version 1' })]);
  });

  it('says nobody is being told while no channel is configured and no rule tells anyone', async () => {
    const current = await centralApp(NOW);
    const status = (await current.app.inject({ url: '/api/alerts/status', headers: await tokenHeaders(current.auth, 'viewer') })).json();
    expect(status).toMatchObject({ told: false, channels: [], rules: { version: null, rules: 0 } });
    expect(status.problems).toEqual([expect.stringContaining('no notification channel is configured'), expect.stringContaining('no alert rule')]);
  });
});

describe('alarms already active when central first sees a branch', () => {
  it('opens an incident for each, once: a resolved one does not come back with the next state', async () => {
    const c = await centralApp(NOW);
    await c.publish('town', 'state', stateFixture({ alarms: ['fire'] }), true);
    const open = (await c.api('/api/incidents')).json().incidents as Array<{ id: number; alarm: string; detail: string }>;
    expect(open).toMatchObject([{ alarm: 'fire', site: 'town', detail: expect.stringContaining('already active') }]);
    await c.api({ method: 'POST', url: `/api/incidents/${open[0]!.id}/resolve`, payload: {} });
    await c.publish('town', 'state', stateFixture({ alarms: ['fire'], at: '2025-06-02T21:06:00.000Z' }), true);
    expect((await c.api('/api/incidents')).json().incidents).toEqual([]);
  });
});

describe('incident figures', () => {
  it('counts by alarm and branch with time to acknowledge, as JSON and CSV', async () => {
    const c = await withAlarm();
    c.clock.set(new Date(NOW.getTime() + 120_000));
    await c.api({ method: 'POST', url: `/api/incidents/${c.id}/acknowledge`, payload: {} });
    const json = (await c.app.inject({ url: '/api/figures/incidents?from=2025-06-02&to=2025-06-02', headers: await tokenHeaders(c.auth, 'viewer') })).json();
    expect(json).toMatchObject({ total: 1, byAlarm: [{ alarm: 'people-inside-after-close', count: 1 }], timeToAcknowledge: { count: 1, medianSeconds: 120, p95Seconds: 120 } });
    const csv = await c.api('/api/figures/incidents?from=2025-06-02&to=2025-06-02&format=csv');
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.body.trim().split(/\r?\n/)).toEqual([
      'site,alarm,count,acknowledgedCount,medianAckSeconds,p95AckSeconds,unacknowledged',
      'town,people-inside-after-close,1,,,,',
      '(all),(all),1,1,120,120,0',
    ]);
    expect((await c.api('/api/figures/incidents?from=2025-06-03&to=2025-06-02')).statusCode).toBe(400);
  });
});

describe('the page behind an e-mailed link', () => {
  it('shows the incident on GET without acknowledging; the button acknowledges as the contact, once', async () => {
    const c = await withAlarm();
    const { url, token } = await c.alerts.alerts.links.issue(c.id, 'Carol Ng', NOW);
    expect(url).toBe(`http://127.0.0.1:8090/ack/${token}`);
    const page = await c.app.inject({ url: `/ack/${token}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('people-inside-after-close');
    expect(page.body).toContain('<button type="submit" id="ack-button">Acknowledge</button>');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect((await c.alerts.alerts.incidents.get(c.id))!.status).toBe('raised');

    const done = await c.app.inject({ method: 'POST', url: `/ack/${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'note=On+my+way' });
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('Acknowledged as Carol Ng');
    expect((await c.alerts.alerts.incidents.get(c.id))!.acknowledged).toMatchObject({ by: 'contact:Carol Ng', note: 'On my way' });
    expect((await c.auth.audit.query({ limit: 5 })).rows.filter((r) => r.action === 'incident-acknowledge')).toEqual([expect.objectContaining({ actor: 'contact:Carol Ng' })]);

    const used = await c.app.inject({ method: 'POST', url: `/ack/${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' });
    expect(used.statusCode).toBe(410);
    expect(used.body).toContain('This link has already been used');
    expect(used.body).not.toContain(token);
  });

  it('names an expired link, leaves the incident open, and refuses a note too long or a made-up token', async () => {
    const c = await withAlarm();
    const { token } = await c.alerts.alerts.links.issue(c.id, 'Bob Day', NOW);
    const long = await c.app.inject({ method: 'POST', url: `/ack/${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `note=${'x'.repeat(501)}` });
    expect(long.statusCode).toBe(400);
    expect(long.body).toMatch(/note: /);
    expect((await c.alerts.alerts.incidents.get(c.id))!.status).toBe('raised');
    c.clock.set(new Date(NOW.getTime() + 25 * 3_600_000));
    const expired = await c.app.inject({ method: 'POST', url: `/ack/${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'note=late' });
    expect(expired.statusCode).toBe(410);
    expect(expired.body).toContain('This link has expired');
    expect(expired.body).toContain('stays open');
    expect((await c.alerts.alerts.incidents.get(c.id))!.status).toBe('raised');
    expect((await c.app.inject({ url: `/ack/${'A'.repeat(43)}` })).statusCode).toBe(404);
    expect((await c.app.inject({ url: '/ack/short' })).statusCode).toBe(404);
  });
});
