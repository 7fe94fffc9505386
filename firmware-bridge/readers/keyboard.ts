// Keyboard-wedge readers: USB HID devices (barcode and many library-card readers) that type the card number
// and press Enter. Read from an input device (/dev/input/by-id/…-event-kbd, key events), a file or FIFO of
// lines, or stdin (`-`). Input devices are reopened when they come back after being unplugged.
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { errorField, silentLogger, type HardwareLogger } from '../logger.js';
import type { CardReader, CardReaderEvents, ReaderRole } from '../types.js';
import { InputDevice } from './input-device.js';
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
  private readonly input: InputDevice;
  private decode: (chunk: Buffer) => string[] = () => [];

  constructor(private readonly options: KeyboardReaderOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.format = options.format ?? (options.device.startsWith('/dev/input/') ? 'input-events' : 'lines');
    const { device } = options;
    this.input = new InputDevice({
      locate: () => device,
      missing: device,
      open: options.open,
      reopen: options.reopen,
      // Devices and FIFOs come back; stdin and plain files do not.
      retries: () => device !== '-' && (device.startsWith('/dev/') || isFifo(device)),
      onOpen: () => (this.decode = this.decoder()),
      onData: (chunk) => {
        for (const line of this.decode(chunk)) this.onLine(line);
      },
      onStatus: (online, detail) => this.setOnline(online, detail),
    });
  }

  async start(): Promise<void> {
    this.input.start();
  }

  async stop(): Promise<void> {
    this.input.stop();
  }

  private decoder(): (chunk: Buffer) => string[] {
    if (this.format === 'input-events') {
      // Room for a phone token's text (512 characters), not only a card number.
      const decoder = new KeyLineDecoder(this.options.eventSize ?? inputEventSize(), 512);
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

  private setOnline(online: boolean, detail: string | undefined): void {
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
