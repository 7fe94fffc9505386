// The fast paths of the full imports must not change what is imported: a row's direct checks give the schema's
// answer (the same member, or a refusal the schema then explains), and the card hasher written over SHA-256 gives
// node's HMAC-SHA256 for every key length.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LmsMappingSchema } from '../../../central/members/config.js';
import { createLmsRowChecks, type LmsRowInput } from '../../../central/members/lms-row.js';
import { DEFAULT_MEMBER_MAPPING, MemberImportMappingSchema } from '../../../gateway/members/mapping.js';
import { createMemberRowChecks, type MemberRowInput } from '../../../gateway/members/row-schema.js';
import { createCardHasher } from '../../../policies/cards.js';

const TODAY = '2026-03-02';

/** Each field's good and bad spellings, crossed so that every row has one field varied. */
function variants<T extends Record<string, string>>(base: T, values: Partial<Record<keyof T, string[]>>): T[] {
  const rows: T[] = [base];
  for (const [field, list] of Object.entries(values) as Array<[keyof T, string[]]>) for (const v of list) rows.push({ ...base, [field]: v });
  return rows;
}

const DATES = ['', '2027-01-31', '31/01/2027', '01/31/2027', '2027-02-30', 'soon', ' 2027-01-31 ', '2027-01-31 00:00:00', '9999-12-31'];
const FLAGS = ['', 'Y', 'n', 'yes', 'No', 'true', '0', '1', 'maybe'];

describe('gateway row checks', () => {
  const base: MemberRowInput = { cardNumber: '2112 3400 0123', birthDate: '01/02/1980', adult: '', expires: '2027-01-01', blocked: 'N', blockedUntil: '', openAccess: 'yes', staff: '0', groups: '' };
  const rows = variants(base, {
    cardNumber: ['', '12', 'ab-cd-ef-12', 'x'.repeat(40), '21é34567'],
    birthDate: [...DATES, '2026-03-03', '2026-03-02'],
    adult: FLAGS,
    expires: DATES,
    blocked: FLAGS,
    blockedUntil: DATES,
    openAccess: FLAGS,
    staff: FLAGS,
    groups: ['chess-club', 'chess-club;scouts-1st-town', 'Chess Club', 'a|b c,d', '-bad'],
  });

  for (const mapping of [DEFAULT_MEMBER_MAPPING, MemberImportMappingSchema.parse({ ...DEFAULT_MEMBER_MAPPING, openAccessValues: ['OA', 'oa-adult'] })]) {
    it(`agree with the schema on ${rows.length} rows${mapping.openAccessValues === undefined ? '' : ' (open access by category)'}`, () => {
      const checks = createMemberRowChecks(mapping, TODAY);
      let refused = 0;
      for (const raw of rows) {
        const result = checks.schema.safeParse(raw);
        const direct = checks.parse(raw);
        if (result.success) expect(direct).toEqual(result.data);
        else {
          refused++;
          expect(direct).toBeUndefined();
        }
      }
      expect(refused).toBeGreaterThan(10);
    });
  }
});

describe('LMS row checks', () => {
  const base: LmsRowInput = {
    cardNumber: '21123400012345',
    birthDate: '1980-02-01',
    adult: '',
    expires: '2027-01-01',
    category: 'ADULT',
    blocked: '',
    blockedUntil: '',
    fines: '',
    openAccess: 'Y',
    staff: '',
    groups: '',
  };
  const rows = variants(base, {
    cardNumber: ['', '12', '04:a2:1b:7c', 'x'.repeat(40)],
    birthDate: [...DATES, '2026-03-03'],
    adult: FLAGS,
    expires: DATES,
    category: ['', 'oa', ' STAFF ', 'SUSP', 'child'],
    blocked: [...FLAGS, '2026-01-01', '2026-04-01', '9999-12-31', 'MB', 'x'],
    blockedUntil: DATES,
    fines: ['', '0', '12.50', '£1,234.00', '-3.00', '$5', 'lots'],
    openAccess: FLAGS,
    staff: FLAGS,
    groups: ['chess-club', 'Chess Club', '-bad'],
  });
  const mappings = [
    LmsMappingSchema.parse({ columns: { cardNumber: 'c', openAccess: 'oa' } }),
    LmsMappingSchema.parse({
      columns: { cardNumber: 'c', openAccess: 'oa', category: 'cat', blocked: 'b', fines: 'f' },
      openAccessCategories: ['OA'],
      staffCategories: ['staff'],
      blockedCategories: ['susp'],
      blockedValues: ['mb', 'y'],
      finesBlockAt: 10,
      dateOrder: 'mdy',
    }),
  ];
  for (const [i, mapping] of mappings.entries()) {
    it(`agree with the schema on ${rows.length} rows (mapping ${i + 1})`, () => {
      const checks = createLmsRowChecks(mapping, TODAY);
      let refused = 0;
      for (const raw of rows) {
        const result = checks.schema.safeParse(raw);
        const direct = checks.parse(raw);
        if (result.success) expect(direct).toEqual(result.data);
        else {
          refused++;
          expect(direct).toBeUndefined();
        }
      }
      expect(refused).toBeGreaterThan(10);
    });
  }
});

describe('card hasher', () => {
  it("is node's HMAC-SHA256 for keys shorter than, equal to and longer than SHA-256's block", () => {
    for (const length of [32, 63, 64, 65, 128]) {
      const key = Buffer.alloc(length, 0).map((_, i) => (i * 37 + length) & 0xff);
      const hasher = createCardHasher(Buffer.from(key));
      for (const id of ['0001', '211234000123', '04A21B7C', 'Z'.repeat(32)]) {
        expect(hasher(id).toString('hex')).toBe(createHmac('sha256', key).update(id, 'latin1').digest('hex'));
      }
    }
  });

  it('gives each call its own buffer', () => {
    const hasher = createCardHasher(Buffer.alloc(32, 7));
    const a = hasher('0001');
    const b = hasher('0002');
    expect(a.equals(b)).toBe(false);
    expect(a.toString('hex')).toBe(createHmac('sha256', Buffer.alloc(32, 7)).update('0001', 'latin1').digest('hex'));
  });
});
