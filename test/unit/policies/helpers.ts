import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPolicyText, parsePolicy, type DecisionContext, type Member, type Policy, type PolicyInput } from '../../../policies/index.js';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../../policies/examples/', import.meta.url));

/** A validated policy from a partial document; fails the test with the errors when invalid. */
export function policyOf(doc: Omit<PolicyInput, 'version' | 'site'> & Partial<Pick<PolicyInput, 'version' | 'site'>>): Policy {
  const parsed = parsePolicy({ version: 1, site: 'test-branch', ...doc });
  if (!parsed.ok) throw new Error(`invalid test policy:\n${parsed.errors.join('\n')}`);
  return parsed.policy;
}

export function example(name: 'town' | 'village' | 'hub'): Policy {
  const file = `${EXAMPLES_DIR}${name}.yaml`;
  const parsed = loadPolicyText(readFileSync(file, 'utf8'), file);
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  return parsed.policy;
}

export const utc = (iso: string): Date => new Date(iso);

export function member(overrides: Partial<Member> = {}): Member {
  return {
    expires: null,
    blocked: false,
    blockedUntil: null,
    openAccess: true,
    birthDate: '1980-05-01',
    adult: null,
    staff: false,
    groups: [],
    pinHash: null,
    ...overrides,
  };
}

export function ctx(at: Date | string, overrides: Partial<DecisionContext> = {}): DecisionContext {
  return {
    at: typeof at === 'string' ? new Date(at) : at,
    occupancy: 0,
    lockdown: false,
    emergency: false,
    clockTrusted: true,
    ...overrides,
  };
}

/** The same window list on every day of the week. */
export function everyDay<T>(windows: T): Record<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun', T> {
  return { mon: windows, tue: windows, wed: windows, thu: windows, fri: windows, sat: windows, sun: windows };
}
