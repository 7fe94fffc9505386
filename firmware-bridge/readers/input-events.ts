// Key presses from a Linux input device (/dev/input/event*), as a USB keyboard-wedge reader types them.
// struct input_event is a struct timeval (two longs) then u16 type, u16 code, s32 value: 24 bytes for a
// 64-bit process, 16 bytes for a 32-bit one (armhf), whatever the time_t of the userland.

const EV_KEY = 1;
const KEY_PRESS = 1;
export const KEY_ENTER = 28;
export const KEY_KPENTER = 96;

/**
 * Key codes (linux/input-event-codes.h) of the characters a wedge reader types, as a US-layout keyboard gives them
 * unshifted and shifted: digits and letters for card numbers, and `-` `_` `.` besides for a phone token's text (a 2D
 * scanner in keyboard mode types its mixed case with Shift).
 */
const KEY_CHARS = new Map<number, [string, string]>([
  [2, ['1', '!']], [3, ['2', '@']], [4, ['3', '#']], [5, ['4', '$']], [6, ['5', '%']], [7, ['6', '^']], [8, ['7', '&']], [9, ['8', '*']], [10, ['9', '(']], [11, ['0', ')']],
  [12, ['-', '_']], [52, ['.', '>']],
  ...[...'qwertyuiop'].map((c, i): [number, [string, string]] => [16 + i, [c, c.toUpperCase()]]),
  ...[...'asdfghjkl'].map((c, i): [number, [string, string]] => [30 + i, [c, c.toUpperCase()]]),
  ...[...'zxcvbnm'].map((c, i): [number, [string, string]] => [44 + i, [c, c.toUpperCase()]]),
]);
const KEY_LEFTSHIFT = 42;
const KEY_RIGHTSHIFT = 54;

export function inputEventSize(arch: string = process.arch): 16 | 24 {
  return arch === 'arm' || arch === 'ia32' ? 16 : 24;
}

/** Turns a byte stream of input_event structs into the codes of keys pressed; partial structs wait for the next chunk. */
export class KeyPressDecoder {
  private pending = Buffer.alloc(0);

  constructor(private readonly eventSize: 16 | 24 = inputEventSize()) {}

  /** The key codes pressed in this chunk, in order (releases, repeats and other event types are left out). */
  push(chunk: Buffer): number[] {
    return this.keyEvents(chunk)
      .filter((e) => e.value === KEY_PRESS)
      .map((e) => e.code);
  }

  /** Every key event in this chunk, presses (1), releases (0) and repeats (2), in order: Shift is held between them. */
  keyEvents(chunk: Buffer): Array<{ code: number; value: number }> {
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const events: Array<{ code: number; value: number }> = [];
    const whole = data.length - (data.length % this.eventSize);
    const typeAt = this.eventSize - 8;
    for (let offset = 0; offset < whole; offset += this.eventSize) {
      if (data.readUInt16LE(offset + typeAt) !== EV_KEY) continue;
      events.push({ code: data.readUInt16LE(offset + typeAt + 2), value: data.readInt32LE(offset + typeAt + 4) });
    }
    this.pending = Buffer.from(data.subarray(whole));
    return events;
  }
}

/** Turns a byte stream of input_event structs into typed lines; partial structs wait for the next chunk. */
export class KeyLineDecoder {
  private readonly keys: KeyPressDecoder;
  private line = '';
  private shifts = new Set<number>();

  constructor(
    eventSize: 16 | 24 = inputEventSize(),
    private readonly maxLine = 64,
  ) {
    this.keys = new KeyPressDecoder(eventSize);
  }

  /** Returns the lines completed by this chunk (Enter ends a line), as typed (Shift for capitals); overlong lines are cut to maxLine. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    for (const { code, value } of this.keys.keyEvents(chunk)) {
      if (code === KEY_LEFTSHIFT || code === KEY_RIGHTSHIFT) {
        if (value === KEY_PRESS) this.shifts.add(code);
        else if (value === 0) this.shifts.delete(code);
        continue;
      }
      if (value !== KEY_PRESS) continue;
      if (code === KEY_ENTER || code === KEY_KPENTER) {
        lines.push(this.line);
        this.line = '';
        continue;
      }
      const char = KEY_CHARS.get(code)?.[this.shifts.size > 0 ? 1 : 0];
      if (char !== undefined && this.line.length < this.maxLine) this.line += char;
    }
    return lines;
  }
}

/** One input_event struct, little-endian (the Pi and x86): for tests and fakes. */
export function encodeKeyEvent(code: number, value: number, eventSize: 16 | 24 = inputEventSize()): Buffer {
  const event = Buffer.alloc(eventSize);
  const typeAt = eventSize - 8;
  event.writeUInt16LE(EV_KEY, typeAt);
  event.writeUInt16LE(code, typeAt + 2);
  event.writeInt32LE(value, typeAt + 4);
  return event;
}

/** The key code that types a character, for tests and fakes. */
export function keyCodeFor(char: string): number {
  for (const [code, [plain, shifted]] of KEY_CHARS) if (plain === char || shifted === char) return code;
  throw new RangeError(`no key code for ${JSON.stringify(char)}`);
}
