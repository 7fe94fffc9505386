// Central's import of an LMS member export: column mapping and category rules as Koha and Sierra exports need
// them, rejected rows by line and reason (never quoting a card number), and files that change nothing.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LmsMappingSchema, type BranchList, type LmsMappingInput } from '../../../central/members/config.js';
import { LmsImportError, importLmsCsv } from '../../../central/members/lms-import.js';
import { parseAmount, parseLmsDate } from '../../../central/members/lms-row.js';
import { SqliteMemberStore } from '../../../central/members/sqlite-member-store.js';
import { ExportFolderWatch } from '../../../central/members/watch.js';
import { CentralStore } from '../../../central/store.js';
import { createCardHasher, deploymentKeyId } from '../../../policies/cards.js';
import { parseMemberFields } from '../../../policies/member-list.js';
import { TEST_KEY_HEX, hashCard } from './helpers.js';

const KEY = Buffer.from(TEST_KEY_HEX, 'hex');
const NOW = new Date('2026-03-02T10:00:00.000Z');
let dir: string;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setUp(): SqliteMemberStore {
  dir = mkdtempSync(join(tmpdir(), 'oag-lms-'));
  const central = new CentralStore(':memory:');
  cleanups.push(() => {
    central.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return new SqliteMemberStore(central.db);
}

/** `everyone` unless said: most cases here are about reading rows, whoever they belong to. */
function run(store: SqliteMemberStore, csv: string, mapping: LmsMappingInput, name = 'export.csv', branchList: BranchList = 'everyone') {
  const file = join(dir, name);
  writeFileSync(file, csv);
  return importLmsCsv(store, file, { mapping: LmsMappingSchema.parse(mapping), hasher: createCardHasher(KEY), keyId: deploymentKeyId(KEY), branchList, now: NOW, keepVersions: 50 });
}

const member = (store: SqliteMemberStore, card: string) => {
  const fields = store.tables.fields(hashCard(card));
  return fields === undefined ? undefined : parseMemberFields(fields);
};

const KOHA: LmsMappingInput = {
  columns: { cardNumber: 'cardnumber', birthDate: 'dateofbirth', expires: 'dateexpiry', category: 'categorycode', blocked: 'debarred', fines: 'account_balance' },
  openAccessCategories: ['OA', 'STAFF'],
  staffCategories: ['STAFF'],
  finesBlockAt: 10,
  maxRejectedFraction: 0.5,
};

const KOHA_CSV = [
  'cardnumber,surname,firstname,dateofbirth,dateexpiry,categorycode,debarred,account_balance',
  '21000000000011,Smith,Ann,1980-02-03,2027-01-31,OA,,0.00',
  '21000000000012,Jones,Bob,1975-06-07,2027-01-31,ADULT,,0.00',
  '21000000000013,Brown,Cy,1990-01-01,2027-01-31,oa,2026-12-31,0.00',
  '21000000000014,Green,Di,1985-01-01,2027-01-31,OA,9999-12-31,0.00',
  '21000000000015,White,Ed,1985-01-01,2027-01-31,OA,2020-01-01,0.00',
  '21000000000016,Black,Fi,1985-01-01,2027-01-31,OA,,12.50',
  '21000000000017,Staff,Gi,1970-01-01,2030-01-01,STAFF,,0',
  '21000000000018,Bad,Date,31/02/1990,2027-01-31,OA,,0',
  '210,Short,Card,1980-01-01,2027-01-31,OA,,0',
  '21000000000011,Dup,Row,1980-01-01,2027-01-31,OA,,0',
  '21000000000019,Owes,Lots,1980-01-01,2027-01-31,OA,,lots',
  '',
].join('\n');

describe('importing an LMS export at central', () => {
  it('reads a Koha-style export with category rules, debarments and a fines threshold', async () => {
    const store = setUp();
    const summary = await run(store, KOHA_CSV, KOHA);
    expect(summary).toMatchObject({ added: 7, changed: 0, removed: 0, total: 11, rejectedCount: 4, count: 7, version: 1, created: true });
    expect(summary.rejected).toEqual([
      { line: 9, reason: 'dateofbirth: not a date "31/02/1990" (use YYYY-MM-DD or DD/MM/YYYY)' },
      { line: 10, reason: 'cardnumber: card number is shorter than 4 characters' },
      { line: 11, reason: 'cardnumber: the same card as line 2' },
      { line: 12, reason: 'account_balance: not an amount "lots"' },
    ]);
    expect(JSON.stringify(summary)).not.toMatch(/2100000000001\d/);
    expect(member(store, '21000000000011')).toMatchObject({ openAccess: true, blocked: false, staff: false, birthDate: '1980-02-03', expires: '2027-01-31' });
    expect(member(store, '21000000000012')).toMatchObject({ openAccess: false });
    expect(member(store, '21000000000013')).toMatchObject({ openAccess: true, blocked: true, blockedUntil: '2026-12-31' });
    expect(member(store, '21000000000014')).toMatchObject({ blocked: true, blockedUntil: null });
    expect(member(store, '21000000000015')).toMatchObject({ blocked: false, blockedUntil: null });
    expect(member(store, '21000000000016')).toMatchObject({ blocked: true, blockedUntil: null });
    expect(member(store, '21000000000017')).toMatchObject({ staff: true, openAccess: true });
    // Only what a decision needs is kept: no names, no category, no amount.
    const stored = store.tables.db.prepare('SELECT fields FROM members_current').pluck().all().join('\n');
    expect(stored).not.toMatch(/Smith|OA|STAFF|12\.50/);
  });

  it('reads a Sierra-style export: another delimiter, month-first dates, block codes and money with symbols', async () => {
    const store = setUp();
    const csv = ['P BARCODE|BIRTH DATE|EXP DATE|P TYPE|MBLOCK|MONEY OWED', '21000000000031|02-03-1980|01-31-2027|OA|-|$0.00', '21000000000032|02-03-1980|01-31-2027|OA|c|$0.00', '21000000000033|02-03-1980|01-31-2027|OA|-|$1,234.00'].join('\n');
    const summary = await run(store, csv, {
      columns: { cardNumber: 'P BARCODE', birthDate: 'BIRTH DATE', expires: 'EXP DATE', category: 'P TYPE', blocked: 'MBLOCK', fines: 'MONEY OWED' },
      openAccessCategories: ['OA'],
      blockedValues: ['c', 'x'],
      finesBlockAt: 5,
      dateOrder: 'mdy',
      delimiter: '|',
    });
    expect(summary).toMatchObject({ added: 3, rejectedCount: 0 });
    expect(member(store, '21000000000031')).toMatchObject({ birthDate: '1980-02-03', expires: '2027-01-31', blocked: false, openAccess: true });
    expect(member(store, '21000000000032')).toMatchObject({ blocked: true });
    expect(member(store, '21000000000033')).toMatchObject({ blocked: true });
  });

  it('makes a new version with what changed, and none when the export is the same', async () => {
    const store = setUp();
    await run(store, KOHA_CSV, KOHA);
    const again = await run(store, KOHA_CSV, KOHA);
    expect(again).toMatchObject({ created: false, version: 1, unchanged: 7 });
    const next = KOHA_CSV.replace('21000000000012,Jones,Bob,1975-06-07,2027-01-31,ADULT', '21000000000012,Jones,Bob,1975-06-07,2027-01-31,OA').replace(/^21000000000017.*$/m, '21000000000020,New,Hi,1990-01-01,2028-01-01,OA,,0');
    expect(await run(store, next, KOHA)).toMatchObject({ created: true, version: 2, added: 1, changed: 1, removed: 1, unchanged: 5, count: 7 });
    expect(store.tables.deltaEntries(1)).toHaveLength(3);
  });

  it('changes nothing when the file cannot be used', async () => {
    const store = setUp();
    await run(store, KOHA_CSV, KOHA);
    const before = store.tables.current();
    const refused = async (csv: string, mapping: LmsMappingInput, message: RegExp): Promise<void> => {
      await expect(run(store, csv, mapping)).rejects.toThrow(message);
      expect(store.tables.current()).toEqual(before);
    };
    await refused('', KOHA, /the file is empty: nothing changed/);
    await refused('cardnumber,dateofbirth\n', KOHA, /missing columns "dateexpiry", "categorycode", "debarred", "account_balance"/);
    await refused(KOHA_CSV.split('\n')[0]!, KOHA, /a header but no member rows/);
    await refused(KOHA_CSV, { ...KOHA, maxRejectedFraction: 0.1 }, /4 of 11 rows rejected \(36\.4%, more than the 10% allowed\): nothing changed/);
    // A cut-short export would remove most of the list.
    await refused(KOHA_CSV.split('\n').slice(0, 3).join('\n'), KOHA, /would remove 5 of the 7 members .* a cut-short export/);
    await expect(run(store, '"21000000000011,1980-02-03\n', KOHA)).rejects.toBeInstanceOf(LmsImportError);
  });

  it('keeps on the branch list only members registered for open access and staff, counting the others', async () => {
    const store = setUp();
    const summary = await run(store, KOHA_CSV, KOHA, 'export.csv', 'registered');
    // Jones (ADULT, not registered) is left out; staff and every OA member, blocked ones included, stay.
    expect(summary).toMatchObject({ notRegistered: 1, count: 6, rejectedCount: 4, total: 11 });
    expect(member(store, '21000000000012')).toBeUndefined();
    expect(member(store, '21000000000011')).toMatchObject({ openAccess: true });
    expect(member(store, '21000000000017')).toMatchObject({ staff: true });
    expect(member(store, '21000000000014')).toMatchObject({ blocked: true });
  });

  it('holds the members it leaves off the list at central, replaced by each import, even one that changes no version', async () => {
    const store = setUp();
    const unlisted = (card: string) => {
      const fields = store.tables.unlistedFields(hashCard(card));
      return fields === undefined ? undefined : parseMemberFields(fields);
    };
    await run(store, KOHA_CSV, KOHA, 'export.csv', 'registered');
    expect(unlisted('21000000000012')).toMatchObject({ openAccess: false, expires: '2027-01-31' });
    expect(unlisted('21000000000011')).toBeUndefined();
    // Only Jones's expiry changes: the list is the same, no version is made, but central holds the new expiry.
    const renewed = KOHA_CSV.replace('21000000000012,Jones,Bob,1975-06-07,2027-01-31', '21000000000012,Jones,Bob,1975-06-07,2028-01-31');
    expect(await run(store, renewed, KOHA, 'export.csv', 'registered')).toMatchObject({ created: false, version: 1, notRegistered: 1 });
    expect(unlisted('21000000000012')).toMatchObject({ expires: '2028-01-31' });
    // Registered in the LMS: on the list, and no longer held off it; a member gone from the export is gone from both.
    const registered = renewed.replace('2028-01-31,ADULT', '2028-01-31,OA');
    expect(await run(store, registered, KOHA, 'export.csv', 'registered')).toMatchObject({ created: true, version: 2, added: 1, notRegistered: 0 });
    expect(unlisted('21000000000012')).toBeUndefined();
    expect(member(store, '21000000000012')).toMatchObject({ openAccess: true });
    await run(store, renewed, KOHA, 'export.csv', 'registered');
    expect(unlisted('21000000000012')).toBeDefined();
    await run(store, KOHA_CSV.replace(/^21000000000012.*\n/m, ''), KOHA, 'export.csv', 'registered');
    expect(store.tables.unlistedCount()).toBe(0);
    await run(store, renewed, KOHA, 'export.csv', 'registered');
    expect(store.tables.unlistedCount()).toBe(1);
    await run(store, renewed, KOHA, 'export.csv', 'everyone');
    expect(store.tables.unlistedCount()).toBe(0);
  });

  it('keeps the first row of a card that appears registered and not, and holds it once', async () => {
    const store = setUp();
    const csv = ['card,oa', '21000000000061,Y', '21000000000062,N', '21000000000061,N', '21000000000062,Y'].join('\n');
    const summary = await run(store, csv, { columns: { cardNumber: 'card', openAccess: 'oa' }, maxRejectedFraction: 0.5 }, 'export.csv', 'registered');
    expect(summary).toMatchObject({ count: 1, notRegistered: 1, rejected: [{ line: 4, reason: 'card: the same card as line 2' }, { line: 5, reason: 'card: the same card as line 3' }] });
    expect(member(store, '21000000000061')).toMatchObject({ openAccess: true });
    expect(store.tables.unlistedFields(hashCard('21000000000061'))).toBeUndefined();
    expect(member(store, '21000000000062')).toBeUndefined();
    expect(store.tables.unlistedCount()).toBe(1);
  });

  it('keeps a staff card that is not registered for open access', async () => {
    const store = setUp();
    const csv = ['card,oa,staff', '21000000000041,N,Y', '21000000000042,N,N', '21000000000043,Y,N'].join('\n');
    const summary = await run(store, csv, { columns: { cardNumber: 'card', openAccess: 'oa', staff: 'staff' } }, 'export.csv', 'registered');
    expect(summary).toMatchObject({ notRegistered: 1, count: 2 });
    expect(member(store, '21000000000041')).toMatchObject({ staff: true, openAccess: false });
    expect(member(store, '21000000000042')).toBeUndefined();
  });

  it('keeps everyone with branchList: everyone', async () => {
    const store = setUp();
    const summary = await run(store, KOHA_CSV, KOHA, 'export.csv', 'everyone');
    expect(summary).toMatchObject({ notRegistered: 0, count: 7 });
    expect(member(store, '21000000000012')).toMatchObject({ openAccess: false });
  });

  it('says why when the first registered-only import would remove most of the list, and changes nothing', async () => {
    const store = setUp();
    const csv = ['card,oa', ...Array.from({ length: 10 }, (_, i) => `2100000000005${i},${i < 2 ? 'Y' : 'N'}`)].join('\n');
    const mapping = { columns: { cardNumber: 'card', openAccess: 'oa' } };
    await run(store, csv, mapping, 'export.csv', 'everyone');
    const before = store.tables.current();
    await expect(run(store, csv, mapping, 'export.csv', 'registered')).rejects.toThrow(
      /would remove 8 of the 10 members .*the first with members\.branchList: registered, which left out 8 not registered for open access\?\): nothing changed/,
    );
    expect(store.tables.current()).toEqual(before);
    expect(await run(store, csv, { ...mapping, maxRemovedFraction: 1 }, 'export.csv', 'registered')).toMatchObject({ count: 2, removed: 8 });
  });

  it('reads dates and amounts as LMS exports write them', () => {
    expect(parseLmsDate('2026-05-01 00:00:00', 'dmy')).toBe('2026-05-01');
    expect(parseLmsDate('1/2/2026', 'dmy')).toBe('2026-02-01');
    expect(parseLmsDate('1/2/2026', 'mdy')).toBe('2026-01-02');
    expect(parseLmsDate('31.12.2026', 'dmy')).toBe('2026-12-31');
    expect(parseLmsDate('2026-02-30', 'dmy')).toBeUndefined();
    expect(parseAmount('£1,234.50')).toBe(1234.5);
    expect(parseAmount('-3.00')).toBe(-3);
    expect(parseAmount('12,5')).toBeUndefined();
  });
});

describe('the watched export folder', () => {
  const DAY = 86_400_000;
  /** A watch over a fresh store and folder; its clock is moved by hand (a second on: a file's time may be a fraction of a millisecond ahead). */
  function watchFolder(keep: { keepImportedDays?: number; keepRefusedDays?: number } = {}, removeFile?: (file: string) => void) {
    const store = setUp();
    const folder = join(dir, 'drop');
    mkdirSync(folder);
    const mapping = LmsMappingSchema.parse(KOHA);
    let now = Date.now() + 1000;
    const logged: Array<Record<string, unknown>> = [];
    const watch = new ExportFolderWatch({
      config: { folder, intervalSeconds: 3600, settleSeconds: 0, keepImportedDays: keep.keepImportedDays ?? 0, keepRefusedDays: keep.keepRefusedDays ?? 7 },
      importFile: (file, source) => importLmsCsv(store, file, { mapping, hasher: createCardHasher(KEY), keyId: deploymentKeyId(KEY), branchList: 'everyone', now: NOW, keepVersions: 50, source }),
      clock: { now: () => new Date(now) },
      logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) }),
      removeFile,
    });
    const files = (sub = ''): string[] => (existsSync(join(folder, sub)) ? readdirSync(join(folder, sub)).sort() : []);
    return { store, folder, watch, logged, files, later: (days: number) => void (now += days * DAY) };
  }

  it('imports each settled CSV once, deletes it once imported, and keeps a refused one with the reason for 7 days', async () => {
    const { store, folder, watch, files, later } = watchFolder();
    writeFileSync(join(folder, 'nightly.csv'), KOHA_CSV);
    writeFileSync(join(folder, 'broken.csv'), 'nonsense\n1,2\n');
    writeFileSync(join(folder, 'notes.txt'), 'not an export');
    expect((await watch.scan()).sort()).toEqual(['broken.csv', 'nightly.csv']);
    expect(store.tables.current()).toMatchObject({ version: 1, count: 7, source: 'folder:nightly.csv' });
    // The export with every card number in clear is gone as soon as its version is made.
    expect(files()).toEqual(['notes.txt', 'refused']);
    expect(files('imported')).toEqual([]);
    const refused = files('refused');
    expect(refused).toEqual([expect.stringMatching(/-broken\.csv$/), expect.stringMatching(/-broken\.csv\.txt$/)]);
    expect(readFileSync(join(folder, 'refused', refused[1]!), 'utf8')).toMatch(/missing columns/);
    expect(await watch.scan()).toEqual([]);
    later(6.9);
    await watch.scan();
    expect(files('refused')).toEqual(refused);
    later(0.2);
    await watch.scan();
    expect(files('refused')).toEqual([]);
    expect(files()).toEqual(['notes.txt', 'refused']);
  });

  it('keeps imported exports for keepImportedDays when asked, then deletes them', async () => {
    const { store, folder, watch, files, later } = watchFolder({ keepImportedDays: 2, keepRefusedDays: 0 });
    writeFileSync(join(folder, 'nightly.csv'), KOHA_CSV);
    writeFileSync(join(folder, 'broken.csv'), 'nonsense\n1,2\n');
    await watch.scan();
    expect(store.tables.current()).toMatchObject({ version: 1 });
    expect(files('imported')).toEqual([expect.stringMatching(/-nightly\.csv$/)]);
    // keepRefusedDays: 0 keeps nothing.
    expect(files('refused')).toEqual([]);
    later(1.9);
    await watch.scan();
    expect(files('imported')).toHaveLength(1);
    later(0.2);
    await watch.scan();
    expect(files('imported')).toEqual([]);
  });

  it('logs an export it cannot delete once, keeps the import, and does not import the file again', async () => {
    const stuck = (file: string): void => {
      if (file.endsWith('nightly.csv')) throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' });
      unlinkSync(file);
    };
    const { store, folder, watch, logged, files } = watchFolder({}, stuck);
    writeFileSync(join(folder, 'nightly.csv'), KOHA_CSV);
    expect(await watch.scan()).toEqual(['nightly.csv']);
    expect(store.tables.current()).toMatchObject({ version: 1, source: 'folder:nightly.csv' });
    expect(await watch.scan()).toEqual([]);
    expect(files()).toEqual(['nightly.csv']);
    const errors = logged.filter((l) => l.level === 50);
    expect(errors).toEqual([expect.objectContaining({ err: 'EPERM', msg: 'cannot delete the imported export, which holds clear card numbers: delete it by hand' })]);
    expect(logged.some((l) => l.msg === 'export from the folder imported')).toBe(true);
    // The next export is read as any other.
    writeFileSync(join(folder, 'next.csv'), KOHA_CSV);
    expect(await watch.scan()).toEqual(['next.csv']);
    expect(files()).toEqual(['nightly.csv']);
  });
});
