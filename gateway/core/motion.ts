// PIR motion sensors (one input; several sensors wired in parallel): the last motion seen, as evidence that someone
// is inside whatever the count says. The closing sequence decides what it means (closing.ts).
import type { EventBus } from './bus.js';
import type { Clock } from './clock.js';

/** A PIR re-triggers every few seconds while someone moves: the state goes out again at most this often for it. */
const STATE_EVERY_MS = 60_000;

export class Motion {
  private last: Date | null = null;
  /** The input is active now: a PIR held in alarm (or a cut wire on normally-closed contacts) is motion all along. */
  private moving = false;
  private toldAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: { bus: EventBus; clock: Clock; fitted: boolean }) {}

  get fitted(): boolean {
    return this.options.fitted;
  }

  /** The last motion since start; null when none. */
  get at(): Date | null {
    return this.last;
  }

  /** Both edges are motion seen now: the release is the last moment anything moved. */
  changed(moving: boolean): void {
    this.moving = moving;
    this.seen();
  }

  private seen(): void {
    const now = this.options.clock.now();
    this.last = now;
    this.options.bus.emit('motion', now);
    if (now.getTime() - this.toldAt < STATE_EVERY_MS) return;
    this.toldAt = now.getTime();
    this.options.bus.emit('state-changed');
  }

  /** No motion in the last `ms` (or ever): where no sensor is fitted, there is nothing to say otherwise. */
  quietFor(ms: number): boolean {
    if (this.moving) return false;
    return this.last === null || this.options.clock.now().getTime() - this.last.getTime() >= ms;
  }
}
