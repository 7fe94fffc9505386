import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decide, loadPolicyText, modeAt, upcoming } from '../../../policies/index.js';
import { ctx, EXAMPLES_DIR, example, member, utc } from './helpers.js';

describe('example policies', () => {
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.yaml') || f.endsWith('.json'));

  it('include the town, village and hub', () => {
    expect(files.sort()).toEqual(expect.arrayContaining(['hub.yaml', 'town.yaml', 'village.yaml']));
  });

  it.each(files)('%s validates', (file) => {
    const parsed = loadPolicyText(readFileSync(`${EXAMPLES_DIR}${file}`, 'utf8'), file);
    expect(parsed.ok ? [] : parsed.errors).toEqual([]);
  });

  it('town: staffed mornings, open access 08:00–20:00 around them, Sundays open access only', () => {
    const town = example('town');
    const monday = upcoming(town, utc('2026-01-05T00:00:00Z'), 1).map((t) => `${t.at.toISOString().slice(11, 16)} ${t.to}`);
    expect(monday).toEqual(['08:00 open-access', '10:00 staffed', '13:00 changeover', '13:15 open-access', '20:00 closed']);
    expect(modeAt(town, utc('2026-01-11T12:00:00Z')).mode).toBe('open-access');
    expect(decide(town, member(), ctx('2026-01-05T19:30:00Z')).reason).toBe('last-entry-passed');
  });

  it('village: one staffed afternoon, adults only with a PIN otherwise', () => {
    const village = example('village');
    expect(modeAt(village, utc('2026-01-07T15:00:00Z')).mode).toBe('staffed');
    expect(modeAt(village, utc('2026-01-07T18:00:00Z')).mode).toBe('open-access');
    expect(decide(village, member({ birthDate: '2009-01-01' }), ctx('2026-01-05T12:00:00Z')).reason).toBe('under-age');
    expect(decide(village, member(), ctx('2026-01-05T12:00:00Z')).reason).toBe('not-registered'); // no PIN set
    expect(decide(village, member({ pinHash: 'scrypt$10$8$1$c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' }), ctx('2026-01-05T12:00:00Z')).reason).toBe('pin-required');
  });

  it('hub: closed on Christmas Day, the scouts in on a Tuesday evening', () => {
    const hub = example('hub');
    expect(modeAt(hub, utc('2026-12-25T12:00:00Z')).mode).toBe('closed');
    expect(decide(hub, member({ groups: ['1st-riverside-scouts'], birthDate: '2015-01-01' }), ctx('2026-12-22T19:00:00Z')).reason).toBe('booking');
  });
});
