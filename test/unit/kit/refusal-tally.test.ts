import { describe, expect, it } from 'vitest';
import { RefusalTally } from '../../../kit/refusal-tally.js';
import type { RefusalCount } from '../../../kit/refusal-tally.js';
import { TestClock } from '../../helpers/test-clock.js';

function setup(maxKinds?: number) {
  const clock = new TestClock(Date.parse('2026-03-04T12:00:00Z'));
  const summaries: Array<RefusalCount<string>> = [];
  const tally = new RefusalTally<string>({ clock, intervalMs: 60_000, maxKinds, onSummary: (s) => summaries.push(s) });
  return { clock, summaries, tally };
}

describe('RefusalTally', () => {
  it('tells the first of a kind, counts the rest, and says how many once the interval ends', () => {
    const { clock, summaries, tally } = setup();
    const told = Array.from({ length: 3000 }, (_, i) => tally.admit('invalid', `bad ${i}`));
    expect(told.filter(Boolean)).toHaveLength(1);
    expect(tally.admit('forged', 'x')).toBe(true);
    clock.advance(59_999);
    expect(summaries).toEqual([]);
    clock.advance(1);
    expect(summaries).toEqual([{ kind: 'invalid', count: 2999, since: new Date('2026-03-04T12:00:00Z'), last: 'bad 2999' }]);
  });

  it('keeps counting a flood that goes on (one summary an interval), and tells the next in full after a quiet interval', () => {
    const { clock, summaries, tally } = setup();
    tally.admit('invalid', 'a');
    tally.admit('invalid', 'b');
    clock.advance(60_000);
    expect(tally.admit('invalid', 'c')).toBe(false);
    clock.advance(60_000);
    expect(summaries.map((s) => [s.count, s.last, s.since.toISOString()])).toEqual([
      [1, 'b', '2026-03-04T12:00:00.000Z'],
      [1, 'c', '2026-03-04T12:01:00.000Z'],
    ]);
    clock.advance(60_000);
    expect(tally.admit('invalid', 'd')).toBe(true);
    expect(summaries).toHaveLength(2);
  });

  it('counts the kinds past its cap together, never in full, so varying kinds do not flood', () => {
    const { clock, summaries, tally } = setup(2);
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => tally.admit(k, `client ${k}`))).toEqual([true, true, false, false, false]);
    clock.advance(60_000);
    expect(summaries).toEqual([{ kind: null, count: 3, since: new Date('2026-03-04T12:00:00Z'), last: 'client e' }]);
  });

  it('says what is still counted when flushed or stopped, and leaves no timer after stop', () => {
    const { clock, summaries, tally } = setup(1);
    tally.admit('a', '1');
    tally.admit('a', '2');
    tally.flush();
    expect(summaries.map((s) => [s.kind, s.count])).toEqual([['a', 1]]);
    tally.admit('a', '3');
    tally.admit('b', 'over the cap');
    tally.stop();
    expect(summaries.map((s) => [s.kind, s.count])).toEqual([['a', 1], ['a', 1], [null, 1]]);
    clock.advance(600_000);
    expect(summaries).toHaveLength(3);
  });
});
