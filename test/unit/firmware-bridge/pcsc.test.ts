// The PC/SC driver's own logic against a fake nfc-pcsc: naming readers, reading UIDs, read errors,
// hot-plug and rebuilding the context when pcscd goes away. The real stack is in test/system/pcsc-reader.test.ts.
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import { PcscCardReader, PcscUnavailableError, type NfcPcscModule, type PcscReaderEntry } from '../../../firmware-bridge/readers/pcsc.js';
import type { CardTap, ReadError, ReaderStatus } from '../../../firmware-bridge/types.js';
import { recordingLogger } from './fakes.js';

const ATR = Buffer.from('3B8F8001804F0CA000000306030001000000006A', 'hex');

class FakeDevice extends EventEmitter {
  autoProcessing = true;
  readonly reader = { closed: false, close: () => void (this.reader.closed = true) };
  connectFails = false;
  /** What the card answers to GET UID: bytes (status included) or an error. */
  answer: Buffer | Error = Buffer.from([0x04, 0xa2, 0xb3, 0xc4, 0x90, 0x00]);
  transmits = 0;
  constructor(readonly name: string) {
    super();
  }
  async connect(): Promise<unknown> {
    if (this.connectFails) throw new Error('SCardConnect error: Card was removed. (0x80100069)');
    return {};
  }
  async transmit(data: Buffer): Promise<Buffer> {
    this.transmits += 1;
    expect(data).toEqual(Buffer.from([0xff, 0xca, 0, 0, 0]));
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
  /** As nfc-pcsc does on a card insertion: connect, then 'card' once (autoProcessing off), or emit(err) on failure. */
  insert(): void {
    this.connect().then(
      () => (this.autoProcessing ? this.emit('card', { atr: ATR, uid: 'auto' }) : this.emit('card', { atr: ATR, standard: 'TAG_ISO_14443_3' })),
      (err: Error) => this.emit(err as unknown as string),
    );
  }
}

function fakeNfcModule() {
  const contexts: FakeContext[] = [];
  class FakeContext extends EventEmitter {
    closed = false;
    constructor() {
      super();
      contexts.push(this);
    }
    close(): void {
      this.closed = true;
    }
    plug(name: string): FakeDevice {
      const device = new FakeDevice(name);
      this.emit('reader', device);
      return device;
    }
  }
  return { module: { NFC: FakeContext } as NfcPcscModule, contexts };
}

const ENTRIES: PcscReaderEntry[] = [
  { id: 'entry', role: 'entry', namePattern: 'ACR122|00 00' },
  { id: 'exit', role: 'exit', namePattern: '00 01' },
];

function make(options: { up?: () => boolean; entries?: PcscReaderEntry[] } = {}) {
  const nfc = fakeNfcModule();
  const { logger, lines } = recordingLogger();
  let probes = 0;
  const reader = new PcscCardReader({
    entries: options.entries ?? ENTRIES,
    nfc: nfc.module,
    logger,
    probeService: async () => {
      probes += 1;
      return options.up?.() ?? true;
    },
    backoff: { initialMs: 100, maxMs: 1000 },
    appearGraceMs: 500,
  });
  const taps: CardTap[] = [];
  const errors: ReadError[] = [];
  const statuses: ReaderStatus[] = [];
  reader.on('tap', (t) => taps.push(t));
  reader.on('read-error', (e) => errors.push(e));
  reader.on('status', (s) => statuses.push(s));
  return { reader, nfc, lines, taps, errors, statuses, probes: () => probes };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe('PC/SC card reader', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('tells entry and exit readers apart by name and reads normalised UIDs itself', async () => {
    const t = make();
    await t.reader.start();
    const ctx = t.nfc.contexts[0]!;
    const entry = ctx.plug('ACS ACR122U PICC Interface 00 00');
    const exit = ctx.plug('ACS ACR1252 1S CL Reader PICC 00 01');
    expect(entry.autoProcessing).toBe(false);
    expect(t.statuses).toEqual([
      { readerId: 'entry', role: 'entry', online: true, detail: undefined, readerName: 'ACS ACR122U PICC Interface 00 00' },
      { readerId: 'exit', role: 'exit', online: true, detail: undefined, readerName: 'ACS ACR1252 1S CL Reader PICC 00 01' },
    ]);
    entry.insert();
    exit.answer = Buffer.from('0411223344556690 00'.replace(' ', ''), 'hex');
    exit.insert();
    await flush();
    expect(t.taps.map(({ uid, readerId, role, readerName }) => ({ uid, readerId, role, readerName }))).toEqual([
      { uid: '04A2B3C4', readerId: 'entry', role: 'entry', readerName: 'ACS ACR122U PICC Interface 00 00' },
      { uid: '04112233445566', readerId: 'exit', role: 'exit', readerName: 'ACS ACR1252 1S CL Reader PICC 00 01' },
    ]);
    expect(typeof t.taps[0]?.seenAt).toBe('bigint');
    await t.reader.stop();
  });

  it('ignores readers that match no configured reader (an ACR1252U SAM slot), with an error listener so nothing throws', async () => {
    const t = make();
    await t.reader.start();
    const sam = t.nfc.contexts[0]!.plug('ACS ACR1252 1S CL Reader SAM 0');
    expect(() => sam.emit('error', new Error('SCardGetStatusChange error'))).not.toThrow();
    sam.insert();
    await flush();
    expect(t.taps).toEqual([]);
    expect(t.lines.some((l) => l.msg.includes('matches no configured reader'))).toBe(true);
    await t.reader.stop();
  });

  it('reports a card that fails to read as a read error, never a tap', async () => {
    const t = make();
    await t.reader.start();
    const entry = t.nfc.contexts[0]!.plug('Virtual PCD 00 00');
    entry.answer = Buffer.from([0x6a, 0x81]);
    entry.insert();
    await flush();
    entry.answer = new Error('SCardTransmit error: Card was removed.(0x80100069)');
    entry.insert();
    await flush();
    entry.connectFails = true;
    entry.insert();
    await flush();
    expect(t.taps).toEqual([]);
    expect(t.errors.map((e) => [e.readerId, e.message])).toEqual([
      ['entry', 'card refused the UID request (status 6A81)'],
      ['entry', 'card did not answer the UID request: SCardTransmit error: Card was removed.(0x80100069)'],
      ['entry', 'card could not be connected: SCardConnect error: Card was removed. (0x80100069)'],
    ]);
  });

  it('reports a reader unplugged as offline and picks it up again when plugged back', async () => {
    const t = make();
    await t.reader.start();
    const ctx = t.nfc.contexts[0]!;
    const first = ctx.plug('Virtual PCD 00 00');
    first.emit('end');
    expect(t.statuses.at(-1)).toMatchObject({ readerId: 'entry', online: false, detail: 'reader removed: Virtual PCD 00 00' });
    await flush();
    expect(first.reader.closed).toBe(true); // its finished monitor thread is joined
    const again = ctx.plug('Virtual PCD 00 00');
    expect(t.statuses.at(-1)).toMatchObject({ readerId: 'entry', online: true });
    again.insert();
    await flush();
    expect(t.taps).toHaveLength(1);
  });

  it('reports a configured reader that never appears as offline after a grace time', async () => {
    const t = make();
    await t.reader.start();
    t.nfc.contexts[0]!.plug('Virtual PCD 00 00');
    await vi.advanceTimersByTimeAsync(499);
    expect(t.statuses.filter((s) => !s.online)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.statuses.filter((s) => !s.online)).toEqual([
      { readerId: 'exit', role: 'exit', online: false, detail: 'no matching PC/SC reader connected', readerName: undefined },
    ]);
  });

  it('rebuilds the PC/SC context when pcscd dies, and ignores the dead one', async () => {
    let up = true;
    const t = make({ up: () => up });
    await t.reader.start();
    const old = t.nfc.contexts[0]!;
    const oldEntry = old.plug('Virtual PCD 00 00');
    old.plug('Virtual PCD 00 01');
    up = false;
    old.emit('error', new Error('SCardGetStatusChange error: Service not available. (0x8010001D)'));
    expect(old.closed).toBe(true);
    expect(oldEntry.reader.closed).toBe(true);
    expect(t.statuses.slice(-2).map((s) => [s.readerId, s.online, s.detail])).toEqual([
      ['entry', false, 'PC/SC service stopped: SCardGetStatusChange error: Service not available. (0x8010001D)'],
      ['exit', false, 'PC/SC service stopped: SCardGetStatusChange error: Service not available. (0x8010001D)'],
    ]);
    // while pcscd is down, no context is built (pcsclite would spin on the main thread)
    await vi.advanceTimersByTimeAsync(2000);
    expect(t.nfc.contexts).toHaveLength(1);
    expect(t.statuses.at(-1)?.detail).toBe('PC/SC service (pcscd) is not running');
    up = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.nfc.contexts).toHaveLength(2);
    const fresh = t.nfc.contexts[1]!.plug('Virtual PCD 00 00');
    expect(t.statuses.at(-1)).toMatchObject({ readerId: 'entry', online: true });
    // the dead context's late events change nothing
    oldEntry.emit('end');
    oldEntry.emit('card', {});
    expect(t.statuses.at(-1)).toMatchObject({ readerId: 'entry', online: true });
    fresh.insert();
    await flush();
    expect(t.taps).toHaveLength(1);
    await t.reader.stop();
  });

  it('backs off while pcscd is missing: doubling delays, capped, and stops retrying on stop', async () => {
    const t = make({ up: () => false });
    await t.reader.start();
    expect(t.statuses.map((s) => [s.readerId, s.online, s.detail])).toEqual([
      ['entry', false, 'PC/SC service (pcscd) is not running'],
      ['exit', false, 'PC/SC service (pcscd) is not running'],
    ]);
    expect(t.probes()).toBe(1);
    // retries at +100, +200, +400, +800, then every 1000 ms
    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800);
    expect(t.probes()).toBe(5);
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.probes()).toBe(10);
    expect(t.statuses).toHaveLength(2);
    await t.reader.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.probes()).toBe(10);
    expect(t.nfc.contexts).toHaveLength(0);
  });

  it('without nfc-pcsc, says why and keeps the branch running on its other readers', async () => {
    const { logger, lines } = recordingLogger();
    const hw = await createHardware(
      HardwareConfigSchema.parse({
        gpio: { driver: 'simulated' },
        readers: [
          { id: 'entry', driver: 'pcsc', role: 'entry' },
          { id: 'desk', driver: 'simulated', role: 'entry' },
        ],
      }),
      { logger, drivers: { loadNfc: () => Promise.reject(new PcscUnavailableError(new Error('libpcsclite.so.1: cannot open shared object file'))) } },
    );
    const message =
      'PC/SC reader unavailable: nfc-pcsc could not be loaded (install libpcsclite-dev and pcscd, then run npm install again: npm skips nfc-pcsc when libpcsclite-dev is missing, and npm rebuild does not bring it back): libpcsclite.so.1: cannot open shared object file';
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toContain(message);
    const statuses: ReaderStatus[] = [];
    const taps: CardTap[] = [];
    for (const reader of hw.readers) {
      reader.on('status', (s) => statuses.push(s));
      reader.on('tap', (tap) => taps.push(tap));
      await reader.start();
    }
    expect(statuses).toContainEqual({ readerId: 'entry', role: 'entry', online: false, detail: message, readerName: undefined });
    expect(statuses).toContainEqual({ readerId: 'desk', role: 'entry', online: true, detail: undefined });
    hw.simulated?.reader?.tap('04a2b3c4');
    expect(taps.map((t) => t.readerId)).toEqual(['desk']);
    await hw.close();
  });

  it('loads the real nfc-pcsc lazily, or fails with the message that says how to fix it', async () => {
    const { loadNfcPcsc } = await import('../../../firmware-bridge/readers/pcsc.js');
    const outcome = await loadNfcPcsc().then(
      (mod) => ({ loaded: typeof mod.NFC === 'function' }),
      (error: Error) => ({ message: error.message }),
    );
    if ('loaded' in outcome) expect(outcome.loaded).toBe(true);
    else expect(outcome.message).toMatch(/^PC\/SC reader unavailable: nfc-pcsc could not be loaded \(install libpcsclite-dev and pcscd, then run npm install again: npm skips nfc-pcsc when libpcsclite-dev is missing, and npm rebuild does not bring it back\): /);
  });
});
