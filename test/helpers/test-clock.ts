// The gateway's clock for tests that also need real time (sockets, a SIP2 responder, a broker): it starts at
// `startMs` and moves only when the test moves it; its timers fire, in order, as it passes them.
import type { Clock, Timer } from '../../gateway/core/clock.js';

export class TestClock implements Clock {
  private ms: number;
  private timers: Array<{ at: number; callback: () => void; seq: number }> = [];
  private seq = 0;

  constructor(startMs = Date.now()) {
    this.ms = startMs;
  }

  now(): Date {
    return new Date(this.ms);
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const timer = { at: this.ms + Math.max(0, ms), callback, seq: (this.seq += 1) };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    this.timers = this.timers.filter((t) => t !== timer);
  }

  advance(ms: number): void {
    const end = this.ms + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.ms = due.at;
      due.callback();
    }
    this.ms = end;
  }
}
