// The limiter on its own: what the log and the alarm say about a burst, readers kept apart, the alarm carried over
// a restart, and the library-system allowance.
import { describe, expect, it } from 'vitest';
import { UnknownCardLimit } from '../../../gateway/core/unknown-card-limit.js';
import type { UnknownCardLimitConfig } from '../../../gateway/core/unknown-card-limit.js';
import { TestClock } from '../../helpers/test-clock.js';

const CONFIG: UnknownCardLimitConfig = { burst: 3, windowMs: 60_000, quietMs: 300_000, lookupsPerMinute: 6, lookupBurst: 2 };

function setup(options: { raised?: boolean; config?: Partial<UnknownCardLimitConfig> } = {}) {
  const clock = new TestClock(Date.parse('2026-11-23T14:00:00Z'));
  const active = new Set<string>(options.raised === true ? ['unknown-card-burst'] : []);
  const alarmEvents: string[] = [];
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const limit = new UnknownCardLimit({
    config: { ...CONFIG, ...options.config },
    clock,
    alarms: {
      has: (name) => active.has(name),
      repeat: (name, detail) => {
        active.add(name);
        alarmEvents.push(`raised ${name}: ${detail}`);
      },
      clear: (name, detail) => {
        if (active.delete(name)) alarmEvents.push(`cleared ${name}: ${detail ?? ''}`);
      },
    },
    logger: {
      info: (fields: Record<string, unknown>, message: string) => lines.push({ level: 'info', fields, message }),
      warn: (fields: Record<string, unknown>, message: string) => lines.push({ level: 'warn', fields, message }),
    } as never,
  });
  return { clock, limit, active, alarmEvents, lines };
}

describe('unknown-card limit', () => {
  it('counts unknown cards within the window only: three slow tries are no burst', () => {
    const { clock, limit, alarmEvents } = setup();
    for (let i = 0; i < 6; i++) {
      expect(limit.unknownCard('entry')).toBe(false);
      clock.advance(30_000);
    }
    expect(alarmEvents).toEqual([]);
  });

  it('says a burst once in the log and once as an alarm, with the count, however many cards follow', () => {
    const { clock, limit, alarmEvents, lines } = setup();
    const answers = Array.from({ length: 50 }, () => limit.unknownCard('entry'));
    expect(answers.filter((inBurst) => !inBurst)).toHaveLength(3);
    expect(alarmEvents).toEqual(['raised unknown-card-burst: reader entry: 4 unknown cards within 60 s']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', fields: { reader: 'entry', unknownCards: 4 } });

    clock.advance(300_000);
    expect(alarmEvents.at(-1)).toBe('cleared unknown-card-burst: reader entry: 50 unknown cards in the burst, none for 300 s');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 'info', fields: { reader: 'entry', unknownCards: 50, refused: 47 } });
  });

  it('keeps readers apart, and clears the alarm only once every reader is quiet', () => {
    const { clock, limit, active, alarmEvents } = setup();
    for (let i = 0; i < 4; i++) limit.unknownCard('front');
    // The back door's reader is not in the front's burst.
    expect(limit.unknownCard('back')).toBe(false);
    clock.advance(200_000);
    for (let i = 0; i < 4; i++) limit.unknownCard('back');
    expect(alarmEvents).toHaveLength(2);
    expect(alarmEvents[1]).toBe('raised unknown-card-burst: reader back: 4 unknown cards within 60 s');

    clock.advance(100_000);
    // The front is quiet, the back is not.
    expect(active.has('unknown-card-burst')).toBe(true);
    expect(limit.unknownCard('front')).toBe(false);
    clock.advance(200_000);
    expect(active.has('unknown-card-burst')).toBe(false);
  });

  it('clears an alarm carried over a restart after a quiet period, unless a new burst holds it', () => {
    const quiet = setup({ raised: true });
    quiet.limit.resume();
    quiet.clock.advance(299_000);
    expect(quiet.active.has('unknown-card-burst')).toBe(true);
    quiet.clock.advance(1000);
    expect(quiet.alarmEvents).toEqual(['cleared unknown-card-burst: no burst of unknown cards since the gateway restarted']);

    const busy = setup({ raised: true });
    busy.limit.resume();
    busy.clock.advance(200_000);
    for (let i = 0; i < 4; i++) busy.limit.unknownCard('entry');
    busy.clock.advance(100_000);
    expect(busy.active.has('unknown-card-burst')).toBe(true);
    busy.clock.advance(200_000);
    expect(busy.active.has('unknown-card-burst')).toBe(false);
  });

  it('allows a few library-system questions at once, then one per refill, and logs the dry spell once', () => {
    const { clock, limit, lines } = setup();
    expect([limit.mayLookUp(), limit.mayLookUp(), limit.mayLookUp(), limit.mayLookUp()]).toEqual([true, true, false, false]);
    expect(lines.map((l) => l.level)).toEqual(['warn']);
    clock.advance(10_000);
    expect(limit.mayLookUp()).toBe(true);
    expect(limit.mayLookUp()).toBe(false);
    expect(lines[1]).toMatchObject({ level: 'info', fields: { unknownCards: 2 } });
  });

  it('forgets its timers on stop: nothing clears after the gateway stopped', () => {
    const { clock, limit, alarmEvents } = setup();
    for (let i = 0; i < 4; i++) limit.unknownCard('entry');
    limit.stop();
    clock.advance(600_000);
    expect(alarmEvents).toHaveLength(1);
  });
});
