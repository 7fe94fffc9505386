import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeKeyEvent, inputEventSize, KEY_ENTER, keyCodeFor, KeyLineDecoder } from '../../../firmware-bridge/readers/input-events.js';
import { KeyboardWedgeReader } from '../../../firmware-bridge/readers/keyboard.js';
import type { CardTap, ReadError, ReaderStatus } from '../../../firmware-bridge/types.js';

/** What a wedge reader sends for one card: press and release of each key (Shift around a capital or `_`), then Enter. */
function typed(text: string, size: 16 | 24): Buffer {
  const events: Buffer[] = [];
  for (const char of text) {
    const code = keyCodeFor(char);
    const shifted = char !== char.toLowerCase() || char === '_';
    if (shifted) events.push(encodeKeyEvent(42, 1, size));
    events.push(encodeKeyEvent(code, 1, size), encodeKeyEvent(code, 0, size));
    if (shifted) events.push(encodeKeyEvent(42, 0, size));
  }
  events.push(encodeKeyEvent(KEY_ENTER, 1, size), encodeKeyEvent(KEY_ENTER, 0, size));
  return Buffer.concat(events);
}

describe('input_event decoding', () => {
  it('knows the struct size of the running architecture', () => {
    expect(inputEventSize('arm')).toBe(16);
    expect(inputEventSize('arm64')).toBe(24);
    expect(inputEventSize('x64')).toBe(24);
  });

  for (const size of [16, 24] as const) {
    it(`turns ${size}-byte key events into lines, across chunk boundaries`, () => {
      const decoder = new KeyLineDecoder(size);
      const bytes = Buffer.concat([typed('0012345678', size), typed('04a2b3c4', size)]);
      const lines: string[] = [];
      // split at awkward places: mid-struct
      for (let i = 0; i < bytes.length; i += 7) lines.push(...decoder.push(bytes.subarray(i, i + 7)));
      expect(lines).toEqual(['0012345678', '04a2b3c4']);
    });
  }

  it('ignores releases, autorepeat, other keys and other event types', () => {
    const size = 24;
    const sync = Buffer.alloc(size); // EV_SYN
    const shift = [encodeKeyEvent(42, 1, size), encodeKeyEvent(42, 0, size)];
    const repeat = encodeKeyEvent(keyCodeFor('5'), 2, size);
    const ctrl = encodeKeyEvent(29, 1, size);
    const decoder = new KeyLineDecoder(size);
    expect(decoder.push(Buffer.concat([sync, ...shift, ctrl, encodeKeyEvent(keyCodeFor('1'), 1, size), repeat, sync, encodeKeyEvent(KEY_ENTER, 1, size)]))).toEqual(['1']);
  });

  it("types a phone token's mixed case as a 2D scanner in keyboard mode sends it (Shift held for capitals and _)", () => {
    const token = 'OAG1.eyJjYXJkIjoi_x-Z9.Ab_c-9';
    const decoder = new KeyLineDecoder(24, 512);
    expect(decoder.push(typed(token, 24))).toEqual([token]);
  });
});

describe('keyboard-wedge reader', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function make(device: string, format?: 'lines' | 'input-events') {
    const streams: PassThrough[] = [];
    const reader = new KeyboardWedgeReader({
      id: 'wedge',
      role: 'entry',
      device,
      format,
      eventSize: 24,
      reopen: { initialMs: 100, maxMs: 400 },
      open: () => {
        const stream = new PassThrough();
        streams.push(stream);
        return stream;
      },
    });
    const taps: CardTap[] = [];
    const errors: ReadError[] = [];
    const statuses: ReaderStatus[] = [];
    reader.on('tap', (t) => taps.push(t));
    reader.on('read-error', (e) => errors.push(e));
    reader.on('status', (s) => statuses.push(s));
    return { reader, streams, taps, errors, statuses };
  }

  it('reads card numbers typed on an input device and taps them', async () => {
    const t = make('/dev/input/by-id/usb-reader-event-kbd');
    await t.reader.start();
    expect(t.statuses).toEqual([{ readerId: 'wedge', role: 'entry', online: true, detail: undefined }]);
    t.streams[0]!.write(typed('0012345678', 24));
    await vi.advanceTimersByTimeAsync(0);
    expect(t.taps.map(({ uid, readerId, role }) => ({ uid, readerId, role }))).toEqual([{ uid: '0012345678', readerId: 'wedge', role: 'entry' }]);
    await t.reader.stop();
  });

  it("passes a phone token's text on as typed (a 2D scanner), and still upper-cases card UIDs typed in lower case", async () => {
    const t = make('/dev/input/by-id/usb-qr-scanner-event-kbd');
    await t.reader.start();
    const token = `OAG1.${'eyJ2IjoxfQ_-'.repeat(20)}.${'Ab-_'.repeat(21)}xy`;
    t.streams[0]!.write(Buffer.concat([typed(token, 24), typed('04a2b3c4', 24)]));
    await vi.advanceTimersByTimeAsync(0);
    expect(t.taps.map((x) => x.uid)).toEqual([token, '04A2B3C4']);
    await t.reader.stop();
  });

  it('reads lines from stdin-like streams; a garbled line is a read error without the text in it', async () => {
    const t = make('-', 'lines');
    await t.reader.start();
    t.streams[0]!.write('04:A2:B3:C4\r\n\n00123');
    t.streams[0]!.write('45\nnot a card\n');
    await vi.advanceTimersByTimeAsync(0);
    expect(t.taps.map((x) => x.uid)).toEqual(['04A2B3C4', '0012345']);
    expect(t.errors).toHaveLength(1);
    expect(t.errors[0]!.message).not.toContain('not a card');
  });

  it('goes offline when the device is unplugged and reopens it with backoff', async () => {
    const t = make('/dev/input/by-id/usb-reader-event-kbd');
    await t.reader.start();
    t.streams[0]!.destroy(Object.assign(new Error('read error'), { code: 'ENODEV' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(t.statuses.at(-1)).toEqual({ readerId: 'wedge', role: 'entry', online: false, detail: '/dev/input/by-id/usb-reader-event-kbd: ENODEV' });
    await vi.advanceTimersByTimeAsync(100);
    expect(t.streams).toHaveLength(2);
    expect(t.statuses.at(-1)?.online).toBe(true);
    t.streams[1]!.write(typed('42', 24));
    await vi.advanceTimersByTimeAsync(0);
    expect(t.taps.map((x) => x.uid)).toEqual(['42']);
    await t.reader.stop();
  });

  it('does not reopen stdin once it has ended', async () => {
    const t = make('-', 'lines');
    await t.reader.start();
    t.streams[0]!.end();
    t.streams[0]!.resume();
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.streams).toHaveLength(1);
    expect(t.statuses.at(-1)).toMatchObject({ online: false, detail: 'stdin ended' });
  });
});

describe('keyboard-wedge reader on a real file', () => {
  it('reads the card numbers in a file of lines once, then reports it ended', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'oag-wedge-'));
    const file = join(dir, 'cards.txt');
    writeFileSync(file, '0012345678\n04A2B3C4\n');
    const reader = new KeyboardWedgeReader({ id: 'wedge', role: 'exit', device: file });
    const taps: CardTap[] = [];
    const statuses: ReaderStatus[] = [];
    reader.on('tap', (t) => taps.push(t));
    reader.on('status', (s) => statuses.push(s));
    await reader.start();
    await new Promise<void>((resolve) => reader.on('status', (s) => s.online || resolve()));
    expect(taps.map((t) => [t.uid, t.role])).toEqual([
      ['0012345678', 'exit'],
      ['04A2B3C4', 'exit'],
    ]);
    expect(statuses.map((s) => s.online)).toEqual([true, false]);
    await reader.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});
