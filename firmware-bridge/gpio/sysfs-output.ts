// An output on a sysfs GPIO. The safe level goes on the pin as it is exported (direction "high"/"low" sets
// direction and value in one write, so the relay never glitches), and again whenever the software lets go. The pin
// is never unexported: a released output may become an input (upstream kernels, Raspberry Pi kernels with
// strict_gpiod), and the relay would then follow the pin's pull rather than the safe level.
import type { OutputConfig } from '../config.js';
import type { HardwareLogger } from '../logger.js';
import type { DigitalOutput, OutputPinName } from '../types.js';
import { levelFor, setSafeOrLog, type GpioClass, type GpioPin } from './onoff.js';

export class SysfsOutput implements DigitalOutput {
  private readonly pin: GpioPin;
  private readonly safeState: boolean;
  private state: boolean;
  private held = false;
  private closed = false;

  constructor(
    readonly name: OutputPinName,
    private readonly config: Pick<OutputConfig, 'activeLevel' | 'safe'>,
    sysfsNumber: number,
    Gpio: GpioClass,
    private readonly logger: HardwareLogger,
  ) {
    this.safeState = config.safe === 'active';
    this.state = this.safeState;
    const safeLevel = levelFor(this.safeState, config.activeLevel);
    // activeLow false: a stale `active_low` left by another program would invert our writes.
    this.pin = new Gpio(sysfsNumber, safeLevel === 1 ? 'high' : 'low', undefined, { activeLow: false });
    // onoff ignores configuration errors on a pin that was already exported, so write the level explicitly too.
    this.pin.writeSync(safeLevel);
  }

  get active(): boolean {
    return this.state;
  }

  set(active: boolean): void {
    if (this.closed) throw new Error(`output ${this.name} is closed`);
    const next = this.held ? this.safeState : active;
    this.pin.writeSync(levelFor(next, this.config.activeLevel));
    this.state = next;
  }

  toSafe(): void {
    if (this.closed) return;
    setSafeOrLog(this, this.safeState, this.logger);
  }

  hold(): void {
    this.held = true;
    this.toSafe();
  }

  close(): void {
    if (this.closed) return;
    this.hold();
    // Not unexported: the pin keeps driving the safe level after the process ends (see the top of this file).
    this.closed = true;
  }
}
