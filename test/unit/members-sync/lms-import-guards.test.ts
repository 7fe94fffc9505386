// Central's LMS import refuses an export that is cut short, not UTF-8 or absurdly large, as the branch's does:
// a version made from it would go to every branch.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LmsMappingSchema } from '../../../central/members/config.js';
import { LmsImportError, importLmsCsv } from '../../../central/members/lms-import.js';
import { SqliteMemberStore } from '../../../central/members/sqlite-member-store.js';
import { CentralStore } from '../../../central/store.js';
import { createCardHasher, deploymentKeyId } from '../../../policies/cards.js';
import { TEST_KEY_HEX } from './helpers.js';

const KEY = Buffer.from(TEST_KEY_HEX, 'hex');
const NOW = new Date('2026-03-02T10:00:00.000Z');
const HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';
const row = (i: number): string => `2100000000${String(i).padStart(4, '0')},1990-05-17,2027-03-31,N,,yes,0,`;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setUp(): { members: SqliteMemberStore; path: (name: string, content: string | Buffer) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'oag-lms-guards-'));
  const central = new CentralStore(':memory:');
  cleanups.push(() => {
    central.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    members: new SqliteMemberStore(central.db),
    path: (name, content) => {
      const file = join(dir, name);
      writeFileSync(file, content);
      return file;
    },
  };
}

const options = () => ({
  mapping: LmsMappingSchema.parse({ columns: { cardNumber: 'card_number', birthDate: 'date_of_birth', expires: 'expiry_date', blocked: 'blocked', blockedUntil: 'blocked_until', openAccess: 'open_access', staff: 'staff', groups: 'groups' } }),
  hasher: createCardHasher(KEY),
  keyId: deploymentKeyId(KEY),
  branchList: 'registered' as const,
  now: NOW,
  keepVersions: 50,
});

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LmsImportError);
    return (error as Error).message;
  }
  throw new Error('the import was expected to fail');
}

describe('central LMS import of an export that is not what it claims', () => {
  it('refuses one cut off in the middle of a row, and makes no version', async () => {
    const { members, path } = setUp();
    const rows = Array.from({ length: 30 }, (_, i) => row(i + 1));
    const cut = path('cut.csv', [HEADER, ...rows.slice(0, 29), rows[29]!.slice(0, 25)].join('\n'));
    expect(await refusal(importLmsCsv(members, cut, options()))).toBe(`${cut}: the last line (31) stops in the middle of a row, without a line break: a cut-short export? nothing changed`);
    expect(members.tables.current()).toBeNull();
  });

  it('refuses bytes that are not UTF-8, naming the byte', async () => {
    const { members, path } = setUp();
    const text = `${HEADER}\n${row(1)}\n`;
    const file = path('latin1.csv', Buffer.concat([Buffer.from(text), Buffer.from([0x80]), Buffer.from(`\n${row(2)}\n`)]));
    expect(await refusal(importLmsCsv(members, file, options()))).toBe(`${file}: not valid UTF-8 at byte ${Buffer.byteLength(text)} (line 3); export it as UTF-8: nothing changed`);
    expect(members.tables.current()).toBeNull();
  });

  it('refuses a file over 1 GiB before reading it', async () => {
    const { members, path } = setUp();
    const huge = path('huge.csv', `${HEADER}\n`);
    truncateSync(huge, 1024 ** 3 + 1);
    expect(await refusal(importLmsCsv(members, huge, options()))).toMatch(/too large \(1,073,741,825 bytes; the limit is 1 GiB\): nothing changed$/);
  });
});
