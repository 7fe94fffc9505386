// nfc-pcsc and onoff are optional dependencies (native builds that fail without libpcsclite or on non-Linux
// machines), and nfc-pcsc ships no types. Declared here, with only what the drivers use, so that the project
// typechecks whether or not they are installed; the drivers load them with `await import()` at run time.

declare module 'onoff' {
  export type BinaryValue = 0 | 1;
  export type Direction = 'in' | 'out' | 'high' | 'low';
  export type Edge = 'none' | 'rising' | 'falling' | 'both';
  export interface Options {
    debounceTimeout?: number;
    activeLow?: boolean;
    reconfigureDirection?: boolean;
  }
  export class Gpio {
    static readonly accessible: boolean;
    constructor(gpio: number, direction: Direction, edge?: Edge, options?: Options);
    constructor(gpio: number, direction: Direction, options?: Options);
    readSync(): BinaryValue;
    writeSync(value: BinaryValue): void;
    watch(callback: (err: Error | null | undefined, value: BinaryValue) => void): void;
    unwatchAll(): void;
    unexport(): void;
  }
}

declare module 'nfc-pcsc' {
  import type { EventEmitter } from 'node:events';

  export interface Card {
    atr?: Buffer;
    standard?: string;
    type?: string;
    uid?: string;
  }

  /** One PC/SC reader (slot). `reader` is @pokusew/pcsclite's CardReader underneath. */
  export class Reader extends EventEmitter {
    readonly name: string;
    autoProcessing: boolean;
    readonly reader: { close(): void };
    connect(mode?: string): Promise<unknown>;
    transmit(data: Buffer, responseMaxLength: number): Promise<Buffer>;
  }

  export class NFC extends EventEmitter {
    constructor(logger?: unknown);
    close(): void;
  }
}
