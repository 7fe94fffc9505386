// What the person at the door sees and hears: green or red LED, and the sounder.
import type { DigitalOutput, OutputName } from '../../firmware-bridge/types.js';
import type { Clock, Timer } from './clock.js';

const LED_MS = 2000;
const BEEP_MS = 150;

export class Feedback {
  private readonly timers = new Map<OutputName, Timer>();

  constructor(
    private readonly outputs: Record<OutputName, DigitalOutput>,
    private readonly clock: Clock,
  ) {}

  granted(): void {
    this.pulse('ledRed', 0);
    this.pulse('ledGreen', LED_MS);
  }

  refused(): void {
    this.pulse('ledGreen', 0);
    this.pulse('ledRed', LED_MS);
    this.pulse('sounder', BEEP_MS);
  }

  /** Ask for a PIN: red and green together until the keypad answers or the prompt times out. */
  promptPin(ms: number): void {
    this.pulse('ledGreen', ms);
    this.pulse('ledRed', ms);
  }

  /** Drive an output for `ms`, restarting any pulse already running on it; 0 turns it off now. */
  pulse(name: OutputName, ms: number): void {
    this.clock.clearTimeout(this.timers.get(name));
    this.timers.delete(name);
    const output = this.outputs[name];
    output.set(ms > 0);
    if (ms > 0) {
      this.timers.set(
        name,
        this.clock.setTimeout(() => {
          this.timers.delete(name);
          output.set(false);
        }, ms),
      );
    }
  }

  stop(): void {
    for (const timer of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
  }
}
