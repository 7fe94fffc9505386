import { describe, expect, it } from 'vitest';
import { AckLinks } from '../../../central/alerts/ack-links.js';
import type { NotificationRequest } from '../../../central/alerts/types.js';
import { incidentsDb, raise } from './helpers.js';

const T = Date.parse('2025-06-02T21:00:00Z');
const at = (minutes: number): Date => new Date(T + minutes * 60_000);
const PREFIX = 'https://central.example.org/ack/';

function setUp() {
  const { db, incidents } = incidentsDb();
  const links = new AckLinks(db, incidents, { linkPrefix: PREFIX });
  const fire = incidents.alarm(raise(), at(0))!;
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
  it('following the link acknowledges in the recipient\'s name; the page shows the incident without using the link', () => {
    const { incidents, links, fire, request, tokenOf } = setUp();
    const sms = links.attach(request('Carol', 'sms', '+447700900003'), at(1));
    expect(sms.ackUrl).toMatch(/^https:\/\/central\.example\.org\/ack\/[A-Za-z0-9_-]{43}$/);
    const token = tokenOf(sms);
    expect(links.inspect(token, at(2))).toMatchObject({ ok: true, contact: 'Carol', incident: { id: fire.id, status: 'raised' } });
    expect(incidents.get(fire.id)?.status).toBe('raised');

    const done = links.acknowledge(token, { note: 'calling the keyholder' }, at(3));
    expect(done).toMatchObject({ ok: true, incident: { status: 'acknowledged', acknowledged: { by: 'contact:Carol', note: 'calling the keyholder' } } });
  });

  it('a link used twice is refused, saying it was used and when', () => {
    const { links, request, tokenOf } = setUp();
    const token = tokenOf(links.attach(request('Carol', 'email', 'carol@example.org'), at(1)));
    expect(links.acknowledge(token, {}, at(2)).ok).toBe(true);
    const twice = links.acknowledge(token, {}, at(3));
    expect(twice).toMatchObject({ ok: false, reason: 'used', error: `this link was already used, at ${at(2).toISOString()}; each link works once` });
  });

  it('an expired link is refused, saying so, and the incident stays open and visible', () => {
    const { incidents, links, fire, request, tokenOf } = setUp();
    const token = tokenOf(links.attach(request('Carol', 'sms', '+447700900003'), at(1)));
    const late = links.acknowledge(token, {}, at(1 + 24 * 60));
    expect(late).toMatchObject({
      ok: false,
      reason: 'expired',
      error: `this link expired at ${at(1 + 24 * 60).toISOString()}; incident ${fire.id} is still raised on the dashboard, where it can be acknowledged`,
      incident: { id: fire.id, status: 'raised' },
    });
    expect(incidents.open().map((i) => i.id)).toEqual([fire.id]);
    expect(incidents.get(fire.id)?.acknowledged).toBeNull();
  });

  it('another recipient\'s link after the acknowledgement says who acknowledged, and stays unused', () => {
    const { links, request, tokenOf } = setUp();
    const carol = tokenOf(links.attach(request('Carol', 'sms', '+447700900003'), at(1)));
    const bob = tokenOf(links.attach(request('Bob', 'email', 'bob@example.org'), at(15)));
    links.acknowledge(carol, {}, at(16));
    expect(links.acknowledge(bob, {}, at(17))).toMatchObject({ ok: false, reason: 'already-acknowledged', error: expect.stringContaining('by contact:Carol') });
  });

  it('stores only a hash of the token, gives webhooks no link, and refuses a cut or unknown link', () => {
    const { db, links, request, tokenOf } = setUp();
    expect(links.attach(request('ARC', 'webhook', 'https://arc.example.org/hook'), at(1)).ackUrl).toBeUndefined();
    const token = tokenOf(links.attach(request('Carol', 'sms', '+447700900003'), at(1)));
    const dump = JSON.stringify(db.prepare('SELECT * FROM alert_ack_links').all(), (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64url') : v));
    expect(dump).not.toContain(token);
    expect(links.acknowledge(token.slice(0, 30), {}, at(2))).toMatchObject({ ok: false, reason: 'malformed' });
    expect(links.acknowledge(`${token.slice(0, 42)}${token.endsWith('A') ? 'B' : 'A'}`, {}, at(2))).toMatchObject({ ok: false, reason: 'unknown' });
  });

  it('a bad note is refused and leaves the link usable', () => {
    const { links, request, tokenOf } = setUp();
    const token = tokenOf(links.attach(request('Carol', 'sms', '+447700900003'), at(1)));
    expect(links.acknowledge(token, { note: 'x'.repeat(501) }, at(2))).toMatchObject({ ok: false, reason: 'invalid', error: 'note: must be at most 500 character(s)' });
    expect(links.acknowledge(token, { note: 'ok' }, at(3)).ok).toBe(true);
  });
});
