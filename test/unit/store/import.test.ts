import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImportError, MemberImportMappingSchema, importMembersCsv } from '../../../gateway/members/index.js';
import type { ImportProgress, MemberImportMappingInput } from '../../../gateway/members/index.js';
import type { Store } from '../../../gateway/store/index.js';
import { formatIssues } from '../../../policies/errors.js';
import { cardHash, databaseBytes, hasher, member, useTempDir, writeCsv } from './helpers.js';

const tmp = useTempDir();
const now = new Date('2026-03-02T09:00:00Z');
const HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';

/** A good row for card i: `2100000000` and 4 digits. */
const card = (i: number): string => `2100000000${String(i).padStart(4, '0')}`;
const good = (i: number, extra: Partial<Record<'dob' | 'expiry' | 'blocked' | 'oa' | 'staff' | 'groups', string>> = {}): string =>
  [card(i), extra.dob ?? '17/05/1990', extra.expiry ?? '2027-03-31', extra.blocked ?? 'N', '', extra.oa ?? 'yes', extra.staff ?? '0', extra.groups ?? ''].join(',');

function csv(name: string, rows: readonly string[], header = HEADER): string {
  return writeCsv(tmp.path(name), [header, ...rows]);
}

async function importFile(store: Store, file: string, mapping?: MemberImportMappingInput) {
  return importMembersCsv(store, file, { hasher, now, ...(mapping === undefined ? {} : { mapping: MemberImportMappingSchema.parse(mapping) }) });
}

async function importError(promise: Promise<unknown>): Promise<ImportError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ImportError);
    return error as ImportError;
  }
  throw new Error('the import was expected to fail');
}

/** A store holding a first list of members 1..5 (imported from a file), to check that refused files change nothing. */
async function storeWithList(): Promise<{ store: Store; before: ReturnType<Store['members']['stats']> }> {
  const store = tmp.open();
  await importFile(store, csv('first.csv', [1, 2, 3, 4, 5].map((i) => good(i))));
  return { store, before: store.members.stats() };
}

function unchanged(store: Store, before: ReturnType<Store['members']['stats']>): void {
  expect(store.members.stats()).toEqual(before);
  for (const i of [1, 2, 3, 4, 5]) expect(store.members.find(cardHash(card(i)))).toBeDefined();
}

describe('importing a member export', () => {
  it('loads members with their fields, hashed by card number', async () => {
    const store = tmp.open();
    const summary = await importFile(
      store,
      csv('members.csv', [
        good(1),
        good(2, { dob: '2012-09-01', expiry: '', blocked: 'yes', oa: 'No', staff: 'TRUE', groups: 'Scouts-1st-Town;chess-club' }),
        `"${card(3).slice(0, 4)} ${card(3).slice(4)}",,31/12/2026,false,2026-04-01,Y,1,`,
      ]),
    );
    expect(summary).toMatchObject({ added: 3, changed: 0, removed: 0, unchanged: 0, rejected: [], rejectedCount: 0, total: 3, count: 3, version: 1 });
    expect(store.members.find(cardHash(card(1)))).toEqual(member({ birthDate: '1990-05-17', expires: '2027-03-31' }));
    expect(store.members.find(cardHash(card(2)))).toEqual(
      member({ birthDate: '2012-09-01', expires: null, blocked: true, openAccess: false, staff: true, groups: ['chess-club', 'scouts-1st-town'] }),
    );
    expect(store.members.find(cardHash(card(3)))).toEqual(member({ birthDate: null, expires: '2026-12-31', blockedUntil: '2026-04-01', staff: true }));
    expect(store.members.stats()).toMatchObject({ count: 3, version: 1, source: 'csv:members.csv', updatedAt: now.toISOString() });
  });

  it('sums up the changes against the list in force', async () => {
    const { store } = await storeWithList();
    const summary = await importFile(store, csv('second.csv', [good(1), good(2, { blocked: 'Y' }), good(3, { expiry: '2030-01-01' }), good(6), good(7), good(8)]));
    expect(summary).toMatchObject({ added: 3, changed: 2, removed: 2, unchanged: 1, total: 6, count: 6, version: 2, rejectedCount: 0 });
    expect(store.members.find(cardHash(card(4)))).toBeUndefined();
    expect(store.members.find(cardHash(card(2)))?.blocked).toBe(true);
  });

  it('reports each rejected row by line, naming the column, and imports the rest', async () => {
    const { store } = await storeWithList();
    const rows = Array.from({ length: 60 }, (_, i) => good(i + 1));
    rows[5] = good(6, { expiry: '31/02/2026' }); // line 7
    rows[9] = good(10, { blocked: 'maybe' }); // line 11
    rows[14] = `21000000!00015,17/05/1990,2027-03-31,N,,yes,0,`; // line 16
    rows[19] = good(3); // line 21: the same card as line 4
    rows[24] = `${card(25)},17/05/1990,2027-03-31`; // line 26
    rows[29] = good(30, { dob: '2026-12-25' }); // line 31
    const summary = await importFile(store, csv('mixed.csv', rows));
    expect(summary.rejected).toEqual([
      { line: 7, reason: 'expiry_date: not a date "31/02/2026" (use YYYY-MM-DD or DD/MM/YYYY)' },
      { line: 11, reason: 'blocked: not a yes/no value "maybe" (use Y/N, yes/no, true/false or 1/0)' },
      { line: 16, reason: 'card_number: card number has characters other than letters and digits' },
      { line: 21, reason: 'card_number: the same card as line 4' },
      { line: 26, reason: 'has 3 fields where the header has 8' },
      { line: 31, reason: 'date_of_birth: date of birth 2026-12-25 is in the future' },
    ]);
    expect(summary).toMatchObject({ rejectedCount: 6, total: 60, count: 54 });
    expect(store.members.find(cardHash(card(6)))).toBeUndefined();
    expect(store.members.find(cardHash(card(7)))).toBeDefined();
  });

  it('reads mapped column names, category registration, other delimiters, a BOM and blank lines', async () => {
    const store = tmp.open();
    const file = tmp.path('lms.csv');
    writeFileSync(
      file,
      '\ufeffBarcode ; DOB;Category;Adult;Expiry\n' +
        `${card(1)};1990-01-01;OA-ADULT;Y;2027-01-01\n` +
        '\n' +
        `${card(2)};;child;n;\n` +
        ';;;;\n' +
        `${card(3)};01/02/2000;STANDARD;;2027-01-01\n`,
    );
    const summary = await importFile(store, file, {
      columns: { cardNumber: 'barcode', birthDate: 'dob', openAccess: 'CATEGORY', adult: 'Adult', expires: 'Expiry' },
      openAccessValues: ['oa-adult', 'CHILD'],
      delimiter: ';',
    });
    expect(summary).toMatchObject({ total: 3, count: 3, rejectedCount: 0 });
    expect(store.members.find(cardHash(card(1)))).toMatchObject({ openAccess: true, adult: true, birthDate: '1990-01-01' });
    expect(store.members.find(cardHash(card(2)))).toMatchObject({ openAccess: true, adult: false, birthDate: null, expires: null });
    expect(store.members.find(cardHash(card(3)))).toMatchObject({ openAccess: false, adult: null, birthDate: '2000-02-01', blocked: false, staff: false });
  });

  it('reports progress through reading and applying', async () => {
    const store = tmp.open();
    const file = csv('many.csv', Array.from({ length: 25_000 }, (_, i) => good(i + 1)));
    const seen: ImportProgress[] = [];
    await importMembersCsv(store, file, { hasher, now, onProgress: (p) => void seen.push(p) });
    expect(seen.map((p) => p.phase)).toEqual([...Array(12).fill('reading'), 'applying', 'done']);
    expect(seen[0]).toMatchObject({ rows: 2_000 });
    expect(seen.at(-1)).toMatchObject({ rows: 25_000, bytesRead: seen.at(-1)!.totalBytes });
  });
});

describe('a file that cannot be used changes nothing', () => {
  it('when a mapped column is missing from the header', async () => {
    const { store, before } = await storeWithList();
    const error = await importError(importFile(store, csv('cols.csv', [good(9)], 'card_number,date_of_birth,expiry,blocked,blocked_until,open_access,staff,groups')));
    expect(error.message).toContain('missing column "expiry_date"');
    expect(error.message).toContain('nothing changed');
    unchanged(store, before);
  });

  it('when the file has no header line, without quoting its first row', async () => {
    const { store, before } = await storeWithList();
    const error = await importError(importFile(store, writeCsv(tmp.path('nohead.csv'), [good(9), good(10)])));
    expect(error.message).toContain('the first line does not look like a header');
    expect(error.message).not.toContain(card(9));
    unchanged(store, before);
  });

  it('when the file is empty, or has a header and no rows', async () => {
    const { store, before } = await storeWithList();
    writeFileSync(tmp.path('empty.csv'), '');
    expect((await importError(importFile(store, tmp.path('empty.csv')))).message).toContain('the file is empty');
    expect((await importError(importFile(store, csv('header.csv', [])))).message).toContain('a header but no member rows');
    unchanged(store, before);
  });

  it('when the file cannot be read', async () => {
    const { store, before } = await storeWithList();
    expect((await importError(importFile(store, tmp.path('missing.csv')))).message).toContain('cannot read the file (ENOENT)');
    mkdirSync(tmp.path('folder.csv'));
    expect((await importError(importFile(store, tmp.path('folder.csv')))).message).toContain('not a file');
    unchanged(store, before);
  });

  it('when more than the allowed fraction of rows is rejected, listing them', async () => {
    const { store, before } = await storeWithList();
    const rows = Array.from({ length: 20 }, (_, i) => good(i + 1));
    rows[3] = good(4, { expiry: 'soon' });
    rows[7] = good(8, { expiry: 'later' });
    rows[11] = good(12, { expiry: 'never' });
    const error = await importError(importFile(store, csv('bad.csv', rows)));
    expect(error.message).toContain('3 of 20 rows rejected (15.0%, more than the 10% allowed): nothing changed');
    expect(error.rejected.map((r) => r.line)).toEqual([5, 9, 13]);
    unchanged(store, before);
    // The same file is accepted with a higher limit.
    const summary = await importFile(store, tmp.path('bad.csv'), {
      columns: { cardNumber: 'card_number', expires: 'expiry_date', openAccess: 'open_access' },
      maxRejectedFraction: 0.2,
    });
    expect(summary.count).toBe(17);
  });

  it('when the import fails halfway through', async () => {
    const { store, before } = await storeWithList();
    let calls = 0;
    const failingHasher = (id: string): Buffer => {
      if (++calls > 1500) throw new Error('hardware fault');
      return hasher(id);
    };
    const file = csv('big.csv', Array.from({ length: 3000 }, (_, i) => good(i + 100)));
    await expect(importMembersCsv(store, file, { hasher: failingHasher, now })).rejects.toThrow('hardware fault');
    unchanged(store, before);
    expect(store.members.find(cardHash(card(100)))).toBeUndefined();
  });

  it('when the CSV is malformed beyond one row', async () => {
    const { store, before } = await storeWithList();
    const file = tmp.path('quote.csv');
    writeFileSync(file, `${HEADER}\n${good(1)}\n"${card(2)},17/05/1990\n${good(3)}\n`);
    const error = await importError(importFile(store, file));
    expect(error.rejected).toEqual([{ line: 4, reason: 'not valid CSV: a quoted field is never closed' }]);
    expect(error.message).not.toContain(card(2));
    unchanged(store, before);
  });
});

describe('card numbers stay secret', () => {
  it('are not in the database file or its WAL after an import, nor in any message', async () => {
    const store = tmp.open();
    const cards = Array.from({ length: 300 }, (_, i) => card(i + 1));
    const rows = cards.map((_, i) => good(i + 1));
    rows[10] = good(11, { groups: card(11) }); // a shifted column that would store the card as a group name
    rows[15] = good(16, { blocked: `x${card(16)}` }); // a bad value that would quote the card
    rows[20] = `${card(21)}x!,17/05/1990,2027-03-31,N,,yes,0,`;
    rows[30] = good(5); // a duplicate
    const summary = await importFile(store, csv('secret.csv', rows));
    expect(summary.rejectedCount).toBe(4);
    const bytes = databaseBytes(tmp.path('gateway.sqlite'));
    expect(bytes.length).toBeGreaterThan(4096);
    for (const c of cards) {
      expect(bytes.includes(c)).toBe(false);
      expect(bytes.includes(c.slice(2))).toBe(false);
    }
    const messages = JSON.stringify(summary.rejected);
    for (const c of cards) expect(messages).not.toContain(c);
    expect(summary.rejected.find((r) => r.line === 12)?.reason).toBe('groups: contains the card number');
    expect(summary.rejected.find((r) => r.line === 17)?.reason).toBe('blocked: not a yes/no value "x(withheld)" (use Y/N, yes/no, true/false or 1/0)');
    store.close();
    const closed = databaseBytes(tmp.path('gateway.sqlite'));
    for (const c of cards) expect(closed.includes(c)).toBe(false);
  });
});

describe('the column mapping', () => {
  it('needs the card number and open access columns, and names each problem by path', () => {
    const result = MemberImportMappingSchema.safeParse({ columns: { cardNumber: 'Barcode', expires: 'barcode', colour: 'x' }, delimiter: ':' });
    expect(result.success).toBe(false);
    const lines = formatIssues(result.error!);
    expect(lines).toContain('columns.colour: unknown key');
    expect(lines.some((l) => l.startsWith('columns.openAccess:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('delimiter:'))).toBe(true);
    const twice = MemberImportMappingSchema.safeParse({ columns: { cardNumber: 'Barcode', expires: ' barcode ', openAccess: 'oa' } });
    expect(formatIssues(twice.error!)).toEqual(['columns.expires: column "barcode" is already mapped to cardNumber']);
  });
});
