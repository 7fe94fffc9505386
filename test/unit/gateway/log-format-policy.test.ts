// The staff log's line for a policy taking effect: staff must see whether central's schedule, the file's, or their
// own override is in force, since a console save is an override over a version, not a version of its own.
import { describe, expect, it } from 'vitest';
import { logRow } from '../../../gateway/console/log-format.js';

const applied = (source: string, version: number): string =>
  logRow({ id: '1', at: '2026-03-04T14:05:00.000Z', type: 'policy', data: { result: 'applied', source, version } }).summary;

describe('the log line of a policy in force', () => {
  it('names where it came from', () => {
    expect(applied('central', 7)).toBe("Central's schedule version 7 in force");
    expect(applied('file', 3)).toBe('Schedule file version 3 in force');
    expect(applied('console', 7)).toBe('Branch override (made in the console) over schedule version 7 in force');
  });

  it('keeps a refusal as it was', () => {
    const row = logRow({ id: '2', at: '2026-03-04T14:05:00.000Z', type: 'policy', data: { result: 'refused', source: 'central', version: 9, error: 'version: not newer' } });
    expect(row.summary).toBe('Schedule version 9 from central refused: version: not newer');
  });
});
