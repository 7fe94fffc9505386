// An output with nothing on the end of it: remembers what was written, and when, for tests and the demo.
import type { OutputConfig } from '../config.js';
import type { DigitalOutput, OutputPinName, OutputWrite, SimulatedOutputControls } from '../types.js';

export interface Clock {
  now(): Date;
}

export const OUTPUT_HISTORY_SIZE = 256;

export class SimulatedOutput implements DigitalOutput, SimulatedOutputControls {
  private state: boolean;
  private readonly safeState: boolean;
  private readonly writes: OutputWrite[] = [];
  private held = false;
  private closed = false;
  onSet: ((active: boolean) => void) | undefined;

  constructor(
    readonly name: OutputPinName,
    config: Pick<OutputConfig, 'safe'>,
    private readonly clock: Clock,
    private readonly historySize = OUTPUT_HISTORY_SIZE,
  ) {
    this.safeState = config.safe === 'active';
    this.state = this.safeState;
    this.record(this.safeState);
  }

  get active(): boolean {
    return this.state;
  }

  get history(): readonly OutputWrite[] {
    return this.writes.slice();
  }

  set(active: boolean): void {
    if (this.closed) throw new Error(`output ${this.name} is closed`);
    const next = this.held ? this.safeState : active;
    this.state = next;
    this.record(next);
  }

  toSafe(): void {
    if (this.closed) return;
    this.state = this.safeState;
    this.record(this.safeState);
  }

  hold(): void {
    this.held = true;
    this.toSafe();
  }

  close(): void {
    this.hold();
    this.closed = true;
  }

  private record(active: boolean): void {
    this.writes.push({ active, atMs: this.clock.now().getTime() });
    if (this.writes.length > this.historySize) this.writes.splice(0, this.writes.length - this.historySize);
    try {
      this.onSet?.(active);
    } catch {
      // a device model's fault must not make a write throw: toSafe never throws, and set only when closed
    }
  }
}
