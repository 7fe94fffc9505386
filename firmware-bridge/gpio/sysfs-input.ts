// An input on a sysfs GPIO: interrupts on both edges, then our debounce (onoff's own debounce reports
// only the level after the quiet time, and would report a pulse shorter than it).
import { EventEmitter } from 'node:events';
import type { InputConfig } from '../config.js';
import { Debouncer } from '../debounce.js';
import { errorField, type HardwareLogger } from '../logger.js';
import type { DigitalInput, DigitalInputEvents, InputPinName } from '../types.js';
import type { BinaryValue, GpioClass, GpioPin } from './onoff.js';

export class SysfsInput extends EventEmitter<DigitalInputEvents> implements DigitalInput {
  private readonly pin: GpioPin;
  private readonly debouncer: Debouncer;
  private closed = false;

  constructor(
    readonly name: InputPinName,
    private readonly config: Pick<InputConfig, 'activeLevel' | 'debounceMs'>,
    sysfsNumber: number,
    Gpio: GpioClass,
    private readonly logger: HardwareLogger,
  ) {
    super();
    this.pin = new Gpio(sysfsNumber, 'in', 'both', { activeLow: false });
    this.debouncer = new Debouncer(this.logical(this.pin.readSync()), config.debounceMs, (level) => this.emit('change', level));
    this.pin.watch((err, value) => {
      if (err) {
        this.logger.warn({ input: this.name, err: errorField(err) }, 'input interrupt error');
        return;
      }
      this.debouncer.feed(this.logical(value));
    });
  }

  get active(): boolean {
    return this.debouncer.level;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.debouncer.dispose();
    try {
      this.pin.unwatchAll();
      this.pin.unexport();
    } catch (error) {
      this.logger.warn({ input: this.name, err: errorField(error) }, 'could not unexport input pin');
    }
  }

  private logical(value: BinaryValue): boolean {
    return (value === 1) === (this.config.activeLevel === 'high');
  }
}
