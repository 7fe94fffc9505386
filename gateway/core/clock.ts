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
}

interface ScaledTimer {
  callback: () => void;
  ms: number;
  real: ReturnType<typeof globalThis.setTimeout> | undefined;
  cancelled: boolean;
}

/** A clock that starts at `start` and runs `speed` times faster than real time (the demo's day replay). */
export function scaledClock(start: Date, speed: number): ScaledClock {
  let realStart: number | undefined;
  const held: ScaledTimer[] = [];
  const arm = (timer: ScaledTimer): void => {
    // Rounded up: a timer must never fire before its scaled instant (a warning at 19:44:58 reads as 19:44).
    timer.real = globalThis.setTimeout(timer.callback, Math.max(0, Math.ceil(timer.ms / speed)));
  };
  return {
    now: () => new Date(start.getTime() + (realStart === undefined ? 0 : (performance.now() - realStart) * speed)),
    setTimeout: (callback, ms) => {
      const timer: ScaledTimer = { callback, ms, real: undefined, cancelled: false };
      if (realStart === undefined) held.push(timer);
      else arm(timer);
      return timer;
    },
    clearTimeout: (timer) => {
      if (timer === undefined) return;
      const scaled = timer as ScaledTimer;
      scaled.cancelled = true;
      globalThis.clearTimeout(scaled.real);
    },
    run: () => {
      if (realStart !== undefined) return;
      realStart = performance.now();
      for (const timer of held.splice(0)) if (!timer.cancelled) arm(timer);
    },
  };
}
