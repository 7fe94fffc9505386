// What the person at the door sees and hears: green or red LED, and the sounder.
//
// Two layers. The foreground is the door's answer to a tap, a PIN prompt, a warning or an announcement: a pulse on
// an output for a while. The background is a standing signal (a help call open, or answered) that blinks an LED and
// chirps the sounder for as long as it lasts; it gives way on any output the foreground is using, and comes back
// when the pulse ends, so a member at the door still reads grant and refusal as they always did.
import type { DigitalOutput, OutputName } from '../../firmware-bridge/types.js';
import type { Clock, Timer } from './clock.js';

const LED_MS = 2000;
const BEEP_MS = 150;
/** Shorter than a refusal's beep, so a key is never mistaken for one. */
const KEY_CLICK_MS = 40;

/**
 * The standing signals, each unlike anything the door says to a tap (a steady LED for 2 s, one 150 ms beep):
 * help-waiting: the red LED flashing at 1 Hz and a short chirp every 10 s, until someone acknowledges;
 * help-coming: the green LED flashing at 1 Hz, silent, while someone is on their way.
 */
export const SIGNALS = {
  'help-waiting': { led: 'ledRed', chirp: true },
  'help-coming': { led: 'ledGreen', chirp: false },
} as const satisfies Record<string, { led: 'ledRed' | 'ledGreen'; chirp: boolean }>;
export type Signal = keyof typeof SIGNALS;

/** Half of the 1 Hz flash. */
export const SIGNAL_BLINK_MS = 500;
export const SIGNAL_CHIRP_EVERY_MS = 10_000;
export const SIGNAL_CHIRP_MS = 80;

export interface FeedbackOptions {
  /**
   * While true the signal's chirp stays silent (its LED still flashes): during a fire the building's own sounders
   * and evacuation message must be heard, as the closing warnings give way to them too.
   */
  quiet?: () => boolean;
}

export class Feedback {
  private readonly foreground = new Map<OutputName, Timer>();
  private signal: Signal | undefined;
  private lit = false;
  private blinkTimer: Timer | undefined;
  private chirpTimer: Timer | undefined;

  constructor(
    private readonly outputs: Record<OutputName, DigitalOutput>,
    private readonly clock: Clock,
    private readonly options: FeedbackOptions = {},
  ) {}

  granted(): void {
    this.hold('ledRed', false, LED_MS);
    this.pulse('ledGreen', LED_MS);
  }

  refused(): void {
    this.hold('ledGreen', false, LED_MS);
    this.pulse('ledRed', LED_MS);
    this.pulse('sounder', BEEP_MS);
  }

  /** A key taken on the keypad: one short click, the same for every key, so nobody near learns which was pressed. */
  keyPressed(): void {
    this.pulse('sounder', KEY_CLICK_MS);
  }

  /** Ask for a PIN: red and green together until the keypad answers or the prompt times out. */
  promptPin(ms: number): void {
    this.pulse('ledGreen', ms);
    this.pulse('ledRed', ms);
  }

  /** Drive an output for `ms`, restarting any pulse already running on it; 0 ends it now. */
  pulse(name: OutputName, ms: number): void {
    if (ms > 0) {
      this.hold(name, true, ms);
      return;
    }
    this.clock.clearTimeout(this.foreground.get(name));
    this.foreground.delete(name);
    this.outputs[name].set(this.background(name));
  }

  /** The standing signal now, or none. */
  get current(): Signal | undefined {
    return this.signal;
  }

  /** Start a standing signal (replacing the one shown), or end it with undefined. */
  show(signal: Signal | undefined): void {
    if (signal === this.signal) return;
    const previous = this.signal;
    this.stopSignal();
    this.signal = signal;
    if (previous !== undefined) this.restore(SIGNALS[previous].led);
    if (signal === undefined) return;
    this.lit = true;
    this.restore(SIGNALS[signal].led);
    this.blinkTimer = this.clock.setTimeout(() => this.blink(), SIGNAL_BLINK_MS);
    if (SIGNALS[signal].chirp) this.chirp();
  }

  stop(): void {
    for (const timer of this.foreground.values()) this.clock.clearTimeout(timer);
    this.foreground.clear();
    this.stopSignal();
    this.signal = undefined;
  }

  /** Hold an output at a level for `ms` in the foreground, then give it back to the signal. */
  private hold(name: OutputName, level: boolean, ms: number): void {
    this.clock.clearTimeout(this.foreground.get(name));
    this.outputs[name].set(level);
    this.foreground.set(
      name,
      this.clock.setTimeout(() => {
        this.foreground.delete(name);
        this.restore(name);
      }, ms),
    );
  }

  /** The level the signal wants on an output: off when it is not the signal's LED. */
  private background(name: OutputName): boolean {
    return this.signal !== undefined && SIGNALS[this.signal].led === name && this.lit;
  }

  /** An output nobody holds in the foreground shows the signal's level; written only when it changes. */
  private restore(name: OutputName): void {
    if (this.foreground.has(name)) return;
    const level = this.background(name);
    if (this.outputs[name].active !== level) this.outputs[name].set(level);
  }

  private blink(): void {
    if (this.signal === undefined) return;
    this.lit = !this.lit;
    this.restore(SIGNALS[this.signal].led);
    this.blinkTimer = this.clock.setTimeout(() => this.blink(), SIGNAL_BLINK_MS);
  }

  private chirp(): void {
    // A beep already sounding (a refusal, a warning, an announcement) is not cut short for it.
    if (this.options.quiet?.() !== true && !this.foreground.has('sounder')) this.hold('sounder', true, SIGNAL_CHIRP_MS);
    this.chirpTimer = this.clock.setTimeout(() => this.chirp(), SIGNAL_CHIRP_EVERY_MS);
  }

  private stopSignal(): void {
    this.clock.clearTimeout(this.blinkTimer);
    this.clock.clearTimeout(this.chirpTimer);
    this.blinkTimer = undefined;
    this.chirpTimer = undefined;
  }
}
