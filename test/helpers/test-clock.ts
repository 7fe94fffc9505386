// The gateway's clock for tests that also need real time (sockets, a SIP2 responder, a broker): it starts at
// `startMs` and moves only when the test moves it; its timers fire, in order, as it passes them (the demo's
// scaledClock steps on the same core, gateway/core/clock.ts).
import { steppedClock, type Clock, type Timer } from '../../gateway/core/clock.js';

export class TestClock implements Clock {
  private readonly stepped;

  constructor(startMs = Date.now()) {
    this.stepped = steppedClock(startMs);
  }

  now(): Date {
    return this.stepped.now();
  }

  setTimeout(callback: () => void, ms: number): Timer {
    return this.stepped.setTimeout(callback, ms);
  }

  clearTimeout(timer: Timer | undefined): void {
    this.stepped.clearTimeout(timer);
  }

  advance(ms: number): void {
    this.stepped.stepTo(this.stepped.now().getTime() + ms);
  }
}
