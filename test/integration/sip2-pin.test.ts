// Card + PIN with the PIN checked by the library system (rules.pinSource sip2): the whole gateway, its keypad and
// the SIP2 responder on loopback. The PIN goes to the library system as the patron password (AD) and its answer
// (CQ) decides; the branch stores none. When the library system cannot answer, rules.pinOffline decides.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Harness } from '../helpers/gateway-harness.js';
import { sip2GatewayPerTest } from '../helpers/sip2-gateway.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const CARD = '21000111222333';

// Monday 23 November 2026, 14:00 GMT: open access.
const gw = sip2GatewayPerTest('oag-gw-sip2-pin-', { fakeDate: '2026-11-23T14:00:00Z' });

function start(pinOffline?: 'refuse' | 'card-only'): Promise<Harness> {
  const rules = { ...(town.rules as object), pin: 'open-access', pinSource: 'sip2', ...(pinOffline === undefined ? {} : { pinOffline }) };
  return gw.start({
    patrons: { [CARD]: { password: '2468', fields: { PB: '19800501', PC: 'OA' } } },
    policy: { ...town, rules },
    // On the list with no PIN of its own: the library system holds it.
    members: { [CARD]: {} },
    config: {
      taps: { repeatWindowMs: 0 },
      hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }], keypad: { driver: 'simulated' } },
    },
  });
}

async function cardAndPin(h: Harness, pin: string): Promise<string[]> {
  const before = h.reasons().length;
  h.tap(CARD);
  h.running.hardware.simulated!.keypad!.enter(pin);
  await h.running.gateway.access.pinChecksDone();
  return h.reasons().slice(before);
}

describe('PINs checked by the library system (rules.pinSource sip2)', () => {
  it('lets the card in with the PIN the library system holds, refuses another, and stores and logs neither', async () => {
    const h = await start();
    expect(await cardAndPin(h, '1111')).toEqual(['pin-required', 'pin-wrong']);
    expect(h.doorRelayActive()).toBe(false);
    expect(await cardAndPin(h, '2468')).toEqual(['pin-required', 'member']);
    expect(h.doorRelayActive()).toBe(true);
    // Asked each time, as the patron password; the answer's CQ decided.
    expect(gw.responder.received.filter((m) => m.code === '63').map((m) => m.fields.AD)).toEqual(['1111', '2468']);
    expect(h.running.store.members.stats().count).toBe(1);
    // Without the event ids, whose random letters and digits could spell anything.
    expect(JSON.stringify(h.events.map(({ id: _id, ...rest }) => rest))).not.toMatch(/2468|21000111222333/);
  });

  it('refuses as pin-check-unavailable when the library system cannot answer and pinOffline is refuse, counting no wrong PIN', async () => {
    const h = await start();
    await gw.responder.stop();
    for (let i = 0; i < 6; i += 1) expect(await cardAndPin(h, '2468')).toEqual(['pin-required', 'pin-check-unavailable']);
    expect(h.doorRelayActive()).toBe(false);
    // Six refusals past pinMaxAttempts and no lockout: the library system's outage is not someone guessing.
    expect(h.reasons()).not.toContain('pin-locked');
    expect(h.running.gateway.alarms.has('pin-lockout')).toBe(false);
  });

  it('lets the card in on the card alone with the pin-check-unavailable alarm when pinOffline is card-only', async () => {
    const h = await start('card-only');
    await gw.responder.stop();
    expect(await cardAndPin(h, '0000')).toEqual(['pin-required', 'member']);
    expect(h.doorRelayActive()).toBe(true);
    expect(h.running.gateway.alarms.has('pin-check-unavailable')).toBe(true);
    const alarm = h.events.find((e) => e.type === 'alarm' && e.alarm === 'pin-check-unavailable');
    expect(alarm).toMatchObject({ state: 'raised', severity: 'minor' });
  });
});
