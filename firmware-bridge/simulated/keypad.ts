// A PIN pad played by hand. Every key is the same to an onlooker; here there are no keys at all.
import { EventEmitter } from 'node:events';
import type { Keypad, KeypadEvents, SimulatedKeypadControls } from '../types.js';

export class SimulatedKeypad extends EventEmitter<KeypadEvents> implements Keypad, SimulatedKeypadControls {
  constructor(private readonly defaultReaderId: string) {
    super();
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  enter(digits: string, readerId = this.defaultReaderId): void {
    if (!/^\d{1,12}$/.test(digits)) throw new RangeError('a PIN is 1–12 digits');
    this.emit('pin', { digits, readerId });
  }
}
