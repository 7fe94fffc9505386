// A Linux input device (or a FIFO standing in for one, or stdin) read as a byte stream, opened again when it comes
// back after being unplugged: the delay doubles from initialMs up to maxMs. Says when it goes offline and online.
// Shared by the keyboard-wedge readers and the keypads.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { errorField } from '../logger.js';

export interface InputDeviceOptions {
  /** The device path, or undefined while none is found (a keypad matched by name that is not plugged in). */
  locate: () => string | undefined;
  /** What to say when `locate` finds nothing. */
  missing: string;
  /** Each time the device is opened, before any of its data: start decoding afresh. */
  onOpen?: () => void;
  onData: (chunk: Buffer) => void;
  onStatus: (online: boolean, detail: string | undefined) => void;
  /** Default: stdin for `-`, else a read stream. Tests pass a fake stream. */
  open?: (device: string) => Readable;
  reopen?: { initialMs: number; maxMs: number };
  /** Whether a device that went away is looked for again; default: always. */
  retries?: (device: string | undefined) => boolean;
}

export class InputDevice {
  private stream: Readable | undefined;
  private running = false;
  private failures = 0;
  private device: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private online: boolean | undefined;

  constructor(private readonly options: InputDeviceOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.openDevice();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.closeStream();
  }

  private openDevice(): void {
    if (!this.running) return;
    const device = this.options.locate();
    this.device = device;
    if (device === undefined) {
      this.lost(this.options.missing);
      return;
    }
    let stream: Readable;
    try {
      stream = this.options.open ? this.options.open(device) : device === '-' ? process.stdin : createReadStream(device);
    } catch (error) {
      this.lost(`cannot open ${device}: ${errorField(error).message}`);
      return;
    }
    this.stream = stream;
    this.options.onOpen?.();
    stream.on('data', (chunk: Buffer | string) => this.options.onData(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
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

  private lost(detail: string): void {
    this.closeStream();
    this.setOnline(false, detail);
    if (!this.running || this.options.retries?.(this.device) === false) return;
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
    this.options.onStatus(online, detail);
  }
}
