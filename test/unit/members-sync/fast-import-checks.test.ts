// The fast paths of the full imports must not change what is imported: a row's direct checks give the schema's
// answer (the same member, or a refusal the schema then explains), and the card hasher written over SHA-256 gives
// node's HMAC-SHA256 for every key length; hashing in a worker thread gives the same list as on the import's thread.
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LMS_COLUMNS, LmsMappingSchema } from '../../../central/members/config.js';
import { importLmsCsv } from '../../../central/members/lms-import.js';
import { createLmsRowChecks, type LmsRowInput } from '../../../central/members/lms-row.js';
import { SqliteMemberStore } from '../../../central/members/sqlite-member-store.js';
import { CentralStore } from '../../../central/store.js';
import { importMembersCsv } from '../../../gateway/members/index.js';
import { CardHashWorker, createBytesHasher, encodeRows, HASHED_ROW_BYTES, hashedRow, hashedSum, HashQueue } from '../../../kit/card-hash-worker.js';
import { DEFAULT_MEMBER_MAPPING, MemberImportMappingSchema } from '../../../gateway/members/mapping.js';
import { createMemberRowChecks, type MemberRowInput } from '../../../gateway/members/row-schema.js';
import { openStore } from '../../../gateway/store/index.js';
import { createCardHasher, createCardHashWriter, deploymentKeyId } from '../../../policies/cards.js';
import { digestOfParts, ListHash } from '../../../policies/member-list.js';
import { TEST_KEY_HEX } from './helpers.js';

const TODAY = '2026-03-02';

/** Each field's good and bad spellings, crossed so that every row has one field varied. */
function variants<T extends Record<string, string>>(base: T, values: Partial<Record<keyof T, string[]>>): T[] {
  const rows: T[] = [base];
  for (const [field, list] of Object.entries(values) as Array<[keyof T, string[]]>) for (const v of list) rows.push({ ...base, [field]: v });
  return rows;
}

/** The direct checks give the schema's answer on every row: the same member, or none where the schema refuses. */
function expectAgreement<R>(checks: { schema: { safeParse(raw: R): { success: true; data: unknown } | { success: false } }; parse(raw: R): unknown }, rows: R[]): void {
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
      expectAgreement(createMemberRowChecks(mapping, TODAY), rows);
    });
  }
});

describe('LMS row checks', () => {
  const base: LmsRowInput = {
    cardNumber: '21123400012345',
    cardUids: '',
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
    cardUids: ['04:a2:1b:7c', '04a21b7c3d5e80; 0102030405060708090a', '04a21b7', 'zz112233', '21123400012345'],
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
      columns: { cardNumber: 'c', cardUids: 'u', openAccess: 'oa', category: 'cat', blocked: 'b', fines: 'f' },
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
      expectAgreement(createLmsRowChecks(mapping, TODAY), rows);
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

  it("writes the same hash from a card id's bytes, and refuses bytes normaliseCardId would not give", () => {
    for (const length of [32, 64, 65, 128]) {
      const key = Buffer.from(Buffer.alloc(length, 0).map((_, i) => (i * 37 + length) & 0xff));
      const write = createCardHashWriter(key);
      const out = new Uint8Array(34);
      for (const id of ['0001', '211234000123', '04A21B7C', 'Z'.repeat(32)]) {
        const around = Buffer.from(`--${id}--`, 'latin1');
        write(around, 2, 2 + id.length, out, 2);
        expect(Buffer.from(out.subarray(2)).toString('hex')).toBe(createHmac('sha256', key).update(id, 'latin1').digest('hex'));
      }
      for (const bad of ['001', 'Z'.repeat(33), '04a21b7c', '0001 2', '00É1']) {
        const b = Buffer.from(bad, 'utf8');
        expect(() => write(b, 0, b.length, out, 0), bad).toThrow(/expects a card id from normaliseCardId/);
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

describe('hashing in a worker thread', () => {
  // 1,200 rows in batches of 500 (three batches, the last one short), a duplicate and a bad row among them.
  const rows = Array.from({ length: 1200 }, (_, i) => `2100000${String(i).padStart(7, '0')},17/05/1990,2027-03-31,${i % 7 === 0 ? 'Y' : 'N'},,${i % 5 === 0 ? 'no' : 'yes'},0,`);
  rows[600] = rows[3]!;
  rows[900] = 'x,17/05/1990,2027-03-31,N,,yes,0,';
  const text = `card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups\n${rows.join('\n')}\n`;
  const key = Buffer.from(TEST_KEY_HEX, 'hex');
  const now = new Date(`${TODAY}T10:00:00Z`);

  it('starts for a hasher from createCardHasher, and not for any other function', async () => {
    const worker = CardHashWorker.start(createCardHasher(key));
    expect(worker).not.toBeNull();
    const out = await worker!.hash(['0001'], ['\t\t0']);
    worker!.close();
    expect(Buffer.from(out.subarray(0, 32)).equals(createCardHasher(key)('0001'))).toBe(true);
    expect(CardHashWorker.start((id) => Buffer.from(id))).toBeNull();
  });

  it("hashes a batch from its bytes as card by card: node's HMAC, each digest, and their sum", () => {
    const hasher = createCardHasher(key);
    const ids = Array.from({ length: 300 }, (_, i) => `${i % 3 === 0 ? 'A' : ''}${String(i * 7919).padStart(4 + (i % 20), '0')}`);
    // Texts of every length around the digest's block boundaries, some of them not ASCII.
    const texts = ids.map((_, i) => `\t2027-01-31\t${i % 2}\t${'é'.repeat(i % 40)}${'x'.repeat(i % 13)}`);
    const out = createBytesHasher(key)(encodeRows(ids, texts));
    const sum = new ListHash();
    for (let i = 0; i < ids.length; i++) {
      const { cardHash, digest } = hashedRow(out, i);
      expect(cardHash.equals(hasher(ids[i]!)), ids[i]).toBe(true);
      expect(digest.equals(digestOfParts(hasher(ids[i]!), texts[i]!)), texts[i]).toBe(true);
      sum.addDigest(digest);
    }
    expect(hashedSum(out).toHex()).toBe(sum.toHex());
    expect(out.length).toBe(ids.length * HASHED_ROW_BYTES + 32);
  });

  it('hashes on the calling thread once the thread has stopped', async () => {
    const hasher = createCardHasher(key);
    const worker = CardHashWorker.start(hasher)!;
    const queue = new HashQueue<string>(hasher, worker, 0);
    const [[, first]] = (await queue.add('a', ['0001'], ['\t\t0'])) as [[string, Uint8Array]];
    worker.close();
    const [[, second]] = (await queue.add('b', ['0001'], ['\t\t0'])) as [[string, Uint8Array]];
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    expect(Buffer.from(first.subarray(0, 32)).equals(hasher('0001'))).toBe(true);
  });

  function tempFile(): { dir: string; file: string } {
    const dir = mkdtempSync(join(tmpdir(), 'oag-hash-worker-'));
    const file = join(dir, 'members.csv');
    writeFileSync(file, text);
    return { dir, file };
  }

  it("gives a branch the same list as hashing on the import's own thread", async () => {
    const { dir, file } = tempFile();
    try {
      const results = [];
      for (const [name, from] of [['here', Number.MAX_SAFE_INTEGER], ['worker', 0]] as const) {
        const store = openStore(join(dir, `${name}.sqlite`));
        const s = await importMembersCsv(store, file, { hasher: createCardHasher(key), now, hashWorkerFromBytes: from });
        results.push({ count: s.count, hash: s.hash, rejected: s.rejected, blocked: store.members.find(createCardHasher(key)('21000000000007'))?.blocked });
        store.close();
      }
      expect(results[1]).toEqual(results[0]);
      expect(results[0]).toMatchObject({ count: 1198, blocked: true, rejected: [{ line: 602 }, { line: 902 }] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives central the same version as hashing on the import's own thread", async () => {
    const { dir, file } = tempFile();
    try {
      const mapping = LmsMappingSchema.parse({ columns: DEFAULT_LMS_COLUMNS });
      const results = [];
      for (const from of [Number.MAX_SAFE_INTEGER, 0]) {
        const central = new CentralStore(':memory:');
        const members = new SqliteMemberStore(central.db);
        const s = await importLmsCsv(members, file, { mapping, hasher: createCardHasher(key), keyId: deploymentKeyId(key), branchList: 'registered', now, keepVersions: 5, hashWorkerFromBytes: from });
        results.push({ count: s.count, hash: s.hash, notRegistered: s.notRegistered, rejected: s.rejected, unlisted: members.tables.unlistedCount() });
        central.close();
      }
      expect(results[1]).toEqual(results[0]);
      // Every fifth row is not registered: 240, less the two of them a duplicate and a bad row took the place of.
      expect(results[0]!.notRegistered).toBe(238);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
