import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { evdevKeypads, HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { encodeKeyEvent, KEY_ENTER, KEY_KPENTER } from '../../../firmware-bridge/readers/input-events.js';
import { EvdevKeypad, findInputDevice } from '../../../firmware-bridge/readers/keypad-evdev.js';
import { keypadKey, PinEntry } from '../../../firmware-bridge/readers/pin-entry.js';
import type { ReaderStatus } from '../../../firmware-bridge/types.js';

const KP = { '0': 82, '1': 79, '2': 80, '3': 81, '4': 75, '5': 76, '6': 77, '7': 71, '8': 72, '9': 73 } as const;
const TOP = { '1': 2, '2': 3, '3': 4, '4': 5, '5': 6, '6': 7, '7': 8, '8': 9, '9': 10, '0': 11 } as const;
const BACKSPACE = 14;
const KP_DOT = 83;
const NUMLOCK = 69;

function typeDigits(entry: PinEntry, digits: string, at: number, keys: Record<string, number> = KP) {
  return [...digits].map((d) => entry.press(keys[d]!, at));
}

describe('keypad keys', () => {
  it('reads digits from the numeric block and the top row alike, Enter and KP Enter as submit', () => {
    for (const d of '0123456789') {
      expect(keypadKey(KP[d as keyof typeof KP])).toEqual({ kind: 'digit', digit: d });
      expect(keypadKey(TOP[d as keyof typeof TOP])).toEqual({ kind: 'digit', digit: d });
    }
    // A keypad whose own NumLock is off sends the navigation key printed beside the digit.
    expect([110, 107, 108, 109, 105, 106, 102, 103, 104].map((code) => keypadKey(code))).toEqual(
      [...'012346789'].map((digit) => ({ kind: 'digit', digit })),
    );
    expect(keypadKey(KEY_ENTER)).toEqual({ kind: 'enter' });
    expect(keypadKey(KEY_KPENTER)).toEqual({ kind: 'enter' });
    expect(keypadKey(BACKSPACE)).toEqual({ kind: 'clear' });
    expect(keypadKey(KP_DOT)).toEqual({ kind: 'clear' });
    expect(keypadKey(NUMLOCK)).toBeUndefined();
    expect(keypadKey(30 /* A */)).toBeUndefined();
  });
});

describe('PIN entry', () => {
  it('submits the digits typed on Enter, and a clear key starts again', () => {
    const entry = new PinEntry(15_000);
    expect(typeDigits(entry, '99', 0)).toEqual([{ kind: 'key' }, { kind: 'key' }]);
    expect(entry.press(BACKSPACE, 10)).toEqual({ kind: 'key' });
    typeDigits(entry, '2468', 20, TOP);
    expect(entry.press(KEY_KPENTER, 30)).toEqual({ kind: 'pin', digits: '2468' });
    // The next PIN starts from nothing.
    typeDigits(entry, '1357', 40);
    expect(entry.press(KEY_ENTER, 50)).toEqual({ kind: 'pin', digits: '1357' });
  });

  it('refuses more digits than a PIN has at Enter, not at the 9th key, and the next entry is fresh', () => {
    const entry = new PinEntry(15_000);
    // Every key sounds the same, the 9th too: nobody near learns the length.
    expect(typeDigits(entry, '123456789', 0)).toEqual(Array(9).fill({ kind: 'key' }));
    expect(entry.press(KEY_ENTER, 1)).toEqual({ kind: 'refused', reason: 'too-long' });
    typeDigits(entry, '12345678', 2);
    expect(entry.press(KEY_ENTER, 3)).toEqual({ kind: 'pin', digits: '12345678' });
  });

  it('refuses Enter alone, and ignores keys a keypad has no use for', () => {
    const entry = new PinEntry(15_000);
    expect(entry.press(NUMLOCK, 0)).toBeUndefined();
    expect(entry.press(KEY_ENTER, 0)).toEqual({ kind: 'refused', reason: 'empty' });
  });

  it('refuses a key after the entry timed out, drops what was typed, and takes the next entry', () => {
    const entry = new PinEntry(15_000);
    typeDigits(entry, '24', 0);
    expect(entry.press(KP['6'], 15_001)).toEqual({ kind: 'refused', reason: 'timeout' });
    // The refused key started nothing: what follows is a whole new PIN.
    typeDigits(entry, '2468', 15_002);
    expect(entry.press(KEY_ENTER, 15_003)).toEqual({ kind: 'pin', digits: '2468' });
    // A pause just within the timeout is not one.
    typeDigits(entry, '13', 20_000);
    typeDigits(entry, '57', 35_000);
    expect(entry.press(KEY_ENTER, 50_000)).toEqual({ kind: 'pin', digits: '1357' });
  });
});

const PROC_DEVICES = `I: Bus=0019 Vendor=0000 Product=0001 Version=0000
N: Name="Power Button"
P: Phys=LNXPWRBN/button/input0
H: Handlers=kbd event0
B: EV=3

I: Bus=0003 Vendor=05a4 Product=9759 Version=0110
N: Name="ORTEK USB Keyboard Hub Consumer Control"
H: Handlers=event5
B: EV=1f

I: Bus=0003 Vendor=05a4 Product=9759 Version=0110
N: Name="ORTEK USB Keyboard Hub"
P: Phys=usb-0000:01:00.0-1.3/input0
H: Handlers=sysrq kbd leds event4
B: EV=120013
`;

describe('finding a keypad by name', () => {
  it('finds the keyboard device whose name matches, not its consumer-control sibling', () => {
    expect(findInputDevice(PROC_DEVICES, 'ortek usb keyboard hub')).toBe('event4');
    expect(findInputDevice(PROC_DEVICES, 'Keyboard Hub')).toBe('event4');
    expect(findInputDevice(PROC_DEVICES, 'Targus')).toBeUndefined();
  });
});

describe('evdev keypad', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function make(procDevices = '/nonexistent/proc-bus-input-devices') {
    const streams: PassThrough[] = [];
    const logged: unknown[] = [];
    const log = (...args: unknown[]): void => void logged.push(args);
    const keypad = new EvdevKeypad({
      keypads: [{ match: { name: 'ORTEK' }, readerId: 'front', role: 'entry' }],
      entryTimeoutMs: 15_000,
      eventSize: 24,
      procDevices,
      reopen: { initialMs: 100, maxMs: 400 },
      logger: { info: log, warn: log, error: log },
      open: () => {
        const stream = new PassThrough();
        streams.push(stream);
        return stream;
      },
    });
    const pins: unknown[] = [];
    const statuses: ReaderStatus[] = [];
    keypad.on('pin', (pin) => pins.push(pin));
    keypad.on('status', (status) => statuses.push(status));
    return { keypad, streams, pins, statuses, logged };
  }

  it('an unknown keypad is offline, said by name, and looked for again', async () => {
    const { keypad, statuses, streams } = make();
    await keypad.start();
    expect(statuses).toEqual([expect.objectContaining({ readerId: 'front', online: false, detail: expect.stringContaining('no input device named like "ORTEK"') })]);
    vi.advanceTimersByTime(1000);
    expect(streams).toHaveLength(0);
    await keypad.stop();
  });

  it('gives the PIN to the reader it sits at, logs nothing typed, and comes back after being unplugged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-keypad-'));
    const proc = join(dir, 'devices');
    writeFileSync(proc, PROC_DEVICES);
    const { keypad, streams, pins, statuses, logged } = make(proc);
    await keypad.start();
    expect(statuses.at(-1)).toMatchObject({ readerId: 'front', online: true });
    const press = (code: number) => Buffer.concat([encodeKeyEvent(code, 1, 24), encodeKeyEvent(code, 0, 24)]);
    streams[0]!.write(Buffer.concat([press(KP['2']), press(KP['4']), press(KP['6']), press(KP['8']), press(KEY_KPENTER)]));
    expect(pins).toEqual([{ digits: '2468', readerId: 'front' }]);
    expect(JSON.stringify(logged)).not.toMatch(/2468|\b4\b/);

    streams[0]!.emit('error', Object.assign(new Error('gone'), { code: 'ENODEV' }));
    expect(statuses.at(-1)).toMatchObject({ online: false });
    vi.advanceTimersByTime(100);
    expect(streams).toHaveLength(2);
    expect(statuses.at(-1)).toMatchObject({ online: true });
    await keypad.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('keypad config', () => {
  const hardware = (keypad: unknown) => ({
    gpio: { driver: 'simulated' },
    readers: [
      { id: 'front', driver: 'simulated', role: 'entry' },
      { id: 'inside', driver: 'simulated', role: 'exit' },
    ],
    keypad,
  });
  const problems = (keypad: unknown): string[] => {
    const result = HardwareConfigSchema.safeParse(hardware(keypad));
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('takes one evdev keypad or a list, and keeps none and simulated', () => {
    const one = HardwareConfigSchema.parse(hardware({ driver: 'evdev', match: { name: 'Keypad' }, readerId: 'front' }));
    expect(evdevKeypads(one.keypad)).toEqual([{ driver: 'evdev', match: { name: 'Keypad' }, readerId: 'front' }]);
    const list = HardwareConfigSchema.parse(hardware([{ driver: 'evdev', match: { path: '/dev/input/event3' }, readerId: 'front' }]));
    expect(evdevKeypads(list.keypad)).toHaveLength(1);
    expect(HardwareConfigSchema.parse(hardware(undefined)).keypad).toEqual({ driver: 'none' });
    expect(evdevKeypads(HardwareConfigSchema.parse(hardware({ driver: 'simulated' })).keypad)).toEqual([]);
  });

  it('refuses a keypad at an unknown or exit reader, two at one reader, and a match with both or neither', () => {
    expect(problems({ driver: 'evdev', match: { name: 'Keypad' }, readerId: 'back' })).toEqual(['keypad.readerId: no reader with id "back"']);
    expect(problems({ driver: 'evdev', match: { name: 'Keypad' }, readerId: 'inside' })).toEqual([
      'keypad.readerId: reader "inside" is an exit reader: exits never ask for a PIN',
    ]);
    const twice = { driver: 'evdev', match: { name: 'Keypad' }, readerId: 'front' };
    expect(problems([twice, twice])).toEqual(['keypad.1.readerId: reader "front" already has a keypad']);
    expect(problems({ driver: 'evdev', match: { name: 'Keypad', path: '/dev/input/event3' }, readerId: 'front' }).join()).toContain('give exactly one of name or path');
    expect(problems({ driver: 'evdev', match: {}, readerId: 'front' }).join()).toContain('give exactly one of name or path');
  });
});
