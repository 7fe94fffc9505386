import { afterEach, describe, expect, it, vi } from 'vitest';
import { RefusalLog } from '../../../gateway/uplink/refusal-log.js';

describe('RefusalLog', () => {
  afterEach(() => vi.useRealTimers());

  it('logs the first refusal of each kind with its reason, then only a count a minute, never a line each', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const log = new RefusalLog({ warn: (_o: object, msg: string) => lines.push(msg) } as never);
    for (let i = 0; i < 3000; i++) log.refused('command', 'unsigned');
    log.refused('policy', 'bad signature');
    expect(lines).toEqual(['command refused: unsigned', 'policy refused: bad signature']);
    vi.advanceTimersByTime(60_000);
    expect(lines.slice(2)).toEqual(['command refused 2999 more times in the last minute: unsigned']);
    // Quiet for a minute: the next one is told in full again.
    vi.advanceTimersByTime(60_000);
    log.refused('command', 'unsigned');
    expect(lines.at(-1)).toBe('command refused: unsigned');
    log.stop();
  });
});
