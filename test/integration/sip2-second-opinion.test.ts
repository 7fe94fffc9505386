// The SIP2 second opinion (rules.sip2SecondOpinion), the whole gateway against the SIP2 responder on loopback: a
// member the list knows is let in at once, the library system is asked afterwards, and a block the list has not
// heard of yet is an alarm and refuses the next tap, until a member list changes that member.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import type { Member } from '../../policies/types.js';
import { TEST_KEY_HEX, adult } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';
import { sip2GatewayPerTest } from '../helpers/sip2-gateway.js';
import type { Sip2Responder } from '../helpers/sip2-responder.js';
import { until } from '../helpers/until.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const withSecondOpinion = (on: boolean): Record<string, unknown> => ({
  ...town,
  rules: { ...(town.rules as Record<string, unknown> | undefined), ...(on ? { sip2SecondOpinion: true } : {}) },
});

/** Both on the member list; the library system has barred `barred` since the list was made. */
const CARD = { fine: '21000111222333', barred: '21000444555666' };
const LMS_ALARM = 'lms-block-not-in-list';

// Monday 23 November 2026, 14:00 GMT: open access.
const gw = sip2GatewayPerTest('oag-gw-sip2-2nd-', { fakeDate: '2026-11-23T14:00:00Z' });

function start(options: { policyOn?: boolean; behaviour?: Partial<Sip2Responder['behaviour']> } = {}): Promise<Harness> {
  return gw.start({
    behaviour: options.behaviour,
    patrons: {
      [CARD.fine]: { fields: { PE: '20271231', PC: 'OA' } },
      [CARD.barred]: { status: 'Y', fields: { PE: '20271231', PC: 'OA' } },
    },
    policy: withSecondOpinion(options.policyOn ?? true),
    members: { [CARD.fine]: {}, [CARD.barred]: {} },
    config: { taps: { repeatWindowMs: 0 } },
    // The default mapping: open access from the policy alone.
    sip2: { mapping: undefined },
  });
}

const lmsAlarms = (h: Harness): Array<{ state: unknown; detail: unknown }> =>
  h.events.flatMap((e) => (e.type === 'alarm' && e.alarm === LMS_ALARM ? [{ state: e.state, detail: e.detail }] : []));

/** A new member-list version, as the member sync applies one (it tells the bus the state changed). */
function newListVersion(h: Harness, version: number, barred: Partial<Member>): void {
  const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
  const rows = [
    { cardHash: hash(normaliseCardId(CARD.fine)), ...adult },
    { cardHash: hash(normaliseCardId(CARD.barred)), ...adult, ...barred },
  ];
  h.running.store.members.replaceAll(rows, { version, source: 'test' });
  h.running.gateway.bus.emit('state-changed');
}

/** Started with the policy on; the barred card let in from the list, and the library system's answer raised the alarm. */
async function barredSecondOpinion(): Promise<Harness> {
  const h = await start();
  h.tap(CARD.barred);
  await until(() => lmsAlarms(h).length === 1, 'the lms-block-not-in-list alarm');
  return h;
}

describe('SIP2 second opinion after a grant', () => {
  it('lets a listed member in at once, then refuses the next tap once the library system says blocked, with an alarm', async () => {
    const h = await start();
    h.tap(CARD.barred);
    // Decided within the tap, from the list: the library system has not been asked yet.
    expect(h.reasons()).toEqual(['member']);
    expect(h.doorRelayActive()).toBe(true);
    await until(() => lmsAlarms(h).length === 1, 'the lms-block-not-in-list alarm');

    const [alarm] = lmsAlarms(h);
    const person = String(h.events.find((e) => e.type === 'access')!.person);
    expect(alarm!.state).toBe('raised');
    expect(String(alarm!.detail)).toContain(person);
    expect(JSON.stringify(h.events)).not.toContain(CARD.barred);
    expect(h.running.gateway.state.alarms).toContain(LMS_ALARM);

    h.tap(CARD.barred);
    expect(h.reasons()).toEqual(['member', 'blocked']);
    // The one the library system is happy with still gets in.
    h.tap(CARD.fine);
    expect(h.reasons()).toEqual(['member', 'blocked', 'member']);
  });

  it('keeps the block across a restart', async () => {
    await barredSecondOpinion();
    const restarted = await gw.restart();
    restarted.tap(CARD.barred);
    expect(restarted.reasons().at(-1)).toBe('blocked');
  });

  it('lifts the block when a new member-list version changes that member: blocked there, then unblocked', async () => {
    const h = await barredSecondOpinion();

    newListVersion(h, 2, { blocked: true });
    expect(h.running.gateway.state.alarms).not.toContain(LMS_ALARM);
    h.tap(CARD.barred);
    expect(h.reasons().at(-1)).toBe('blocked');

    // The same row as when the library system's block was made: only a lifted block lets this card in now.
    newListVersion(h, 3, { blocked: false });
    h.tap(CARD.barred);
    expect(h.reasons().at(-1)).toBe('member');
  });

  it('lifts the block when the library system, asked again after a refusal, no longer blocks the card', async () => {
    const h = await barredSecondOpinion();
    gw.responder.patrons.set(CARD.barred, { fields: { PE: '20271231', PC: 'OA' } });
    // Past sip2.secondOpinion.askAgainMinutes (10): the card is asked about again.
    vi.setSystemTime(new Date('2026-11-23T14:11:00Z'));
    h.tap(CARD.barred);
    expect(h.reasons().at(-1)).toBe('blocked');
    await until(() => lmsAlarms(h).some((a) => a.state === 'cleared'), 'the alarm to clear');
    h.tap(CARD.barred);
    expect(h.reasons().at(-1)).toBe('member');
  });

  it('asks the library system nothing when the policy does not ask for it', async () => {
    const h = await start({ policyOn: false });
    h.tap(CARD.barred);
    h.tap(CARD.barred);
    expect(h.reasons()).toEqual(['member', 'member']);
    // A card the list does not know is asked about online: one link, one question at a time, so a follow-up of the
    // grants above would have reached the library system first.
    h.tap('29999000000001');
    await until(() => gw.patronRequests() === 1, 'the online check of the unknown card');
    expect(gw.responder.received.filter((m) => m.code === '63').map((m) => m.fields.AA)).toEqual(['29999000000001']);
    expect(h.reasons().at(-1)).toBe('unknown-card');
  });

  it('goes on granting when the library system never answers, with no alarm of its own', async () => {
    const h = await start({ behaviour: { silent: true } });
    h.tap(CARD.barred);
    expect(h.reasons()).toEqual(['member']);
    expect(h.doorRelayActive()).toBe(true);
    await until(() => gw.patronRequests() === 1, 'the question to the library system');
    h.tap(CARD.fine);
    expect(h.reasons()).toEqual(['member', 'member']);
    h.tap(CARD.barred);
    expect(h.reasons()).toEqual(['member', 'member', 'member']);
    expect(lmsAlarms(h)).toEqual([]);
  });

  it('goes on granting when the library system is down, with no alarm but the sip2 ones', async () => {
    const h = await start();
    await gw.responder.stop();
    h.tap(CARD.barred);
    h.tap(CARD.fine);
    expect(h.reasons()).toEqual(['member', 'member']);
    await new Promise((resolve) => setTimeout(resolve, 400));
    h.tap(CARD.barred);
    expect(h.reasons().at(-1)).toBe('member');
    const raised = h.events.flatMap((e) => (e.type === 'alarm' && e.state === 'raised' ? [String(e.alarm)] : []));
    expect(raised.filter((name) => !name.startsWith('sip2'))).toEqual([]);
  });
});
