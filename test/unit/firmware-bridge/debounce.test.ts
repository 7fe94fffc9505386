import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Debouncer } from '../../../firmware-bridge/debounce.js';

describe('debounce', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function make(ms: number) {
    const changes: boolean[] = [];
    const d = new Debouncer(false, ms, (level) => changes.push(level));
    return { d, changes };
  }

  it('reports a level only once it has held for the debounce time', () => {
    const { d, changes } = make(30);
    d.feed(true);
    vi.advanceTimersByTime(29);
    expect(changes).toEqual([]);
    expect(d.level).toBe(false);
    vi.advanceTimersByTime(1);
    expect(changes).toEqual([true]);
    expect(d.level).toBe(true);
  });

  it('ignores pulses shorter than the debounce time, and bounces', () => {
    const { d, changes } = make(30);
    d.feed(true);
    vi.advanceTimersByTime(10);
    d.feed(false);
    vi.advanceTimersByTime(100);
    expect(changes).toEqual([]);
    // contact bounce: a burst of edges, then closed for good
    for (let i = 0; i < 6; i++) {
      d.feed(i % 2 === 0);
      vi.advanceTimersByTime(3);
    }
    d.feed(true);
    vi.advanceTimersByTime(30);
    expect(changes).toEqual([true]);
  });

  it('sees an input held for 400 ms at the longest allowed debounce', () => {
    const { d, changes } = make(400);
    d.feed(true);
    vi.advanceTimersByTime(400);
    d.feed(false);
    vi.advanceTimersByTime(400);
    expect(changes).toEqual([true, false]);
  });

  it('passes changes straight through with a debounce of 0, and repeats nothing', () => {
    const { d, changes } = make(0);
    d.feed(true);
    d.feed(true);
    d.feed(false);
    expect(changes).toEqual([true, false]);
  });

  it('reports nothing after dispose', () => {
    const { d, changes } = make(30);
    d.feed(true);
    d.dispose();
    vi.advanceTimersByTime(100);
    expect(changes).toEqual([]);
  });
});
