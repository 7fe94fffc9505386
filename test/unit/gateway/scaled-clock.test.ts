// The demo's clock: many times real speed, in steps, so that no simulated time passes while code runs.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { scaledClock } from '../../../gateway/core/clock.js';

const START = new Date('2026-11-24T07:30:00Z');

describe('scaledClock', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('is held at its start until it runs, then runs at its speed', () => {
    const clock = scaledClock(START, 300);
    vi.advanceTimersByTime(1000);
    expect(clock.now()).toEqual(START);
    clock.run();
    vi.advanceTimersByTime(1000);
    expect(clock.now().getTime() - START.getTime()).toBe(300_000);
    clock.stop();
  });

  it('fires timers in order, each at its own instant, though one step of real time covers them all', () => {
    const clock = scaledClock(START, 300);
    const seen: Array<[string, number]> = [];
    const mark = (name: string): void => void seen.push([name, clock.now().getTime() - START.getTime()]);
    clock.setTimeout(() => {
      mark('b');
      // Set while b runs, due at once: it fires at b's instant, before anything later.
      clock.setTimeout(() => mark('c'), 0);
    }, 4000);
    clock.setTimeout(() => mark('a'), 1000);
    clock.setTimeout(() => mark('d'), 5000);
    const cancelled = clock.setTimeout(() => mark('never'), 2000);
    clock.clearTimeout(cancelled);
    clock.run();
    // 20 ms of real time is 6 s of the day: one step, and every timer in it at its own time.
    vi.advanceTimersByTime(20);
    expect(seen).toEqual([
      ['a', 1000],
      ['b', 4000],
      ['c', 4000],
      ['d', 5000],
    ]);
    clock.stop();
  });

  it('holds still when paused, its timers kept', () => {
    const clock = scaledClock(START, 300);
    const fired = vi.fn();
    clock.setTimeout(fired, 60_000);
    clock.run();
    vi.advanceTimersByTime(100);
    clock.pause();
    const held = clock.now().getTime();
    vi.advanceTimersByTime(1000);
    expect(clock.now().getTime()).toBe(held);
    expect(fired).not.toHaveBeenCalled();
    clock.stop();
  });

  it('fires nothing once stopped', () => {
    const clock = scaledClock(START, 300);
    const fired = vi.fn();
    clock.setTimeout(fired, 1000);
    clock.run();
    clock.stop();
    vi.advanceTimersByTime(1000);
    expect(fired).not.toHaveBeenCalled();
  });
});
