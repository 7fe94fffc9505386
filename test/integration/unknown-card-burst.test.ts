// Someone trying cards at the door: the whole gateway with `sip2:` configured, against the SIP2 responder. Past the
// burst threshold unknown cards are refused without asking the library system and the alarm goes up once; members
// still get in; a quiet period ends it. Below a burst the questions to the library system are bounded too.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../../gateway/config.js';
import type { Harness } from '../helpers/gateway-harness.js';
import { sip2GatewayPerTest } from '../helpers/sip2-gateway.js';
import { TestClock } from '../helpers/test-clock.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

const LOCAL = '04A1B2C3D4';
const NEW_MEMBER = '21000111222333';
/** Monday 23 November 2026, 14:00 GMT: open access at the town branch. */
const OPEN_ACCESS = Date.parse('2026-11-23T14:00:00Z');
const unknownCard = (i: number): string => `2999900000${String(i).padStart(4, '0')}`;

const gw = sip2GatewayPerTest('oag-gw-burst-');
let clock: TestClock;

type UnknownCards = NonNullable<NonNullable<GatewayConfigInput['taps']>['unknownCards']>;

function start(unknownCards: UnknownCards = {}): Promise<Harness> {
  clock = new TestClock(OPEN_ACCESS);
  return gw.start({
    patrons: { [NEW_MEMBER]: { fields: { PE: '20271231', PB: '19800501', PC: 'OA' } } },
    policy: town,
    members: { [LOCAL]: {} },
    config: { taps: { repeatWindowMs: 0, unknownCards } },
    sip2: { timeoutMs: 2000 },
    start: { clock },
  });
}

function burstAlarms(h: Harness): Array<{ state: unknown; severity: unknown; detail: unknown }> {
  return h.events.flatMap((e) => (e.type === 'alarm' && e.alarm === 'unknown-card-burst' ? [{ state: e.state, severity: e.severity, detail: e.detail }] : []));
}

describe('a burst of unknown cards at a reader', () => {
  it('refuses the 11th unknown card in a minute without asking the library system, raises the alarm once, and still lets a member in', async () => {
    const h = await start({ lookupBurst: 100, lookupsPerMinute: 600 });
    for (let i = 1; i <= 10; i++) {
      expect(await gw.tapAndWait(unknownCard(i))).toBe('unknown-card');
      clock.advance(3000);
    }
    expect(gw.patronRequests()).toBe(10);
    expect(burstAlarms(h)).toEqual([]);

    h.tap(unknownCard(11));
    // Decided within the tap: nothing went to the library system.
    expect(h.reasons().at(-1)).toBe('unknown-card-burst');
    expect(gw.patronRequests()).toBe(10);
    expect(h.doorRelayActive()).toBe(false);
    expect(burstAlarms(h)).toEqual([{ state: 'raised', severity: 'major', detail: 'reader entry: 11 unknown cards within 60 s' }]);
    expect(h.running.gateway.state.alarms).toContain('unknown-card-burst');

    for (let i = 12; i <= 30; i++) h.tap(unknownCard(i));
    expect(h.reasons().slice(-19)).toEqual(Array(19).fill('unknown-card-burst'));
    expect(gw.patronRequests()).toBe(10);
    // One alarm for the burst, however many cards; each card is still an access event (refusals are figures).
    expect(burstAlarms(h)).toHaveLength(1);
    expect(h.reasons()).toHaveLength(30);

    h.tap(LOCAL);
    expect(h.reasons().at(-1)).toBe('member');
    expect(h.doorRelayActive()).toBe(true);
  });

  it('ends after a quiet period: the alarm clears with the count, and the next unknown card is asked about again', async () => {
    const h = await start({ lookupBurst: 100, lookupsPerMinute: 600, quietSeconds: 300 });
    for (let i = 1; i <= 11; i++) await gw.tapAndWait(unknownCard(i));
    expect(h.reasons().at(-1)).toBe('unknown-card-burst');

    // Another try just before the quiet period is over keeps the burst going.
    clock.advance(299_000);
    h.tap(unknownCard(12));
    expect(h.reasons().at(-1)).toBe('unknown-card-burst');
    clock.advance(299_000);
    expect(h.running.gateway.state.alarms).toContain('unknown-card-burst');

    clock.advance(1000);
    expect(h.running.gateway.state.alarms).not.toContain('unknown-card-burst');
    expect(burstAlarms(h).at(-1)).toEqual({ state: 'cleared', severity: 'major', detail: 'reader entry: 12 unknown cards in the burst, none for 300 s' });

    const queries = gw.patronRequests();
    expect(await gw.tapAndWait(unknownCard(13))).toBe('unknown-card');
    expect(gw.patronRequests()).toBe(queries + 1);
    // A member who registered this morning is found online again too.
    expect(await gw.tapAndWait(NEW_MEMBER)).toBe('member');
  });

  it('bounds the questions to the library system below a burst: past the allowance unknown cards are refused at once', async () => {
    // The defaults: 5 at once, then one every 10 s.
    const h = await start();
    for (let i = 1; i <= 5; i++) {
      expect(await gw.tapAndWait(unknownCard(i))).toBe('unknown-card');
      clock.advance(1000);
    }
    expect(gw.patronRequests()).toBe(5);
    h.tap(unknownCard(6));
    expect(h.reasons().at(-1)).toBe('unknown-card');
    expect(gw.patronRequests()).toBe(5);
    expect(burstAlarms(h)).toEqual([]);
    // A member on the list never needed the library system.
    h.tap(LOCAL);
    expect(h.reasons().at(-1)).toBe('member');

    clock.advance(10_000);
    expect(await gw.tapAndWait(NEW_MEMBER)).toBe('member');
    expect(gw.patronRequests()).toBe(6);
  });
});
