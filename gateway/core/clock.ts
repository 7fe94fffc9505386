/** An opaque timer handle: only the clock that made it can clear it. */
export type Timer = object;

/**
 * Time is injected everywhere: the wall clock and the timers together, so that schedules run under vitest's
 * fake timers in tests and at many times real speed in the demo, with the same code.
 */
export interface Clock {
  now(): Date;
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
}

// Through globalThis on each call so that vitest's fake timers, installed after import, are the ones used.
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (timer) => globalThis.clearTimeout(timer as ReturnType<typeof globalThis.setTimeout> | undefined),
};

export interface ScaledClock extends Clock {
  /** Start the clock running. It is held at `start` until then, so a slow start-up costs no simulated time. */
  run(): void;
  /** Hold it where it is, its timers kept (the demo's day is over; its pages go on showing that day). */
  pause(): void;
  /** Stop it: no timer fires again, and nothing of it keeps the process alive. */
  stop(): void;
}

interface SteppedTimer {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told: its timers fire in order (time, then creation) as `stepTo` passes them. */
export interface SteppedClock extends Clock {
  /** Move to `target` (never back), firing each timer due on the way at its own time. */
  stepTo(target: number): void;
  /** Forget every timer. */
  clearTimers(): void;
}

/** The stepping core of scaledClock and the tests' TestClock: simulated time never passes while code runs. */
export function steppedClock(startMs: number): SteppedClock {
  let now = startMs;
  let seq = 0;
  // Kept in firing order (time, then creation); a handful of timers per visitor, so insertion by search is enough.
  const timers: SteppedTimer[] = [];
  const insert = (timer: SteppedTimer): void => {
    let lo = 0;
    let hi = timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = timers[mid]!;
      if (other.at < timer.at || (other.at === timer.at && other.seq < timer.seq)) lo = mid + 1;
      else hi = mid;
    }
    timers.splice(lo, 0, timer);
  };
  return {
    now: () => new Date(now),
    setTimeout: (callback, ms) => {
      const timer: SteppedTimer = { at: now + Math.max(0, ms), seq: (seq += 1), callback, cancelled: false };
      insert(timer);
      return timer;
    },
    clearTimeout: (timer) => {
      if (timer === undefined) return;
      (timer as SteppedTimer).cancelled = true;
    },
    stepTo: (target) => {
      for (;;) {
        const next = timers[0];
        if (next === undefined || next.at > target) break;
        timers.shift();
        if (next.cancelled) continue;
        now = Math.max(now, next.at);
        next.callback();
      }
      now = Math.max(now, target);
    },
    clearTimers: () => {
      timers.length = 0;
    },
  };
}

/** How often the clock steps, in real milliseconds. */
const STEP_EVERY_MS = 10;

/**
 * A clock that starts at `start` and runs `speed` times faster than real time (the demo's day replay). It moves in
 * steps, every 10 ms of real time, and within a step from one timer to the next: simulated time never passes while
 * code runs. At 300× a 10 ms disk write would otherwise be 3 s of the day, and a door opened "at once" after a grant
 * would open after the grant's unlock pulse had ended, so the demo would count what no branch would.
 */
export function scaledClock(start: Date, speed: number): ScaledClock {
  const stepped = steppedClock(start.getTime());
  let realStart: number | undefined;
  let stepper: ReturnType<typeof globalThis.setInterval> | undefined;
  return {
    now: stepped.now,
    setTimeout: stepped.setTimeout,
    clearTimeout: stepped.clearTimeout,
    run: () => {
      if (realStart !== undefined) return;
      realStart = performance.now();
      const from = stepped.now().getTime();
      stepper = globalThis.setInterval(() => stepped.stepTo(from + (performance.now() - realStart!) * speed), STEP_EVERY_MS);
    },
    pause: () => {
      globalThis.clearInterval(stepper);
      stepper = undefined;
    },
    stop: () => {
      globalThis.clearInterval(stepper);
      stepper = undefined;
      stepped.clearTimers();
    },
  };
}
