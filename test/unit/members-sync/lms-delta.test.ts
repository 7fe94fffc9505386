// A delta file from the library system at central (central/members/lms-delta.ts): changed rows and deletions in
// the full export's columns plus `deleted`, applied as one version; the same file twice; the full import's guards;
// the watched folder's `*.delta.csv`; and `oag central members import-delta`.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LmsMappingSchema, type BranchList, type LmsMappingInput } from '../../../central/members/config.js';
import { importLmsDelta } from '../../../central/members/lms-delta.js';
import { LmsImportError, importLmsCsv } from '../../../central/members/lms-import.js';
import { SqliteMemberStore } from '../../../central/members/sqlite-member-store.js';
import { ExportFolderWatch } from '../../../central/members/watch.js';
import { CentralStore } from '../../../central/store.js';
import { createCardHasher, deploymentKeyId } from '../../../policies/cards.js';
import { decodeMemberEntry, parseMemberFields } from '../../../policies/member-list.js';
import { runCentralMembersImport, runCentralMembersImportDelta } from '../../../scripts/commands/central.js';
import { OTHER_KEY_HEX, TEST_KEY_HEX, hashCard } from './helpers.js';

const KEY = Buffer.from(TEST_KEY_HEX, 'hex');
const NOW = new Date('2026-03-02T10:00:00.000Z');
const MAPPING: LmsMappingInput = { columns: { cardNumber: 'card', expires: 'expires', blocked: 'blocked', openAccess: 'oa', staff: 'staff' } };
const card = (i: number): string => `21${String(i).padStart(12, '0')}`;
const HEADER = 'card,expires,blocked,oa,staff';
/** Ten registered members, 0..9, and two not registered, 10 and 11. */
const FULL = [HEADER, ...Array.from({ length: 12 }, (_, i) => `${card(i)},2027-01-31,N,${i < 10 ? 'Y' : 'N'},N`), ''].join('\n');
/** 3 changed (blocked, renewed, made staff), 1 new, 1 deleted (with nothing but its card number). */
const DELTA = [
  `${HEADER},deleted`,
  `${card(0)},2027-01-31,Y,Y,N,N`,
  `${card(1)},2028-01-31,N,Y,N,`,
  `${card(2)},2027-01-31,N,Y,Y,N`,
  `${card(20)},2027-06-30,N,Y,N,N`,
  `${card(3)},,,,,Y`,
  '',
].join('\n');

let dir: string;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function setUp(branchList: BranchList = 'registered'): Promise<SqliteMemberStore> {
  dir = mkdtempSync(join(tmpdir(), 'oag-delta-'));
  const central = new CentralStore(':memory:');
  cleanups.push(() => {
    central.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = new SqliteMemberStore(central.db);
  writeFileSync(join(dir, 'full.csv'), FULL);
  await importLmsCsv(store, join(dir, 'full.csv'), options(branchList));
  return store;
}

function options(branchList: BranchList = 'registered', mapping: LmsMappingInput = MAPPING) {
  return { mapping: LmsMappingSchema.parse(mapping), hasher: createCardHasher(KEY), keyId: deploymentKeyId(KEY), branchList, now: NOW, keepVersions: 50 };
}

function delta(store: SqliteMemberStore, csv: string, name = 'changes.delta.csv', branchList: BranchList = 'registered', mapping?: LmsMappingInput) {
  writeFileSync(join(dir, name), csv);
  return importLmsDelta(store, join(dir, name), options(branchList, mapping));
}

const fieldsOf = (store: SqliteMemberStore, i: number) => {
  const f = store.tables.fields(hashCard(card(i)));
  return f === undefined ? undefined : parseMemberFields(f);
};

describe('a delta file at central', () => {
  it('makes one version holding exactly its 3 changed, 1 new and 1 deleted members', async () => {
    const store = await setUp();
    const summary = await delta(store, DELTA);
    expect(summary).toMatchObject({ created: true, version: 2, added: 1, changed: 3, removed: 1, deleted: 1, total: 5, rejectedCount: 0, count: 10 });
    expect(store.tables.current()).toMatchObject({ version: 2, source: 'delta:changes.delta.csv', deltaKept: true });
    const entries = store.tables.deltaEntries(1).map(decodeMemberEntry);
    expect(entries).toHaveLength(5);
    expect(fieldsOf(store, 0)).toMatchObject({ blocked: true });
    expect(fieldsOf(store, 1)).toMatchObject({ expires: '2028-01-31' });
    expect(fieldsOf(store, 2)).toMatchObject({ staff: true });
    expect(fieldsOf(store, 20)).toMatchObject({ openAccess: true, blocked: false });
    expect(fieldsOf(store, 3)).toBeUndefined();
    // Members the delta does not name are left as they were.
    expect(fieldsOf(store, 4)).toMatchObject({ blocked: false, expires: '2027-01-31' });
  });

  it('changes nothing when the same file comes again', async () => {
    const store = await setUp();
    await delta(store, DELTA);
    const again = await delta(store, DELTA);
    expect(again).toMatchObject({ created: false, version: 2, added: 0, changed: 0, removed: 0, unchanged: 5 });
    expect(store.tables.current()?.version).toBe(2);
  });

  it('takes a delta with a header and no rows as no change', async () => {
    const store = await setUp();
    expect(await delta(store, `${HEADER},deleted\n`)).toMatchObject({ created: false, version: 1, total: 0 });
  });

  it('refuses a delta that would delete 60% of the list, changing nothing', async () => {
    const store = await setUp();
    const rows = Array.from({ length: 6 }, (_, i) => `${card(i)},,,,,Y`);
    const error = await delta(store, [`${HEADER},deleted`, ...rows, `${card(30)},2027-01-31,N,Y,N,N`, ''].join('\n')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LmsImportError);
    expect((error as Error).message).toMatch(/changes\.delta\.csv: would remove 6 of the 10 members \(more than the 50% allowed\): nothing changed/);
    expect(store.tables.current()).toMatchObject({ version: 1, count: 10 });
    expect(fieldsOf(store, 30)).toBeUndefined();
  });

  it('deletes a member held off the list at central, and moves members on and off the list', async () => {
    const store = await setUp();
    expect(store.tables.unlistedCount()).toBe(2);
    const summary = await delta(store, [`${HEADER},deleted`, `${card(10)},,,,,yes`, `${card(11)},2027-01-31,N,Y,N,N`, `${card(5)},2027-01-31,N,N,N,N`, ''].join('\n'));
    expect(summary).toMatchObject({ created: true, added: 1, removed: 1, deleted: 1, notRegistered: 1, count: 10 });
    expect(store.tables.unlistedFields(hashCard(card(10)))).toBeUndefined();
    expect(store.tables.unlistedFields(hashCard(card(11)))).toBeUndefined();
    expect(fieldsOf(store, 11)).toMatchObject({ openAccess: true });
    expect(store.tables.unlistedFields(hashCard(card(5)))).toBeDefined();
    expect(store.tables.unlistedCount()).toBe(1);
  });

  it('reports bad rows by line and applies the good ones, as a full import does', async () => {
    const store = await setUp();
    const rows = [`${HEADER},deleted`, ...Array.from({ length: 10 }, (_, i) => `${card(i)},2027-01-31,Y,Y,N,N`), `${card(4)},,,,,maybe`, `${card(0)},2027-01-31,N,Y,N,N`, ''];
    const summary = await delta(store, rows.join('\n'), 'changes.delta.csv', 'registered', { ...MAPPING, maxRejectedFraction: 0.2 });
    expect(summary.rejected).toEqual([
      { line: 12, reason: 'deleted: not a yes/no value (use Y/N, yes/no, true/false or 1/0)' },
      { line: 13, reason: 'card: the same card as line 2' },
    ]);
    expect(summary).toMatchObject({ created: true, changed: 10, rejectedCount: 2, total: 12 });
    expect(fieldsOf(store, 0)).toMatchObject({ blocked: true });
  });

  it('refuses a file with too many bad rows, or without the deleted column, changing nothing', async () => {
    const store = await setUp();
    await expect(delta(store, [`${HEADER},deleted`, `${card(0)},2027-01-31,Y,Y,N,N`, `${card(1)},someday,Y,Y,N,N`, ''].join('\n'))).rejects.toThrow(
      /1 of 2 rows rejected \(50\.0%, more than the 10% allowed\): nothing changed/,
    );
    await expect(delta(store, `${HEADER}\n${card(0)},2027-01-31,Y,Y,N\n`)).rejects.toThrow(/missing column "deleted"/);
    expect(store.tables.current()?.version).toBe(1);
    expect(fieldsOf(store, 0)).toMatchObject({ blocked: false });
  });

  it('refuses a delta hashed with another deployment key than the current list, changing nothing', async () => {
    const store = await setUp();
    writeFileSync(join(dir, 'other.delta.csv'), DELTA);
    const other = Buffer.from(OTHER_KEY_HEX, 'hex');
    const error = await importLmsDelta(store, join(dir, 'other.delta.csv'), { ...options(), hasher: createCardHasher(other), keyId: deploymentKeyId(other) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LmsImportError);
    expect((error as Error).message).toMatch(/other\.delta\.csv: the current list was made with another deployment key.*nothing changed/);
    expect(store.tables.current()?.version).toBe(1);
  });

  it('reads the deletion flag from the column members.import.columns.deleted names', async () => {
    const store = await setUp();
    const summary = await delta(store, `${HEADER},gone\n${card(0)},,,,,1\n`, 'd.delta.csv', 'registered', { columns: { ...MAPPING.columns, deleted: 'gone' } });
    expect(summary).toMatchObject({ removed: 1, deleted: 1 });
  });
});

describe('deltas in the watched folder', () => {
  it('applies a *.delta.csv as a delta (not as a whole list) and deletes it once applied', async () => {
    const store = await setUp();
    const folder = join(dir, 'drop');
    mkdirSync(folder);
    const imported: string[] = [];
    const watch = new ExportFolderWatch({
      config: { folder, intervalSeconds: 3600, settleSeconds: 0, keepImportedDays: 0, keepRefusedDays: 7 },
      importFile: (file) => {
        imported.push(file);
        return importLmsCsv(store, file, options());
      },
      importDelta: (file, source) => importLmsDelta(store, file, { ...options(), source }),
      clock: { now: () => new Date(Date.now() + 1000) },
      logger: pino({ level: 'silent' }),
    });
    writeFileSync(join(folder, '2026-03-02T1005.delta.csv'), DELTA);
    expect(await watch.scan()).toEqual(['2026-03-02T1005.delta.csv']);
    expect(imported).toEqual([]);
    expect(store.tables.current()).toMatchObject({ version: 2, count: 10, added: 1, changed: 3, removed: 1, source: 'folder:2026-03-02T1005.delta.csv' });
    expect(readdirSync(folder)).toEqual([]);
  });

  it('leaves *.delta.csv alone when the watch takes full exports only', async () => {
    const store = await setUp();
    const folder = join(dir, 'drop');
    mkdirSync(folder);
    const watch = new ExportFolderWatch({
      config: { folder, intervalSeconds: 3600, settleSeconds: 0, keepImportedDays: 0, keepRefusedDays: 7 },
      importFile: (file) => importLmsCsv(store, file, options()),
      clock: { now: () => new Date(Date.now() + 1000) },
      logger: pino({ level: 'silent' }),
    });
    writeFileSync(join(folder, 'x.delta.csv'), DELTA);
    expect(await watch.scan()).toEqual([]);
    expect(existsSync(join(folder, 'x.delta.csv'))).toBe(true);
    expect(store.tables.current()?.version).toBe(1);
  });
});

describe('oag central members import-delta', () => {
  it('applies the file to the configured store and says what changed; a refused file exits 1', async () => {
    dir = mkdtempSync(join(tmpdir(), 'oag-delta-cli-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const mapping = `members:\n  import:\n    columns: { cardNumber: card, expires: expires, blocked: blocked, openAccess: oa, staff: staff }\n`;
    writeFileSync(join(dir, 'central.yaml'), `store: { path: ${join(dir, 'central.sqlite')} }\n${mapping}`);
    writeFileSync(join(dir, 'key.hex'), `${TEST_KEY_HEX}\n`);
    writeFileSync(join(dir, 'full.csv'), FULL);
    writeFileSync(join(dir, 'changes.delta.csv'), DELTA);
    writeFileSync(join(dir, 'bad.delta.csv'), `${HEADER},deleted\n${card(0)},someday,Y,Y,N,N\n`);
    let out = '';
    let err = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
    const opts = { config: join(dir, 'central.yaml'), keyFile: join(dir, 'key.hex') };
    expect(await runCentralMembersImport(join(dir, 'full.csv'), opts, io)).toBe(0);
    out = '';
    expect(await runCentralMembersImportDelta(join(dir, 'changes.delta.csv'), opts, io)).toBe(0);
    expect(out).toMatch(/changes\.delta\.csv → .*: new version 2, 10 members/);
    expect(out).toMatch(/added\s+1\n\s+changed\s+3\n\s+removed\s+1\n\s+deletions\s+1 rows marked deleted/);
    expect(out).not.toContain(card(0));
    expect(await runCentralMembersImportDelta(join(dir, 'bad.delta.csv'), opts, io)).toBe(1);
    expect(err).toMatch(/bad\.delta\.csv: 1 of 1 rows rejected .*nothing changed\n\s+line 2: expires: not a date "someday"/);
  });
});
