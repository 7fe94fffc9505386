// A PIN typed on a numeric keypad, key by key: digits (top row or numeric block), Enter to submit, and the
// keypad's other keys to start again. Pure: the driver feeds it key codes and the time, and acts on the answer.
import { KEY_ENTER, KEY_KPENTER } from './input-events.js';

/** The longest PIN a member can have (policies/pin.ts PIN_PATTERN); a 9th digit spoils the entry. */
export const MAX_PIN_DIGITS = 8;

export type KeypadKey = { kind: 'digit'; digit: string } | { kind: 'enter' } | { kind: 'clear' };

/**
 * Key codes from linux/input-event-codes.h: KEY_1…KEY_0, KEY_KP0…KEY_KP9, and the navigation keys printed on the
 * same keys of a numeric block (Insert 0, End 1, Down 2, PgDn 3, Left 4, Right 6, Home 7, Up 8, PgUp 9): keypads
 * that keep NumLock in their own firmware (Targus/Ortek) send those while their NumLock light is off.
 */
const DIGITS = new Map<number, string>([
  [2, '1'], [3, '2'], [4, '3'], [5, '4'], [6, '5'], [7, '6'], [8, '7'], [9, '8'], [10, '9'], [11, '0'],
  [82, '0'], [79, '1'], [80, '2'], [81, '3'], [75, '4'], [76, '5'], [77, '6'], [71, '7'], [72, '8'], [73, '9'],
  [110, '0'], [107, '1'], [108, '2'], [109, '3'], [105, '4'], [106, '6'], [102, '7'], [103, '8'], [104, '9'],
]);

/**
 * Clear: the keys a numeric keypad has besides digits and Enter (Backspace, Esc, Del, and the numeric block's
 * . * / - +), so whichever one a keypad labels "clear" works. A member cannot see what was typed, so Clear wipes
 * the whole entry rather than one digit. NumLock and anything else are ignored (the kernel sends the same
 * numeric-block codes whatever NumLock's state).
 */
const CLEAR = new Set([14, 1, 111, 83, 55, 98, 74, 78]);

export function keypadKey(code: number): KeypadKey | undefined {
  const digit = DIGITS.get(code);
  if (digit !== undefined) return { kind: 'digit', digit };
  if (code === KEY_ENTER || code === KEY_KPENTER) return { kind: 'enter' };
  if (CLEAR.has(code)) return { kind: 'clear' };
  return undefined;
}

export type PinRefusal = 'timeout' | 'too-long' | 'empty';

/**
 * What a key press did: `key` (taken; the same sound whatever the key), `pin` (submitted), `refused` (the entry
 * is dropped), or undefined for a key the keypad ignores.
 */
export type PinEntryResult = { kind: 'key' } | { kind: 'pin'; digits: string } | { kind: 'refused'; reason: PinRefusal };

export class PinEntry {
  private digits = '';
  private tooLong = false;
  private lastKeyAt: number | undefined;

  /** `timeoutMs`: the longest pause between two keys of one entry; a key after it is refused and starts nothing. */
  constructor(private readonly timeoutMs: number) {}

  press(code: number, nowMs: number): PinEntryResult | undefined {
    const key = keypadKey(code);
    if (key === undefined) return undefined;
    if (this.lastKeyAt !== undefined && nowMs - this.lastKeyAt > this.timeoutMs) {
      this.reset();
      return { kind: 'refused', reason: 'timeout' };
    }
    if (key.kind === 'clear') {
      this.reset();
      return { kind: 'key' };
    }
    if (key.kind === 'enter') {
      const { digits, tooLong } = this;
      this.reset();
      if (tooLong) return { kind: 'refused', reason: 'too-long' };
      if (digits === '') return { kind: 'refused', reason: 'empty' };
      return { kind: 'pin', digits };
    }
    this.lastKeyAt = nowMs;
    // Kept to the end of the entry rather than refused at once: an onlooker learns nothing of the length.
    if (this.digits.length >= MAX_PIN_DIGITS) this.tooLong = true;
    else this.digits += key.digit;
    return { kind: 'key' };
  }

  private reset(): void {
    this.digits = '';
    this.tooLong = false;
    this.lastKeyAt = undefined;
  }
}
