// Keyboard-wedge readers: USB HID devices (barcode and many library-card readers) that type the card number
// and press Enter. Read from an input device (/dev/input/by-id/…-event-kbd, key events), a file or FIFO of
// lines, or stdin (`-`). Input devices are reopened when they come back after being unplugged.
import { EventEmitter } from 'node:events';
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { errorField, silentLogger, type HardwareLogger } from '../logger.js';
import type { CardReader, CardReaderEvents, ReaderRole } from '../types.js';
import { inputEventSize, KeyLineDecoder } from './input-events.js';
import { readerText } from './uid.js';

export interface KeyboardReaderOptions {
  id: string;
  role: ReaderRole;
  /** `-` for stdin, a /dev/input event device, or any other file or FIFO of lines. */
  device: string;
  logger?: HardwareLogger;
  /** How to open the device; default: stdin for `-`, else a read stream. Tests pass a fake stream. */
  open?: (device: string) => Readable;
  /** Default: input events for paths under /dev/input/, lines otherwise. */
  format?: 'lines' | 'input-events';
  eventSize?: 16 | 24;
  /** Reopen delay after an input device disappears: doubles from initialMs up to maxMs. */
  reopen?: { initialMs: number; maxMs: number };
}

export class KeyboardWedgeReader extends EventEmitter<CardReaderEvents> implements CardReader {
  readonly kind = 'keyboard' as const;
  private readonly logger: HardwareLogger;
  private readonly format: 'lines' | 'input-events';
  private stream: Readable | undefined;
  private running = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private online: boolean | undefined;

  constructor(private readonly options: KeyboardReaderOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.format = options.format ?? (options.device.startsWith('/dev/input/') ? 'input-events' : 'lines');
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.openDevice();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.closeStream();
  }

  private openDevice(): void {
    if (!this.running) return;
    const { device } = this.options;
    let stream: Readable;
    try {
      stream = this.options.open ? this.options.open(device) : device === '-' ? process.stdin : createReadStream(device);
    } catch (error) {
      this.lost(`cannot open ${device}: ${errorField(error).message}`);
      return;
    }
    this.stream = stream;
    const decode = this.decoder();
    stream.on('data', (chunk: Buffer | string) => {
      for (const line of decode(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) this.onLine(line);
    });
    stream.once('error', (error: NodeJS.ErrnoException) => {
      if (stream === this.stream) this.lost(`${device}: ${error.code ?? error.message}`);
    });
    stream.once('end', () => {
      if (stream === this.stream) this.lost(`${device === '-' ? 'stdin' : device} ended`);
    });
    const ready = (): void => {
      this.failures = 0;
      this.setOnline(true, undefined);
    };
    if ((stream as { pending?: boolean }).pending === true) stream.once('ready', ready);
    else ready();
  }

  private decoder(): (chunk: Buffer) => string[] {
    if (this.format === 'input-events') {
      const decoder = new KeyLineDecoder(this.options.eventSize ?? inputEventSize());
      return (chunk) => decoder.push(chunk);
    }
    let rest = '';
    return (chunk) => {
      const parts = (rest + chunk.toString('latin1')).split(/\r\n|\r|\n/);
      // Room for a phone token's QR text (512 characters), not only a card number.
      rest = (parts.pop() ?? '').slice(0, 512);
      return parts;
    };
  }

  private onLine(line: string): void {
    const typed = line.trim();
    if (typed === '') return;
    const seenAt = process.hrtime.bigint();
    let uid: string;
    try {
      uid = readerText(typed);
    } catch (error) {
      this.emit('read-error', { readerId: this.options.id, role: this.options.role, message: errorField(error).message });
      return;
    }
    this.emit('tap', { uid, readerId: this.options.id, role: this.options.role, seenAt });
  }

  /** The device is gone: offline, and devices and FIFOs (not stdin, not plain files) are tried again later. */
  private lost(detail: string): void {
    this.closeStream();
    this.setOnline(false, detail);
    const device = this.options.device;
    if (!this.running || device === '-' || !(device.startsWith('/dev/') || isFifo(device))) return;
    const { initialMs, maxMs } = this.options.reopen ?? { initialMs: 500, maxMs: 10_000 };
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures, 20));
    this.failures += 1;
    this.retryTimer = setTimeout(() => this.openDevice(), delay);
  }

  private closeStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    if (stream === undefined) return;
    stream.removeAllListeners('data');
    // An 'error' after we let go must not become an uncaught exception.
    stream.on('error', () => {});
    if (stream === process.stdin) stream.pause();
    // A blocking read on an input device holds its fd until the next key; destroy() closes it then.
    else stream.destroy();
  }

  private setOnline(online: boolean, detail: string | undefined): void {
    if (this.online === online) return;
    this.online = online;
    if (online) this.logger.info({ readerId: this.options.id, device: this.options.device }, 'keyboard reader connected');
    else this.logger.warn({ readerId: this.options.id, detail }, 'keyboard reader offline');
    this.emit('status', { readerId: this.options.id, role: this.options.role, online, detail });
  }
}

function isFifo(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch {
    return false;
  }
}
