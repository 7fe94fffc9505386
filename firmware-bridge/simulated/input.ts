// An input driven by hand (tests, the demo) through the same debounce as a real pin.
import { EventEmitter } from 'node:events';
import type { InputConfig } from '../config.js';
import { Debouncer } from '../debounce.js';
import type { DigitalInput, DigitalInputEvents, InputPinName, SimulatedInputControls } from '../types.js';

export class SimulatedInput extends EventEmitter<DigitalInputEvents> implements DigitalInput, SimulatedInputControls {
  private readonly debouncer: Debouncer;
  private closed = false;

  constructor(
    readonly name: InputPinName,
    config: Pick<InputConfig, 'debounceMs'>,
    initial = false,
  ) {
    super();
    this.debouncer = new Debouncer(initial, config.debounceMs, (level) => this.emit('change', level));
  }

  get active(): boolean {
    return this.debouncer.level;
  }

  set(active: boolean): void {
    if (this.closed) return;
    this.debouncer.feed(active);
  }

  pulse(ms: number): Promise<void> {
    this.set(true);
    return new Promise((resolve) => {
      setTimeout(() => {
        this.set(false);
        resolve();
      }, ms);
    });
  }

  close(): void {
    this.closed = true;
    this.debouncer.dispose();
    this.removeAllListeners();
  }
}
