import { existsSync } from 'node:fs';

/** An opaque timer handle. */
export type Timer = ReturnType<typeof globalThis.setTimeout>;

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
  clearTimeout: (timer) => globalThis.clearTimeout(timer),
};

/** A clock that starts at `start` and runs `speed` times faster than real time (the demo's day replay). */
export function scaledClock(start: Date, speed: number): Clock {
  const realStart = performance.now();
  return {
    now: () => new Date(start.getTime() + (performance.now() - realStart) * speed),
    // Rounded up: a timer must never fire before its scaled instant (a warning at 19:44:58 reads as 19:44).
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, Math.max(0, Math.ceil(ms / speed))),
    clearTimeout: (timer) => globalThis.clearTimeout(timer),
  };
}

export interface ClockTrustOptions {
  trust: 'auto' | 'trusted' | 'untrusted';
  /** systemd-timesyncd touches this file once the clock has been synchronised since boot. */
  syncMarker: string;
}

/** Whether the wall clock can be believed, which decides unstaffed entry (deny by default when not). */
export function createClockTrust(options: ClockTrustOptions): () => boolean {
  if (options.trust === 'trusted') return () => true;
  if (options.trust === 'untrusted') return () => false;
  return () => existsSync(options.syncMarker);
}
