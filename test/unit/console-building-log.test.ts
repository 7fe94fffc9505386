// The staff log's lines for the building around the door (contract 1.9): a switched output by its label, the
// intruder alarm's set and unset by what became of them, and each announcement with its languages and outcome;
// and the log's filter that shows only those.
import { afterEach, describe, expect, it } from 'vitest';
import { logRow } from '../../gateway/console/log-format.js';
import { startConsole } from '../helpers/console.js';
import type { ConsoleHarness } from '../helpers/console.js';

const AT = '2026-11-23T19:00:00.000Z';
const line = (type: string, data: Record<string, unknown>, labels?: Map<string, string>): string => logRow({ id: '1', at: AT, type, data }, labels).summary;

describe('the log line of a building event', () => {
  it('a switched output: by the label its config gives it, by id without, and why it changed', () => {
    const labels = new Map([['pcs', 'PCs']]);
    expect(line('output', { output: 'pcs', on: false, by: 'schedule' }, labels)).toBe('PCs switched off (schedule)');
    expect(line('output', { output: 'heating', on: true, by: 'start' }, labels)).toBe('heating switched on (as the schedule says, at start)');
    expect(line('output', { output: 'kiosk', on: true, by: 'maintenance' })).toBe('kiosk switched on (maintenance)');
  });

  it('the intruder alarm: asked, confirmed, not confirmed, or done at the panel', () => {
    expect(line('intruder-alarm', { action: 'set', outcome: 'requested', by: 'empty after close' })).toBe('Intruder alarm setting… (empty after close)');
    expect(line('intruder-alarm', { action: 'set', outcome: 'confirmed', by: 'empty after close' })).toBe('Intruder alarm set (empty after close)');
    expect(line('intruder-alarm', { action: 'unset', outcome: 'failed', by: 'before open access' })).toBe(
      'Intruder alarm did not unset: the panel did not confirm (before open access)',
    );
    expect(line('intruder-alarm', { action: 'unset', outcome: 'at-panel', by: 'panel' })).toBe('Intruder alarm unset at the panel');
  });

  it('an announcement: the phrase and its languages, played, interrupted or failed with why; staff’s own words in quotes', () => {
    expect(line('announcement', { phrase: 'closing-soon', languages: ['cy', 'en'], outcome: 'played' })).toBe('Announced: closing-soon (cy, en) — played');
    expect(line('announcement', { phrase: 'closing-now', languages: ['en'], outcome: 'interrupted' })).toBe('Announced: closing-now (en) — interrupted');
    expect(line('announcement', { phrase: 'evacuate', languages: ['en'], outcome: 'failed', detail: 'no sound device' })).toBe(
      'Announced: evacuate (en) — failed: no sound device',
    );
    expect(line('announcement', { phrase: 'text', languages: ['en'], outcome: 'played', detail: 'The lift is out of order' })).toBe(
      'Announced: “The lift is out of order” (en) — played',
    );
    expect(line('announcement', { phrase: 'text', languages: ['en'], outcome: 'failed', detail: 'player exited 1' })).toBe('Announced: staff’s words (en) — failed: player exited 1');
  });
});

describe('the log page shows building events, and filters them', () => {
  let c: ConsoleHarness | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('GET /log?types=output,intruder-alarm,announcement gives those in words and leaves the door out', async () => {
    c = await startConsole();
    await c.addUser('sam', 'staff');
    const sam = await c.login('sam');
    const store = c.harness.running.store;
    store.events.append({ type: 'output', at: new Date('2026-11-23T18:45:00Z'), data: { output: 'pcs', on: false, by: 'schedule' } });
    store.events.append({ type: 'access', at: new Date('2026-11-23T18:50:00Z'), reason: 'member', data: { decision: 'granted', reason: 'member', reader: 'entry', person: 'ab12cd34', mode: 'open-access' } });
    store.events.append({ type: 'announcement', at: new Date('2026-11-23T18:55:00Z'), data: { phrase: 'closing-soon', languages: ['cy', 'en'], outcome: 'played' } });
    store.events.append({ type: 'intruder-alarm', at: new Date('2026-11-23T20:30:00Z'), data: { action: 'set', outcome: 'confirmed', by: 'empty after close' } });

    const res = await c.call(sam, 'GET', '/api/console/log?types=output,intruder-alarm,announcement');
    expect(res.statusCode).toBe(200);
    expect(res.json().events.map((r: { type: string; summary: string }) => [r.type, r.summary])).toEqual([
      ['intruder-alarm', 'Intruder alarm set (empty after close)'],
      ['announcement', 'Announced: closing-soon (cy, en) — played'],
      ['output', 'pcs switched off (schedule)'],
    ]);
    const csv = await c.call(sam, 'GET', '/api/console/log.csv?types=announcement');
    expect(csv.body).toContain('Announced: closing-soon (cy, en) — played');
    expect(csv.body).not.toContain('switched off');
  });
});
