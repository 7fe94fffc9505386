// The staff log's lines for `oag commission`'s record (contract 1.10), and the log's filter that shows only it.
import { describe, expect, it } from 'vitest';
import { logRow } from '../../gateway/console/log-format.js';
import { LogQuerySchema } from '../../gateway/console/schemas.js';

const AT = '2026-12-03T10:00:00.000Z';
const line = (data: Record<string, unknown>): string => logRow({ id: '1', at: AT, type: 'commissioning', data }).summary;

describe('the log line of a commissioning record', () => {
  it('names the technician, each step and what became of it, each pulse, and how it ended', () => {
    expect(line({ action: 'started', session: 's1', actor: 'token:installer', technician: 'Ffion Hughes' })).toBe('Commissioning started by Ffion Hughes');
    expect(line({ action: 'step', session: 's1', actor: 'x', step: 'exit-button', result: 'passed', detail: 'seen' })).toBe('Commissioning: exit-button passed (seen)');
    expect(line({ action: 'step', session: 's1', actor: 'x', step: 'fire-input', result: 'failed', detail: 'not seen in 30 s' })).toBe(
      'Commissioning: fire-input failed (not seen in 30 s)',
    );
    expect(line({ action: 'pulse', session: 's1', actor: 'x', output: 'pcs', seconds: 3 })).toBe('Commissioning: pcs pulsed for 3 s');
    expect(line({ action: 'ended', session: 's1', actor: 'x', result: 'failed' })).toBe('Commissioning ended: not every step passed');
    expect(line({ action: 'ended', session: 's1', actor: 'x', result: 'passed' })).toBe('Commissioning ended: every step passed');
  });

  it('can be the log filter’s only type', () => {
    expect(LogQuerySchema.parse({ types: 'commissioning' }).types).toEqual(['commissioning']);
  });
});
