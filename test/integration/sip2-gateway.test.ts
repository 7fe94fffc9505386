// The whole gateway with `sip2:` configured, against the SIP2 responder on loopback: cards the member list does
// not know are asked about online; known cards never are; a slow LMS holds up no other tap.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { GatewayConfigSchema } from '../../gateway/config.js';
import type { Harness } from '../helpers/gateway-harness.js';
import { sip2GatewayPerTest } from '../helpers/sip2-gateway.js';
import type { Sip2Responder } from '../helpers/sip2-responder.js';
import { until } from '../helpers/until.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

const LOCAL = '04A1B2C3D4';
const ONLINE = {
  ada: '21000111222333',
  barred: '21000444555666',
  stranger: '29999000000001',
};

// Until gateway/config.ts has its `sip2:` section (the lead applies the wiring), there is nothing to test here.
const wired = 'sip2' in GatewayConfigSchema.shape;

// Monday 23 November 2026, 14:00 GMT: open access.
const gw = sip2GatewayPerTest('oag-gw-sip2-', { fakeDate: '2026-11-23T14:00:00Z' });

function start(behaviour: Partial<Sip2Responder['behaviour']> = {}): Promise<Harness> {
  return gw.start({
    behaviour,
    patrons: {
      [ONLINE.ada]: { fields: { PE: '20271231', PB: '19800501', PC: 'OA' } },
      [ONLINE.barred]: { status: 'Y', fields: { PB: '19800501', PC: 'OA' } },
    },
    policy: town,
    members: { [LOCAL]: {} },
    config: { taps: { repeatWindowMs: 0 } },
  });
}

describe.skipIf(!wired)('gateway with the SIP2 online check', () => {
  it('lets in a member the list does not have yet once the LMS says so, and decides the next tap locally', async () => {
    const h = await start();
    await until(() => gw.responder.received.some((m) => m.code === '99'));
    h.tap(ONLINE.ada);
    expect(h.reasons()).toEqual([]);
    await until(() => h.reasons().length === 1);
    expect(h.reasons()).toEqual(['member']);
    expect(h.doorRelayActive()).toBe(true);
    expect(gw.patronRequests()).toBe(1);

    h.tap(ONLINE.ada);
    // Answered from the cache: decided within the tap itself, no second question to the LMS.
    expect(h.reasons()).toEqual(['member', 'member']);
    expect(gw.patronRequests()).toBe(1);
  });

  it('never asks the LMS about a card the list knows', async () => {
    const h = await start();
    h.tap(LOCAL);
    expect(h.reasons()).toEqual(['member']);
    expect(gw.patronRequests()).toBe(0);
  });

  it('refuses a card the LMS does not know as unknown, and one it has barred as blocked', async () => {
    const h = await start();
    h.tap(ONLINE.stranger);
    await until(() => h.reasons().length === 1);
    h.tap(ONLINE.barred);
    await until(() => h.reasons().length === 2);
    expect(h.reasons()).toEqual(['unknown-card', 'blocked']);
    expect(h.doorRelayActive()).toBe(false);
  });

  it('decides "unknown card" at the deadline when the LMS does not answer, and lets a known card in meanwhile', async () => {
    // The LMS takes the question and never answers: a decision can only come from the gateway's own deadline.
    const h = await start({ silent: true });
    await until(() => gw.responder.received.some((m) => m.code === '99'));
    h.tap(ONLINE.ada);
    h.tap(LOCAL);
    // The known card did not wait for the LMS.
    expect(h.reasons()).toEqual(['member']);
    await until(() => h.reasons().length === 2);
    expect(h.reasons()).toEqual(['member', 'unknown-card']);
    expect(gw.responder.received.filter((m) => m.code === '63')).toHaveLength(1);
  });

  it('keeps card numbers out of the events it records', async () => {
    const h = await start();
    h.tap(ONLINE.ada);
    h.tap(ONLINE.stranger);
    await until(() => h.reasons().length === 2);
    const rows = JSON.stringify(h.running.store.events.query({ limit: 100 }));
    for (const card of Object.values(ONLINE)) {
      expect(rows).not.toContain(card);
      expect(JSON.stringify(h.events)).not.toContain(card);
    }
  });
});
