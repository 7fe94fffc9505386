import type { DigitalOutput } from '../../firmware-bridge/types.js';
import type { EventBus } from './bus.js';
import type { Clock, Timer } from './clock.js';

/** The building's lights relay, with the closing warning's flash. */
export class Lights {
  private flashTimer: Timer | undefined;
  private wanted = false;
  private heldOn = false;

  constructor(
    private readonly output: DigitalOutput,
    private readonly bus: EventBus,
    private readonly clock: Clock,
  ) {
    this.wanted = output.active;
  }

  get on(): boolean {
    return this.wanted;
  }

  /**
   * For the whole emergency the lights are on, whoever asks otherwise (the close, the count reaching 0, staff):
   * people are leaving, or firefighters coming in. Released, they stay on until something switches them off
   * again, since nobody has counted who went in or out while the door was released.
   */
  holdOn(held: boolean): void {
    if (held === this.heldOn) return;
    this.heldOn = held;
    if (held) this.set(true);
  }

  get held(): boolean {
    return this.heldOn;
  }

  set(on: boolean): void {
    this.stopFlash();
    if (!on && this.heldOn) return;
    if (on === this.wanted) return;
    this.wanted = on;
    this.output.set(on);
    this.bus.emit('lights-changed', on);
  }

  /** Flash off and on `times` times, then back to the state wanted: people notice it wherever they are. */
  flash(times = 3, periodMs = 700): void {
    // A flash is half the time dark.
    if (this.heldOn) return;
    this.stopFlash();
    let toggles = times * 2;
    const step = (): void => {
      if (toggles === 0) {
        this.flashTimer = undefined;
        this.output.set(this.wanted);
        return;
      }
      toggles -= 1;
      this.output.set(toggles % 2 === 1 ? !this.wanted : this.wanted);
      this.flashTimer = this.clock.setTimeout(step, periodMs / 2);
    };
    step();
  }

  stop(): void {
    this.stopFlash();
  }

  private stopFlash(): void {
    if (this.flashTimer === undefined) return;
    this.clock.clearTimeout(this.flashTimer);
    this.flashTimer = undefined;
    this.output.set(this.wanted);
  }
}
