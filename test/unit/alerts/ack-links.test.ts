import { describe, expect, it } from 'vitest';
import { AckLinks } from '../../../central/alerts/ack-links.js';
import type { NotificationRequest } from '../../../central/alerts/types.js';
import { incidentsDb, raise } from './helpers.js';

const T = Date.parse('2025-06-02T21:00:00Z');
const at = (minutes: number): Date => new Date(T + minutes * 60_000);
const PREFIX = 'https://central.example.org/ack/';

async function setUp() {
  const { db, incidents } = incidentsDb();
  const links = new AckLinks(incidents.store, incidents, { linkPrefix: PREFIX });
  const fire = (await incidents.alarm(raise(), at(0)))!;
  const request = (name: string, channel: NotificationRequest['recipient']['channel'], address: string): NotificationRequest => ({
    incidentId: fire.id,
    step: 0,
    repeat: 0,
    recipient: { name, channel, address },
    subject: '[CRITICAL] fire at riverside',
    text: 'fire at riverside (critical)',
  });
  const tokenOf = (r: NotificationRequest): string => (r.ackUrl ?? '').slice(PREFIX.length);
  return { db, incidents, links, fire, request, tokenOf };
}

describe('one-time acknowledgement links', () => {
  it('following the link acknowledges in the recipient\'s name; the page shows the incident without using the link', async () => {
    const { incidents, links, fire, request, tokenOf } = await setUp();
    const sms = await links.attach(request('Carol', 'sms', '+447700900003'), at(1));
    expect(sms.ackUrl).toMatch(/^https:\/\/central\.example\.org\/ack\/[A-Za-z0-9_-]{43}$/);
    const token = tokenOf(sms);
    expect(await links.inspect(token, at(2))).toMatchObject({ ok: true, contact: 'Carol', incident: { id: fire.id, status: 'raised' } });
    expect((await incidents.get(fire.id))?.status).toBe('raised');

    const done = await links.acknowledge(token, { note: 'calling the keyholder' }, at(3));
    expect(done).toMatchObject({ ok: true, incident: { status: 'acknowledged', acknowledged: { by: 'contact:Carol', note: 'calling the keyholder' } } });
  });

  it('a link used twice is refused, saying it was used and when', async () => {
    const { links, request, tokenOf } = await setUp();
    const token = tokenOf(await links.attach(request('Carol', 'email', 'carol@example.org'), at(1)));
    expect((await links.acknowledge(token, {}, at(2))).ok).toBe(true);
    const twice = await links.acknowledge(token, {}, at(3));
    expect(twice).toMatchObject({ ok: false, reason: 'used', error: `this link was already used, at ${at(2).toISOString()}; each link works once` });
  });

  it('an expired link is refused, saying so, and the incident stays open and visible', async () => {
    const { incidents, links, fire, request, tokenOf } = await setUp();
    const token = tokenOf(await links.attach(request('Carol', 'sms', '+447700900003'), at(1)));
    const late = await links.acknowledge(token, {}, at(1 + 24 * 60));
    expect(late).toMatchObject({
      ok: false,
      reason: 'expired',
      error: `this link expired at ${at(1 + 24 * 60).toISOString()}; incident ${fire.id} is still raised on the dashboard, where it can be acknowledged`,
      incident: { id: fire.id, status: 'raised' },
    });
    expect((await incidents.open()).map((i) => i.id)).toEqual([fire.id]);
    expect((await incidents.get(fire.id))?.acknowledged).toBeNull();
  });

  it('another recipient\'s link after the acknowledgement says who acknowledged, and stays unused', async () => {
    const { links, request, tokenOf } = await setUp();
    const carol = tokenOf(await links.attach(request('Carol', 'sms', '+447700900003'), at(1)));
    const bob = tokenOf(await links.attach(request('Bob', 'email', 'bob@example.org'), at(15)));
    await links.acknowledge(carol, {}, at(16));
    expect(await links.acknowledge(bob, {}, at(17))).toMatchObject({ ok: false, reason: 'already-acknowledged', error: expect.stringContaining('by contact:Carol') });
  });

  it('stores only a hash of the token, gives webhooks no link, and refuses a cut or unknown link', async () => {
    const { db, links, request, tokenOf } = await setUp();
    expect((await links.attach(request('ARC', 'webhook', 'https://arc.example.org/hook'), at(1))).ackUrl).toBeUndefined();
    const token = tokenOf(await links.attach(request('Carol', 'sms', '+447700900003'), at(1)));
    const dump = JSON.stringify(db.prepare('SELECT * FROM alert_ack_links').all(), (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64url') : v));
    expect(dump).not.toContain(token);
    expect(await links.acknowledge(token.slice(0, 30), {}, at(2))).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await links.acknowledge(`${token.slice(0, 42)}${token.endsWith('A') ? 'B' : 'A'}`, {}, at(2))).toMatchObject({ ok: false, reason: 'unknown' });
  });

  it('a bad note is refused and leaves the link usable', async () => {
    const { links, request, tokenOf } = await setUp();
    const token = tokenOf(await links.attach(request('Carol', 'sms', '+447700900003'), at(1)));
    expect(await links.acknowledge(token, { note: 'x'.repeat(501) }, at(2))).toMatchObject({ ok: false, reason: 'invalid', error: 'note: must be at most 500 character(s)' });
    expect((await links.acknowledge(token, { note: 'ok' }, at(3))).ok).toBe(true);
  });
});
