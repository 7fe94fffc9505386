// PIN at the keypad (card + PIN) and the people counter, on the real gateway with fake time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashPin } from '../../policies/pin.js';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { removeDir, startHarness, TEST_KEY_HEX } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const policy = (rules: Record<string, unknown>) => ({
  version: 1,
  site: 'town-central',
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
  rules,
});

let harness: Harness | undefined;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-11-23T12:00:00Z'));
});
afterEach(async () => {
  await harness?.stop();
  if (harness) removeDir(harness.dir);
  harness = undefined;
  vi.useRealTimers();
});

describe('card + PIN', () => {
  it('asks for the PIN, refuses a wrong one, locks out after five and lets the right one in after the lockout', async () => {
    harness = await startHarness({
      policy: policy({ pin: 'open-access', pinMaxAttempts: 5, pinLockoutSeconds: 30 }),
      members: { '04A1B2C3D4': { pinHash: hashPin('2468') } },
      config: {
        hardware: {
          gpio: { driver: 'simulated' },
          inputs: { doorContact: { debounceMs: 0 } },
          readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
          keypad: { driver: 'simulated' },
        },
      },
    });
    const h = harness;
    const keypad = h.running.hardware.simulated!.keypad!;
    const attempt = async (pin: string): Promise<void> => {
      vi.advanceTimersByTime(3100); // past the repeat window
      h.tap('04A1B2C3D4');
      keypad.enter(pin);
      await h.running.gateway.access.pinChecksDone();
    };
    for (let i = 0; i < 5; i += 1) await attempt('1111');
    expect(h.reasons()).toEqual([...Array(5).fill(['pin-required', 'pin-wrong'])].flat());
    expect(h.doorRelayActive()).toBe(false);

    vi.advanceTimersByTime(3100);
    h.tap('04A1B2C3D4');
    expect(h.reasons().at(-1)).toBe('pin-locked');

    vi.advanceTimersByTime(30_000);
    await attempt('2468');
    expect(h.reasons().slice(-2)).toEqual(['pin-required', 'member']);
    expect(h.doorRelayActive()).toBe(true);
    // A grant resets the count: one wrong PIN later is not a lockout.
    vi.advanceTimersByTime(6000);
    await attempt('1111');
    expect(h.reasons().at(-1)).toBe('pin-wrong');
  });

  it('ignores a PIN typed when no tap asked for one, and one typed after the prompt timed out', async () => {
    harness = await startHarness({
      policy: policy({ pin: 'always' }),
      members: { '04A1B2C3D4': { pinHash: hashPin('2468') } },
      config: { hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }], keypad: { driver: 'simulated' } } },
    });
    const keypad = harness.running.hardware.simulated!.keypad!;
    keypad.enter('2468');
    expect(harness.reasons()).toEqual([]);
    harness.tap('04A1B2C3D4');
    vi.advanceTimersByTime(16_000);
    keypad.enter('2468');
    await harness.running.gateway.access.pinChecksDone();
    expect(harness.reasons()).toEqual(['pin-required']);
    expect(harness.doorRelayActive()).toBe(false);
  });
});

describe('PIN checks off the event loop, and the lockout alarm', () => {
  it('decides a tap at another reader while PINs are being checked, then each PIN at its own reader', async () => {
    harness = await startHarness({
      policy: policy({ pin: 'open-access' }),
      members: { '04A1B2C3D4': { pinHash: hashPin('2468') }, '04A1B2C3D5': { pinHash: hashPin('1357') }, '04CAFE0001': { staff: true } },
      config: {
        hardware: {
          gpio: { driver: 'simulated' },
          readers: [
            { id: 'entry', driver: 'simulated', role: 'entry' },
            { id: 'side', driver: 'simulated', role: 'entry' },
            { id: 'back', driver: 'simulated', role: 'entry' },
          ],
          keypad: { driver: 'simulated' },
        },
      },
    });
    const h = harness;
    const keypad = h.running.hardware.simulated!.keypad!;
    h.tap('04A1B2C3D4', 'entry');
    h.tap('04A1B2C3D5', 'side');
    keypad.enter('2468', 'entry');
    keypad.enter('0000', 'side');
    // Both PINs are with scrypt on the thread pool: the staff card at the third reader is decided meanwhile.
    h.tap('04CAFE0001', 'back');
    expect(h.reasons()).toEqual(['pin-required', 'pin-required', 'staff']);
    await h.running.gateway.access.pinChecksDone();
    // The two checks finish in whichever order the thread pool does them; each answers its own card.
    const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
    const person = (card: string): string => h.running.gateway.pseudonym(hash(normaliseCardId(card)));
    const answers = h.events.filter((e) => e.type === 'access').slice(3);
    expect(Object.fromEntries(answers.map((e) => [String(e.person), e.reason]))).toEqual({
      [person('04A1B2C3D4')]: 'member',
      [person('04A1B2C3D5')]: 'pin-wrong',
    });
  });

  it('raises pin-lockout with the pseudonym and reader when wrong PINs lock a card, and clears it when the lockout ends', async () => {
    harness = await startHarness({
      policy: policy({ pin: 'open-access', pinMaxAttempts: 3, pinLockoutSeconds: 60 }),
      members: { '04A1B2C3D4': { pinHash: hashPin('2468') } },
      config: { hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }], keypad: { driver: 'simulated' } } },
    });
    const h = harness;
    const keypad = h.running.hardware.simulated!.keypad!;
    const lockoutAlarms = () => h.events.flatMap((e) => (e.type === 'alarm' && e.alarm === 'pin-lockout' ? [e] : []));
    for (let i = 0; i < 3; i += 1) {
      vi.advanceTimersByTime(3100);
      h.tap('04A1B2C3D4');
      keypad.enter('1111');
      await h.running.gateway.access.pinChecksDone();
      expect(lockoutAlarms()).toHaveLength(i < 2 ? 0 : 1);
    }
    const [raised] = lockoutAlarms();
    expect(raised).toMatchObject({ state: 'raised', severity: 'major' });
    const person = h.events.find((e) => e.type === 'access')!.person as string;
    expect(raised!.detail).toContain(person);
    expect(raised!.detail).toContain('entry');
    expect(JSON.stringify(h.events)).not.toContain('04A1B2C3D4');
    expect(h.running.gateway.alarms.has('pin-lockout')).toBe(true);

    vi.advanceTimersByTime(59_000);
    expect(h.running.gateway.alarms.has('pin-lockout')).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(h.running.gateway.alarms.has('pin-lockout')).toBe(false);
    expect(lockoutAlarms().at(-1)).toMatchObject({ state: 'cleared' });
  });
});

describe('people counter', () => {
  it('counts entries and exits from the counter and reports tailgating when more came in than were granted', async () => {
    harness = await startHarness({
      policy: policy({}),
      members: { '04A1B2C3D4': {} },
      config: {
        hardware: {
          gpio: { driver: 'simulated' },
          inputs: { doorContact: { debounceMs: 0 }, counterIn: { debounceMs: 0 }, counterOut: { debounceMs: 0 } },
          readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
        },
      },
    });
    const h = harness;
    // A second apart: people, not a relay's contact bouncing.
    const pulse = (name: 'counterIn' | 'counterOut'): void => {
      h.input(name, true);
      h.input(name, false);
      vi.advanceTimersByTime(1000);
    };
    h.tap('04A1B2C3D4');
    h.input('doorContact', true);
    pulse('counterIn');
    pulse('counterIn');
    h.input('doorContact', false);
    expect(h.running.gateway.occupancy.inside).toBe(2);
    expect(h.events.filter((e) => e.type === 'occupancy' && e.change === 'tailgate')).toHaveLength(1);

    pulse('counterOut');
    pulse('counterOut');
    pulse('counterOut');
    expect(h.running.gateway.occupancy.inside).toBe(0);
  });
});
