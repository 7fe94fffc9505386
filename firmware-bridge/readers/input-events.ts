// Key presses from a Linux input device (/dev/input/event*), as a USB keyboard-wedge reader types them.
// struct input_event is a struct timeval (two longs) then u16 type, u16 code, s32 value: 24 bytes for a
// 64-bit process, 16 bytes for a 32-bit one (armhf), whatever the time_t of the userland.

const EV_KEY = 1;
const KEY_PRESS = 1;
export const KEY_ENTER = 28;
export const KEY_KPENTER = 96;

/** Key codes (linux/input-event-codes.h) of the characters a wedge reader types: digits 2–11, hex letters. */
const KEY_CHARS = new Map<number, string>([
  [2, '1'], [3, '2'], [4, '3'], [5, '4'], [6, '5'], [7, '6'], [8, '7'], [9, '8'], [10, '9'], [11, '0'],
  [30, 'A'], [48, 'B'], [46, 'C'], [32, 'D'], [18, 'E'], [33, 'F'],
]);

export function inputEventSize(arch: string = process.arch): 16 | 24 {
  return arch === 'arm' || arch === 'ia32' ? 16 : 24;
}

/** Turns a byte stream of input_event structs into the codes of keys pressed; partial structs wait for the next chunk. */
export class KeyPressDecoder {
  private pending = Buffer.alloc(0);

  constructor(private readonly eventSize: 16 | 24 = inputEventSize()) {}

  /** The key codes pressed in this chunk, in order (releases, repeats and other event types are left out). */
  push(chunk: Buffer): number[] {
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const codes: number[] = [];
    const whole = data.length - (data.length % this.eventSize);
    const typeAt = this.eventSize - 8;
    for (let offset = 0; offset < whole; offset += this.eventSize) {
      if (data.readUInt16LE(offset + typeAt) !== EV_KEY) continue;
      if (data.readInt32LE(offset + typeAt + 4) !== KEY_PRESS) continue;
      codes.push(data.readUInt16LE(offset + typeAt + 2));
    }
    this.pending = Buffer.from(data.subarray(whole));
    return codes;
  }
}

/** Turns a byte stream of input_event structs into typed lines; partial structs wait for the next chunk. */
export class KeyLineDecoder {
  private readonly keys: KeyPressDecoder;
  private line = '';

  constructor(
    eventSize: 16 | 24 = inputEventSize(),
    private readonly maxLine = 64,
  ) {
    this.keys = new KeyPressDecoder(eventSize);
  }

  /** Returns the lines completed by this chunk (Enter ends a line); overlong lines are cut to maxLine. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    for (const code of this.keys.push(chunk)) {
      if (code === KEY_ENTER || code === KEY_KPENTER) {
        lines.push(this.line);
        this.line = '';
        continue;
      }
      const char = KEY_CHARS.get(code);
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
  for (const [code, c] of KEY_CHARS) if (c === char.toUpperCase()) return code;
  throw new RangeError(`no key code for ${JSON.stringify(char)}`);
}
