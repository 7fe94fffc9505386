// The PIN checks' bounds and the pin-lockout alarm's life, on their own: a flood of PINs past the slots is not
// checked (and so not counted as wrong), and the alarm stands while any card's lockout does, across a restart too.
import { describe, expect, it } from 'vitest';
import { PIN_LOCKOUT_ALARM, PinLockouts, PinVerifier } from '../../../gateway/core/pin-checks.js';
import { hashPin } from '../../../policies/pin.js';
import { TestClock } from '../../helpers/test-clock.js';

class FakeAlarms {
  readonly log: string[] = [];
  private readonly active = new Set<string>();
  has(name: string): boolean {
    return this.active.has(name);
  }
  repeat(name: string, detail: string): void {
    this.active.add(name);
    this.log.push(`raised ${detail}`);
  }
  clear(name: string, detail?: string): void {
    if (this.active.delete(name)) this.log.push(`cleared ${detail ?? ''}`);
  }
}

describe('PinVerifier', () => {
  it('judges right and wrong PINs, and answers busy past two checks running and sixteen waiting', async () => {
    const verifier = new PinVerifier();
    const hash = hashPin('2468');
    expect(await verifier.verify(hash, '2468')).toBe(true);
    expect(await verifier.verify(hash, '2469')).toBe(false);
    expect(await verifier.verify('not a hash', '2468')).toBe(false);
    const flood = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(hash, '2468')));
    expect(flood.filter((v) => v === true)).toHaveLength(18);
    expect(flood.filter((v) => v === 'busy')).toHaveLength(2);
  });
});

describe('PinLockouts', () => {
  it('raises the alarm for each locked card and clears it only when the last lockout ends', () => {
    const clock = new TestClock(Date.UTC(2026, 10, 23, 12));
    const alarms = new FakeAlarms();
    const lockouts = new PinLockouts({ alarms, clock });
    lockouts.lockedOut('aaaa1111', 'entry', new Date(clock.now().getTime() + 30_000));
    clock.advance(10_000);
    lockouts.lockedOut('bbbb2222', 'side', new Date(clock.now().getTime() + 30_000));
    expect(alarms.has(PIN_LOCKOUT_ALARM)).toBe(true);
    expect(alarms.log).toEqual([expect.stringMatching(/^raised card aaaa1111 locked out at reader entry/), expect.stringMatching(/^raised card bbbb2222 locked out at reader side/)]);
    clock.advance(20_000);
    expect(alarms.has(PIN_LOCKOUT_ALARM)).toBe(true);
    clock.advance(10_000);
    expect(alarms.has(PIN_LOCKOUT_ALARM)).toBe(false);
  });

  it('clears an alarm carried over a restart after one lockout period, and not before', () => {
    const clock = new TestClock(Date.UTC(2026, 10, 23, 12));
    const alarms = new FakeAlarms();
    alarms.repeat(PIN_LOCKOUT_ALARM, 'before the restart');
    const lockouts = new PinLockouts({ alarms, clock });
    lockouts.resume(30_000);
    clock.advance(29_000);
    expect(alarms.has(PIN_LOCKOUT_ALARM)).toBe(true);
    clock.advance(1_000);
    expect(alarms.has(PIN_LOCKOUT_ALARM)).toBe(false);
  });
});
