import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientRateLimiter, RefusalSummary } from '../../../central/broker-rate.js';

afterEach(() => vi.useRealTimers());

describe('ClientRateLimiter', () => {
  it('lets a burst through, then refuses with the wait, and refills at the rate', () => {
    let now = 0;
    const limiter = new ClientRateLimiter({ perSecond: 10, burst: 5 }, () => now);
    const answers = Array.from({ length: 7 }, () => limiter.take('town'));
    expect(answers.filter((a) => a.ok)).toHaveLength(5);
    expect(answers[5]).toEqual({ ok: false, retryInMs: 100 });

    now += 250; // 2.5 tokens back
    expect([limiter.take('town'), limiter.take('town'), limiter.take('town')].map((a) => a.ok)).toEqual([true, true, false]);

    now += 60_000; // a quiet minute refills to the burst, never beyond
    expect(Array.from({ length: 6 }, () => limiter.take('town').ok).filter(Boolean)).toHaveLength(5);
  });

  it('keeps one bucket per client: a flooding client does not slow another', () => {
    const limiter = new ClientRateLimiter({ perSecond: 1, burst: 2 }, () => 0);
    for (let i = 0; i < 10; i++) limiter.take('flood');
    expect(limiter.take('flood').ok).toBe(false);
    expect(limiter.take('village').ok).toBe(true);
    limiter.forget('flood');
    expect(limiter.clients).toBe(1);
    expect(limiter.take('flood').ok).toBe(true);
  });

  it('refuses a limit that would refuse everything', () => {
    expect(() => new ClientRateLimiter({ perSecond: 0, burst: 5 })).toThrow(/perSecond > 0/);
  });
});

describe('RefusalSummary', () => {
  const logger = () => {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    return { lines, warn: (fields: object, message: string) => lines.push({ fields: fields as Record<string, unknown>, message }) };
  };

  it('logs a client’s first refusal, then one count a minute, not a line per refused message', () => {
    const log = logger();
    const summary = new RefusalSummary(log);
    for (let i = 0; i < 3000; i++) summary.refuse('intruder', 'village', `village may not publish to "oa/v1/sites/town/events" (${i})`);
    summary.refuse('other', undefined, 'anonymous client');
    expect(log.lines).toHaveLength(2);
    expect(log.lines[0]!.fields).toMatchObject({ client: 'intruder', username: 'village', reason: expect.stringContaining('(0)') });

    summary.flush();
    expect(log.lines).toHaveLength(3);
    expect(log.lines[2]).toMatchObject({ fields: { client: 'intruder', refused: 2999, lastReason: expect.stringContaining('(2999)') }, message: expect.stringMatching(/2999 more/) });

    // a new minute: the next refusal is logged in full again, a quiet client logs nothing
    summary.flush();
    expect(log.lines).toHaveLength(3);
    summary.refuse('intruder', 'village', 'again');
    expect(log.lines).toHaveLength(4);
  });

  it('counts many client ids together past the tracked number, instead of a line each', () => {
    const log = logger();
    const summary = new RefusalSummary(log);
    for (let i = 0; i < 5000; i++) summary.refuse(`anon-${i}`, undefined, 'anonymous client');
    expect(log.lines).toHaveLength(1000);
    summary.flush();
    expect(log.lines.at(-1)!.fields).toEqual({ refused: 4000 });
  });

  it('logs a count each minute while a flood goes on, the next in full after a quiet minute, and what is left on stop', () => {
    vi.useFakeTimers();
    const log = logger();
    const summary = new RefusalSummary(log, 60_000);
    summary.refuse('c', 'town', 'rate');
    summary.refuse('c', 'town', 'rate');
    vi.advanceTimersByTime(60_000);
    expect(log.lines.map((l) => l.fields.refused)).toEqual([undefined, 1]);
    summary.refuse('c', 'town', 'rate');
    vi.advanceTimersByTime(60_000);
    expect(log.lines.map((l) => l.fields.refused)).toEqual([undefined, 1, 1]);
    vi.advanceTimersByTime(60_000);
    summary.refuse('c', 'town', 'rate');
    summary.refuse('c', 'town', 'rate');
    summary.stop();
    expect(log.lines.map((l) => l.fields.refused)).toEqual([undefined, 1, 1, undefined, 1]);
    vi.advanceTimersByTime(120_000);
    expect(log.lines).toHaveLength(5);
  });
});
