// rules.occupancy (1.8): optional keys with their defaults applied where they are read, and a misspelt key refused
// with its path, so that a branch never runs without the tailgating alarm because of a typo.
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../../policies/index.js';
import { occupancyRules } from '../../../policies/schema.js';

const withRules = (rules: Record<string, unknown>) => parsePolicy({ version: 1, site: 'x', schedule: { weekly: {} }, rules });

describe('rules.occupancy', () => {
  it('is left out of a policy that does not set it, and read with its defaults: no reset, 10 quiet minutes, tailgating alarm', () => {
    const parsed = withRules({});
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    expect(parsed.policy.rules).not.toHaveProperty('occupancy');
    expect(occupancyRules(parsed.policy.rules)).toEqual({ resetAtStaffedStart: false, quietMinutes: 10, tailgating: 'alarm' });
  });

  it('takes what a policy sets, the rest by default', () => {
    const parsed = withRules({ occupancy: { tailgating: 'log', quietMinutes: 20 } });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    expect(occupancyRules(parsed.policy.rules)).toEqual({ resetAtStaffedStart: false, quietMinutes: 20, tailgating: 'log' });
  });

  it('refuses an unknown key, a quiet period out of range and an unknown tailgating choice, naming the field', () => {
    const errors = (occupancy: Record<string, unknown>): string[] => {
      const parsed = withRules({ occupancy });
      return parsed.ok ? [] : parsed.errors;
    };
    expect(errors({ tailgate: 'alarm' })).toEqual(['rules.occupancy.tailgate: unknown key']);
    expect(errors({ quietMinutes: 0 })).toEqual([expect.stringMatching(/^rules\.occupancy\.quietMinutes: /)]);
    expect(errors({ tailgating: 'siren' })).toEqual([expect.stringMatching(/^rules\.occupancy\.tailgating: /)]);
  });
});
