// The desk reader (gateway/core/desk-reader.ts, firmware-bridge/config.ts `role: desk`): no door, no PIN; its next
// tap goes to the one link staff armed, within 30 s; otherwise the last tap waits 30 s for the console's lookup.
import { describe, expect, it } from 'vitest';
import { driverRole, HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { DESK_LINK_WAIT_MS, DeskReader } from '../../../gateway/core/desk-reader.js';
import { TestClock } from '../../helpers/test-clock.js';

const CARD = Buffer.alloc(32, 1);
const OTHER = Buffer.alloc(32, 2);

function problems(readers: unknown[], extra: Record<string, unknown> = {}): string[] {
  const result = HardwareConfigSchema.safeParse({ gpio: { driver: 'simulated' }, readers, ...extra });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('a desk reader in the hardware config', () => {
  it('is a reader with role desk, which its driver reports as an entry reader', () => {
    const config = HardwareConfigSchema.parse({ gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }, { id: 'desk', driver: 'pcsc', role: 'desk' }] });
    expect(config.readers[1]).toEqual({ id: 'desk', driver: 'pcsc', role: 'desk' });
    expect(driverRole(config.readers[1]!)).toBe('entry');
    expect(driverRole({ role: 'exit' })).toBe('exit');
  });

  it('has no door and no keypad, and check-config says so at the field', () => {
    expect(problems([{ id: 'desk', driver: 'simulated', role: 'desk', door: 'main' }])).toEqual(['readers.0.door: a desk reader has no door: it never opens one (leave door out)']);
    expect(problems([{ id: 'desk', driver: 'simulated', role: 'desk' }], { keypad: { driver: 'evdev', match: { name: 'Keypad' }, readerId: 'desk' } })).toEqual([
      'keypad.readerId: reader "desk" is a desk reader: it never asks for a PIN',
    ]);
  });
});

describe('the desk reader at the gateway', () => {
  it('hands the next tap to the one link armed, and refuses a second link meanwhile', () => {
    const clock = new TestClock();
    const desk = new DeskReader(['desk'], clock);
    expect(desk.isDesk('desk')).toBe(true);
    expect(desk.isDesk('entry')).toBe(false);
    const taken: Buffer[] = [];
    expect(desk.arm('desk', (card) => taken.push(card))).toMatchObject({ ok: true, expiresAt: new Date(clock.now().getTime() + DESK_LINK_WAIT_MS) });
    clock.advance(10_000);
    expect(desk.arm('desk', () => undefined)).toEqual({ ok: false, error: 'the desk reader is waiting for another card (for 20 s more): try again when that is done' });
    desk.tapped('desk', CARD);
    expect(taken).toEqual([CARD]);
    // Taken once: the next tap is nobody's link, and is there for the lookup instead.
    desk.tapped('desk', OTHER);
    expect(taken).toEqual([CARD]);
    expect(desk.takeLastTap()).toEqual({ readerId: 'desk', cardHash: OTHER });
    expect(desk.takeLastTap()).toBeUndefined();
  });

  it('stops waiting after 30 s, or when the link that armed it gives up', () => {
    const clock = new TestClock();
    const desk = new DeskReader(['desk'], clock);
    const taken: Buffer[] = [];
    const capture = (card: Buffer): void => void taken.push(card);
    desk.arm('desk', capture);
    clock.advance(DESK_LINK_WAIT_MS + 1);
    desk.tapped('desk', CARD);
    expect(taken).toEqual([]);
    // A new link may arm it now; another link's give-up does not disarm it.
    expect(desk.arm('desk', capture)).toMatchObject({ ok: true });
    desk.disarm('desk', () => undefined);
    desk.tapped('desk', CARD);
    expect(taken).toEqual([CARD]);
    desk.arm('desk', capture);
    desk.disarm('desk', capture);
    desk.tapped('desk', OTHER);
    expect(taken).toEqual([CARD]);
  });

  it('keeps the last tap for the lookup 30 s only', () => {
    const clock = new TestClock();
    const desk = new DeskReader(['desk'], clock);
    desk.tapped('desk', CARD);
    clock.advance(DESK_LINK_WAIT_MS + 1);
    expect(desk.takeLastTap()).toBeUndefined();
    expect(desk.arm('front', () => undefined)).toEqual({ ok: false, error: 'no desk reader "front"' });
  });
});
