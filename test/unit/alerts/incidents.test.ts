import { describe, expect, it } from 'vitest';
import { incidentsDb, raise } from './helpers.js';

const T = Date.parse('2025-06-02T21:00:00Z');
const at = (minutes: number): Date => new Date(T + minutes * 60_000);

describe('incidents', () => {
  it('one open incident per site and alarm: a repeat raise is history, a clear closes it, a later raise opens another', async () => {
    const { incidents } = incidentsDb();
    const first = await incidents.alarm(raise({ detail: 'zone 3' }), at(0));
    const again = await incidents.alarm(raise({ detail: 'zone 4', severity: 'minor' }), at(1));
    expect(again?.id).toBe(first?.id);
    // A lower severity on the repeat never hides the first; a higher one is kept.
    expect(again?.severity).toBe('critical');
    const smoke = await incidents.alarm(raise({ alarm: 'smoke-detected', severity: 'minor' }), at(1));
    expect((await incidents.alarm(raise({ alarm: 'smoke-detected', severity: 'major' }), at(2)))?.severity).toBe('major');
    await incidents.alarm(raise({ alarm: 'smoke-detected', state: 'cleared' }), at(2));
    expect(smoke?.severity).toBe('minor');
    expect(await incidents.open()).toHaveLength(1);
    await incidents.alarm(raise({ state: 'cleared' }), at(5));
    expect(await incidents.open()).toEqual([]);
    const detail = await incidents.get(first!.id);
    expect(detail).toMatchObject({ status: 'cleared', detail: 'zone 3', cleared: { by: 'site:riverside', at: at(5).toISOString() } });
    expect(detail?.history.map((h) => [h.kind, h.actor, h.note])).toEqual([
      ['raised', 'site:riverside', 'zone 3'],
      ['raised-again', 'site:riverside', 'zone 4'],
      ['cleared', 'site:riverside', null],
    ]);
    const next = await incidents.alarm(raise(), at(6));
    expect(next?.id).not.toBe(first?.id);
    // Another alarm at the same site is its own incident.
    await incidents.alarm(raise({ alarm: 'forced-open', severity: 'major' }), at(7));
    expect((await incidents.open()).map((i) => i.alarm)).toEqual(['forced-open', 'fire']);
  });

  it('an unknown alarm is an incident shown as unknown, with the severity it came with or warning', async () => {
    const { incidents } = incidentsDb();
    const bare = await incidents.alarm(raise({ alarm: 'smoke-detected', severity: undefined }), at(0));
    const rated = await incidents.alarm(raise({ alarm: 'water-leak', severity: 'critical' }), at(0));
    // A known alarm from a gateway before 1.2 (no severity) takes the contract's.
    const old = await incidents.alarm(raise({ alarm: 'held-open', severity: undefined }), at(0));
    expect([bare, rated, old].map((i) => [i?.alarm, i?.known, i?.severity])).toEqual([
      ['smoke-detected', false, 'warning'],
      ['water-leak', false, 'critical'],
      ['held-open', true, 'major'],
    ]);
  });

  it('a branch offline for more than N minutes is an incident, once, cleared when it comes back', async () => {
    const { incidents } = incidentsDb();
    const tenMinutes = 10 * 60_000;
    await incidents.availability('riverside', false, at(0));
    // The last will arrives again (a retained copy on reconnect): still since minute 0.
    await incidents.availability('riverside', false, at(3));
    expect(await incidents.raiseOverdueOffline(at(9), tenMinutes, 'major')).toEqual([]);
    const raised = await incidents.raiseOverdueOffline(at(10), tenMinutes, 'major');
    expect(raised.map((i) => [i.site, i.alarm, i.severity, i.detail, i.raisedAt])).toEqual([['riverside', 'offline', 'major', 'offline for 10 min', at(0).toISOString()]]);
    expect(await incidents.raiseOverdueOffline(at(11), tenMinutes, 'major')).toEqual([]);
    await incidents.availability('riverside', true, at(20));
    expect(await incidents.open()).toEqual([]);
    expect(await incidents.get(raised[0]!.id)).toMatchObject({ status: 'cleared', cleared: { by: 'site:riverside', at: at(20).toISOString() } });
    // Back for a moment and gone again: a new absence, counted from its own start.
    await incidents.availability('riverside', false, at(30));
    expect(await incidents.raiseOverdueOffline(at(39), tenMinutes, 'major')).toEqual([]);
    expect(await incidents.raiseOverdueOffline(at(40), tenMinutes, 'major')).toHaveLength(1);
  });

  it('an offline incident an operator resolved is not opened again while the branch stays away', async () => {
    const { incidents } = incidentsDb();
    await incidents.availability('hill', false, at(0));
    const [offline] = await incidents.raiseOverdueOffline(at(10), 600_000, 'major');
    expect((await incidents.resolve(offline!.id, { actor: 'admin:ann', note: 'branch closed for works' }, at(12))).ok).toBe(true);
    expect(await incidents.raiseOverdueOffline(at(60), 600_000, 'major')).toEqual([]);
    expect((await incidents.get(offline!.id))?.history.at(-1)).toEqual({ at: at(12).toISOString(), kind: 'resolved', actor: 'admin:ann', note: 'branch closed for works' });
  });

  it('acknowledging records who, when and the note, once; a bad note changes nothing', async () => {
    const { incidents } = incidentsDb();
    const fire = (await incidents.alarm(raise(), at(0)))!;
    const long = await incidents.acknowledge(fire.id, { actor: 'admin:ann', note: 'x'.repeat(501) }, at(1));
    expect(long).toEqual({ ok: false, code: 'invalid', error: 'note: must be at most 500 character(s)' });
    expect(await incidents.acknowledge(fire.id, { actor: 'admin:ann', note: 'bell\u0007' }, at(1))).toMatchObject({ ok: false, code: 'invalid' });
    expect((await incidents.get(fire.id))?.status).toBe('raised');

    const ok = await incidents.acknowledge(fire.id, { actor: 'admin:ann', note: 'on my way\nETA 20 min' }, at(2));
    expect(ok).toMatchObject({ ok: true, incident: { status: 'acknowledged', acknowledged: { by: 'admin:ann', at: at(2).toISOString(), note: 'on my way\nETA 20 min' } } });
    expect(await incidents.acknowledge(fire.id, { actor: 'admin:bo' }, at(3))).toEqual({
      ok: false,
      code: 'already-acknowledged',
      error: `incident ${fire.id} was already acknowledged at ${at(2).toISOString()} by admin:ann`,
    });
    expect(await incidents.acknowledge(999, { actor: 'admin:bo' }, at(3))).toEqual({ ok: false, code: 'not-found', error: 'no incident 999' });
    // Acknowledged is still open until the branch clears it.
    expect((await incidents.open()).map((i) => i.status)).toEqual(['acknowledged']);
  });

  it('a failing channel is an incident at central, cleared when the channel works again', async () => {
    const { incidents } = incidentsDb();
    await incidents.channelFailed('email', 'smtp.example.org:587: connect ECONNREFUSED', at(0));
    await incidents.channelFailed('email', 'smtp.example.org:587: connect ECONNREFUSED', at(1));
    expect((await incidents.open()).map((i) => [i.site, i.alarm, i.severity, i.detail])).toEqual([
      ['(central)', 'email-failed', 'major', 'smtp.example.org:587: connect ECONNREFUSED'],
    ]);
    await incidents.channelRecovered('email', at(5));
    expect(await incidents.open()).toEqual([]);
  });

  it('figures: incidents by type and branch, and time to acknowledge (median, p95) over a range', async () => {
    const { incidents } = incidentsDb();
    // Twenty fires acknowledged after 1..20 minutes, one forced door never acknowledged, one fire outside the range.
    for (let i = 1; i <= 20; i++) {
      const site = i % 2 === 0 ? 'hill' : 'riverside';
      const incident = (await incidents.alarm(raise({ site }), at(i * 100)))!;
      await incidents.acknowledge(incident.id, { actor: 'admin:ann' }, at(i * 100 + i));
      await incidents.alarm(raise({ site, state: 'cleared' }), at(i * 100 + 50));
    }
    await incidents.alarm(raise({ alarm: 'forced-open', site: 'hill' }), at(3000));
    await incidents.alarm(raise({ alarm: 'tamper', site: 'hill' }), at(-10));
    const f = await incidents.figures(at(0), at(4000));
    expect(f).toMatchObject({
      total: 21,
      byAlarm: [
        { alarm: 'fire', count: 20 },
        { alarm: 'forced-open', count: 1 },
      ],
      bySite: [
        { site: 'hill', count: 11 },
        { site: 'riverside', count: 10 },
      ],
      timeToAcknowledge: { count: 20, medianSeconds: 600, p95Seconds: 1140 },
      unacknowledged: 1,
    });
    expect(f.bySiteAndAlarm).toContainEqual({ site: 'hill', alarm: 'forced-open', count: 1 });
    await expect(incidents.figures(at(10), at(0))).rejects.toThrow('to must be after from');
  });
});
