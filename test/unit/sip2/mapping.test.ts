import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../../policies/errors.js';
import { decide } from '../../../policies/index.js';
import type { Policy } from '../../../policies/index.js';
import { PolicySchema } from '../../../policies/schema.js';
import { decode, encode } from '../../../gateway/sip2/codec.js';
import { Sip2ConfigSchema, resolveSip2Paths } from '../../../gateway/sip2/config.js';
import { Sip2MappingSchema, patronToMember, sipDate } from '../../../gateway/sip2/mapping.js';
import type { MappingResult, Sip2MappingInput } from '../../../gateway/sip2/mapping.js';
import { readPatronResponse } from '../../../gateway/sip2/messages.js';

function answer(status: string, fields: string, code: '24' | '64' = '64'): ReturnType<typeof readPatronResponse> {
  const fixed = code === '64' ? `${status.padEnd(14)}00020261123    101500${'0000'.repeat(6)}` : `${status.padEnd(14)}00020261123    101500`;
  const wire = encode(`${code}${fixed}AOTOWN|AA21000123|AEReader, Ada|${fields}AFWelcome|`, { sequence: 1 });
  const decoded = decode(wire.subarray(0, -1));
  if (!decoded.ok) throw new Error('test message did not decode');
  return readPatronResponse(decoded.message);
}

const map = (status: string, fields: string, mapping: Sip2MappingInput = {}): MappingResult =>
  patronToMember(answer(status, fields), Sip2MappingSchema.parse(mapping));

const KOHA: Sip2MappingInput = {
  openAccess: { field: 'PC', values: ['OA', 'OAYOUNG'] },
  staff: { field: 'PC', values: ['STAFF'] },
};

// Monday 23 November 2026, 14:00 in London: open access in the example town policy.
const policy: Policy = PolicySchema.parse({
  version: 1,
  site: 'town-central',
  timezone: 'Europe/London',
  schedule: { weekly: { mon: [{ from: '08:00', to: '20:00', mode: 'open-access' }] } },
  rules: { minimumAge: 16 },
});
const context = { at: new Date('2026-11-23T14:00:00Z'), occupancy: 0, lockdown: false, emergency: false, clockTrusted: true };
const decision = (result: MappingResult): string => {
  const member = result.kind === 'found' ? result.member : undefined;
  const d = decide(policy, member, context);
  return d.allow ? `granted:${d.reason}` : `refused:${d.reason}`;
};

describe('SIP2 patron → member', () => {
  it('lets in a valid, registered adult whose membership runs', () => {
    const result = map('', 'BLY|PE20271231|PB19800501|PCOA|', KOHA);
    expect(result).toEqual({
      kind: 'found',
      member: { expires: '2027-12-31', blocked: false, blockedUntil: null, openAccess: true, birthDate: '1980-05-01', adult: null, staff: false, groups: [], pinHash: null },
    });
    expect(decision(result)).toBe('granted:member');
  });

  it('blocks on the configured status flags only', () => {
    expect(decision(map('Y', 'BLY|PB19800501|PCOA|', KOHA))).toBe('refused:blocked'); // charge privileges denied
    expect(decision(map('    Y', 'BLY|PB19800501|PCOA|', KOHA))).toBe('refused:blocked'); // card reported lost
    expect(decision(map(' '.repeat(13) + 'Y', 'BLY|PB19800501|PCOA|', KOHA))).toBe('refused:blocked'); // too many items billed
    // Hold and renewal privileges are nothing to do with the door.
    expect(decision(map(' YYY', 'BLY|PB19800501|PCOA|', KOHA))).toBe('granted:member');
    // Fines over the limit block only where the library says so.
    expect(decision(map(' '.repeat(10) + 'Y', 'BLY|PB19800501|PCOA|', KOHA))).toBe('granted:member');
    expect(decision(map(' '.repeat(10) + 'Y', 'BLY|PB19800501|PCOA|', { ...KOHA, blockedFlags: ['excessive-outstanding-fines'] }))).toBe('refused:blocked');
  });

  it('ignores the item limits (BZ, CA, CB) and fee fields', () => {
    const result = map('', 'BZ0000|CA0000|CB0000|BV99.00|CC5.00|BLY|PB19800501|PCOA|', KOHA);
    expect(decision(result)).toBe('granted:member');
  });

  it('refuses an expired membership, from a plain date or a SIP2 date-time in another field', () => {
    expect(decision(map('', 'BLY|PE20261122|PB19800501|PCOA|', KOHA))).toBe('refused:expired');
    // SirsiDynix: expiry in PA as a date-time, birth date in PD.
    const sirsi = { ...KOHA, expiresField: 'PA', birthDateField: 'PD' } as const;
    const result = map('', 'BLY|PA20261122    235900|PD19800501|PCOA|PEAR|', sirsi);
    expect(result.kind === 'found' && result.member.expires).toBe('2026-11-22');
    expect(decision(result)).toBe('refused:expired');
    // The last valid day is still valid.
    expect(decision(map('', 'BLY|PA20261123    235900|PD19800501|PCOA|', sirsi))).toBe('granted:member');
  });

  it('treats a garbled expiry as no answer, never as "does not expire"', () => {
    expect(map('', 'BLY|PE2026-13-45|PCOA|', KOHA)).toEqual({ kind: 'invalid', problem: 'PE (expiry) is not a yyyyMMdd date' });
    expect(map('', 'BLY|PEsoon|PCOA|', KOHA).kind).toBe('invalid');
  });

  it('takes the age from the birth date; no birth date is an unknown age', () => {
    expect(decision(map('', 'BLY|PB20150101|PCOA|', KOHA))).toBe('refused:under-age');
    expect(decision(map('', 'BLY|PCOA|', KOHA))).toBe('refused:under-age');
    expect(decision(map('', 'BLY|PBnot-a-date|PCOA|', KOHA))).toBe('refused:under-age');
  });

  it('maps the patron class to open-access registration and staff, case-insensitively', () => {
    expect(decision(map('', 'BLY|PB19800501|PCADULT|', KOHA))).toBe('refused:not-registered');
    expect(decision(map('', 'BLY|PB19800501|PCoa|', KOHA))).toBe('granted:member');
    expect(decision(map('', 'BLY|PCSTAFF|', KOHA))).toBe('granted:staff');
    expect(decision(map('', 'BLY|PB19800501|PCADULT|', { openAccess: 'all' }))).toBe('granted:member');
    // A flag field of its own (an LMS extension field) works the same way.
    expect(decision(map('', 'BLY|PB19800501|XOY|', { openAccess: { field: 'XO', values: ['Y'] } }))).toBe('granted:member');
    // By default nobody found online is registered.
    expect(decision(map('', 'BLY|PB19800501|PCOA|'))).toBe('refused:not-registered');
  });

  it('reads BL N as an unknown card, and no BL as unknown unless configured', () => {
    expect(map('YYYY', 'BLN|', KOHA)).toEqual({ kind: 'not-found' });
    expect(decision(map('YYYY', 'BLN|', KOHA))).toBe('refused:unknown-card');
    expect(map('', 'PB19800501|PCOA|', KOHA)).toEqual({ kind: 'not-found' });
    expect(map('', 'PB19800501|PCOA|', { ...KOHA, withoutValidPatron: 'found' }).kind).toBe('found');
  });

  it('reads patron status responses (24) too', () => {
    const result = patronToMember(answer('Y', 'BLY|', '24'), Sip2MappingSchema.parse({ openAccess: 'all' }));
    expect(result.kind === 'found' && result.member.blocked).toBe(true);
  });

  it('accepts only real dates', () => {
    expect(sipDate('20240229')).toBe('2024-02-29');
    expect(sipDate('20230229')).toBeNull();
    expect(sipDate('2027-12-31')).toBe('2027-12-31');
    expect(sipDate('20271231    235900')).toBe('2027-12-31');
    expect(sipDate('202712311')).toBeNull();
    expect(sipDate('20271231235900')).toBe('2027-12-31');
    expect(sipDate('')).toBeNull();
  });
});

describe('sip2 config section', () => {
  const base = { host: 'lms.example.org', port: 6001, institutionId: 'TOWN', user: 'gate' };

  it('fills the defaults: 1.5 s timeout, an hour in the cache, the three blocking flags', () => {
    const config = Sip2ConfigSchema.parse(base);
    expect(config).toMatchObject({ tls: false, timeoutMs: 1500, cacheMinutes: 60, message: 'patron-information' });
    expect(config.mapping).toMatchObject({
      blockedFlags: ['charge-privileges-denied', 'card-reported-lost', 'too-many-items-billed'],
      expiresField: 'PE',
      birthDateField: 'PB',
      openAccess: 'none',
      staff: 'none',
      withoutValidPatron: 'not-found',
    });
  });

  it('names the path of every mistake, and has no place for a password', () => {
    const result = Sip2ConfigSchema.safeParse({
      ...base,
      port: 0,
      password: 'x',
      institutionId: 'TO|WN',
      timeoutMs: 60_000,
      mapping: { blockedFlags: ['card-stolen'], openAccess: { field: 'category', values: [] } },
    });
    expect(result.success).toBe(false);
    if (result.success) return;
    const errors = formatIssues(result.error);
    for (const path of ['port', 'password', 'institutionId', 'timeoutMs', 'mapping.blockedFlags[0]', 'mapping.openAccess']) {
      expect(errors.some((e) => e.startsWith(`${path}`)), `${path} in ${errors.join('; ')}`).toBe(true);
    }
  });

  it('takes relative file paths from the config file\'s folder', () => {
    const config = resolveSip2Paths(Sip2ConfigSchema.parse({ ...base, passwordFile: 'sip2.pw', tls: { ca: 'ca.pem' } }), '/etc/oag');
    expect(config?.passwordFile).toBe('/etc/oag/sip2.pw');
    expect(config?.tls).toEqual({ ca: '/etc/oag/ca.pem', rejectUnauthorized: true });
    expect(resolveSip2Paths(undefined, '/etc/oag')).toBeUndefined();
  });
});
