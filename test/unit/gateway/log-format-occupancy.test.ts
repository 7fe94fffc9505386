// The staff log's lines for counting: an estimate reads as one, an oddity says what was not counted and why, and a
// tailgate says how many came in on how many cards.
import { describe, expect, it } from 'vitest';
import { logRow } from '../../../gateway/console/log-format.js';

const line = (data: Record<string, unknown>): string => logRow({ id: '1', at: '2026-11-23T19:00:00.000Z', type: 'occupancy', data }).summary;

describe('the log line of an occupancy event', () => {
  it('says "about" for an estimated figure only', () => {
    expect(line({ change: 'entry', inside: 3, confidence: 'counted' })).toBe('In: 3 inside');
    expect(line({ change: 'exit', inside: 2, confidence: 'estimated' })).toBe('Out: about 2 inside');
  });

  it('names what was not counted, and a tailgate by entries and cards', () => {
    expect(line({ change: 'ignored', inside: 0, detail: 'counter in pulses 50 ms apart: one person' })).toBe('Not counted: counter in pulses 50 ms apart: one person');
    expect(line({ change: 'tailgate', inside: 2, entries: 2, grants: 1 })).toBe('Possible tailgating: 2 in on 1 card, 2 inside');
  });
});
