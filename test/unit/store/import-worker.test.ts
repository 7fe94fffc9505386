// A large export is read, split, checked and packed in a worker thread (kit/member-import-worker.ts); the import's
// own thread only hashes and stages what comes back. Nothing of what a user sees may depend on which thread read
// the file: the same rows, the same rejections by line and column, the same list hash, and a refused file still
// names its line and changes nothing. `hashWorkerFromBytes: 0` sends even these small files through the worker;
// the largest safe integer keeps them on the calling thread.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LMS_COLUMNS, LmsMappingSchema } from '../../../central/members/config.js';
import { LmsImportError, importLmsCsv } from '../../../central/members/lms-import.js';
import { SqliteMemberStore } from '../../../central/members/sqlite-member-store.js';
import { CentralStore } from '../../../central/store.js';
import { ImportError, importMembersCsv } from '../../../gateway/members/index.js';
import type { Store } from '../../../gateway/store/index.js';
import { createCardHasher, deploymentKeyId } from '../../../policies/cards.js';
import { KEY, cardHash, hasher, useTempDir } from './helpers.js';

const tmp = useTempDir();
const now = new Date('2026-03-02T09:00:00Z');
const HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';
const card = (i: number): string => `2100000${String(i).padStart(7, '0')}`;
const row = (i: number): string => `${card(i)},17/05/1990,2027-03-31,${i % 7 === 0 ? 'Y' : 'N'},,${i % 5 === 0 ? 'no' : 'yes'},0,${i % 3 === 0 ? 'chess-club' : ''}`;
const rows = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => row(from + i));
const IN_WORKER = 0;
const HERE = Number.MAX_SAFE_INTEGER;

function file(name: string, lines: readonly string[] | Buffer): string {
  const path = tmp.path(name);
  writeFileSync(path, Buffer.isBuffer(lines) ? lines : `${lines.join('\n')}\n`);
  return path;
}

async function refusal<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error('the import was expected to be refused');
}

/** A branch store holding members 1..3000, imported through the worker. */
async function branchWithList(): Promise<{ store: Store; before: ReturnType<Store['members']['stats']> }> {
  const store = tmp.open();
  await importMembersCsv(store, file('first.csv', [HEADER, ...rows(1, 3000)]), { hasher, keyId: deploymentKeyId(KEY), now, hashWorkerFromBytes: IN_WORKER });
  return { store, before: store.members.stats() };
}

function unchanged(store: Store, before: ReturnType<Store['members']['stats']>): void {
  expect(store.members.stats()).toEqual(before);
  expect(store.members.find(cardHash(card(1500)))).toBeDefined();
}

describe("the branch's import read in a worker thread", () => {
  it("gives the same list, rejections and summary as reading on the import's own thread", async () => {
    // A bad date, a row with too few fields, a repeated card and a quoted row (from which csv-parse reads the rest)
    // in the middle of the file.
    const lines = [HEADER, ...rows(1, 1500), `${card(1501)},31/02/1990,2027-03-31,N,,yes,0,`, `${card(1502)},17/05/1990`, row(7), `"${card(1504)}",17/05/1990,2027-03-31,N,,yes,0,"chess-club"`, ...rows(1505, 3000)];
    const path = file('members.csv', lines);
    const results = [];
    for (const [name, from] of [['here', HERE], ['worker', IN_WORKER]] as const) {
      const store = tmp.open(`${name}.sqlite`);
      const summary = await importMembersCsv(store, path, { hasher, now, hashWorkerFromBytes: from });
      results.push({ summary, blocked: store.members.find(cardHash(card(1505)))?.blocked, quoted: store.members.find(cardHash(card(1504)))?.groups });
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0]!.summary).toMatchObject({ total: 3000, count: 2997, rejectedCount: 3 });
    expect(results[0]!.summary.rejected.map((r) => r.line)).toEqual([1502, 1503, 1504]);
    expect(results[0]!.summary.rejected[0]!.reason).toContain('date_of_birth');
    expect(results[0]!.summary.rejected[2]!.reason).toContain('the same card as line 8');
    expect(results[0]).toMatchObject({ blocked: true, quoted: ['chess-club'] });
  });

  it('refuses a file with a line over 64 KiB in its middle, naming the line, and changes nothing', async () => {
    const { store, before } = await branchWithList();
    const path = file('long.csv', [HEADER, ...rows(1, 1500), `${card(1501)},17/05/1990,2027-03-31,N,,yes,0,"${'x'.repeat(70_000)}`, ...rows(1502, 3000)]);
    const error = await refusal(importMembersCsv(store, path, { hasher, now, hashWorkerFromBytes: IN_WORKER }), ImportError);
    expect(error.message).toMatch(/line 1502 is longer than 65536 bytes.*nothing changed/);
    unchanged(store, before);
  });

  it('refuses a file with a byte that is not UTF-8 in its middle, naming its line, and changes nothing', async () => {
    const { store, before } = await branchWithList();
    const head = Buffer.from(`${[HEADER, ...rows(1, 2000)].join('\n')}\n${card(2001)},17/05/1990,2027-03-31,N,,yes,0,caf`);
    const path = file('latin1.csv', Buffer.concat([head, Buffer.from([0xe9, 0x0a]), Buffer.from(`${rows(2002, 3000).join('\n')}\n`)]));
    const error = await refusal(importMembersCsv(store, path, { hasher, now, hashWorkerFromBytes: IN_WORKER }), ImportError);
    expect(error.message).toMatch(/not valid UTF-8 at byte \d+ \(line 2002\).*nothing changed/);
    unchanged(store, before);
  });

  it('refuses a file with too many bad rows, listing them by line, and changes nothing', async () => {
    const { store, before } = await branchWithList();
    const bad = (i: number): string => `${card(i)},not a date,2027-03-31,N,,yes,0,`;
    const path = file('bad.csv', [HEADER, ...Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? bad(i + 1) : row(i + 1)))]);
    const error = await refusal(importMembersCsv(store, path, { hasher, now, hashWorkerFromBytes: IN_WORKER }), ImportError);
    expect(error.message).toMatch(/1500 of 3000 rows rejected.*nothing changed/);
    expect(error.rejected.slice(0, 2).map((r) => r.line)).toEqual([2, 4]);
    unchanged(store, before);
  });

  it('keeps the removal guard: a file with a third of the list is refused and changes nothing', async () => {
    const { store, before } = await branchWithList();
    const error = await refusal(importMembersCsv(store, file('short.csv', [HEADER, ...rows(1, 1000)]), { hasher, now, hashWorkerFromBytes: IN_WORKER }), ImportError);
    expect(error.message).toContain('would remove 2000 of the 3000 members');
    unchanged(store, before);
  });
});

describe("central's LMS import read in a worker thread", () => {
  const mapping = LmsMappingSchema.parse({ columns: DEFAULT_LMS_COLUMNS });
  const key = Buffer.alloc(32, 7);
  const options = (from: number) => ({ mapping, hasher: createCardHasher(key), keyId: deploymentKeyId(key), branchList: 'registered' as const, now, keepVersions: 5, hashWorkerFromBytes: from });

  it("gives the same version, rejections and members kept off the list as reading on the import's own thread", async () => {
    const path = file('lms.csv', [HEADER, ...rows(1, 1500), `${card(1501)},17/05/1990,someday,N,,yes,0,`, row(12), ...rows(1503, 3000)]);
    const results = [];
    for (const from of [HERE, IN_WORKER]) {
      const central = new CentralStore(':memory:');
      const members = new SqliteMemberStore(central.db);
      const summary = await importLmsCsv(members, path, options(from));
      results.push({ summary, unlisted: await members.unlistedCount() });
      central.close();
    }
    expect(results[1]).toEqual(results[0]);
    // Every fifth row is not registered for open access: kept at central, off the branches' list.
    expect(results[0]!.summary).toMatchObject({ total: 3000, rejectedCount: 2, notRegistered: 600, count: 2398 });
    expect(results[0]!.summary.rejected.map((r) => r.line)).toEqual([1502, 1503]);
  });

  it('refuses a file with a line over 64 KiB in its middle, naming the line, and makes no version', async () => {
    const central = new CentralStore(':memory:');
    try {
      const members = new SqliteMemberStore(central.db);
      await importLmsCsv(members, file('first.csv', [HEADER, ...rows(1, 3000)]), options(IN_WORKER));
      const before = await members.current();
      const path = file('long.csv', [HEADER, ...rows(1, 1500), `${card(1501)},17/05/1990,2027-03-31,N,,yes,0,"${'x'.repeat(70_000)}`, ...rows(1502, 3000)]);
      const error = await refusal(importLmsCsv(members, path, options(IN_WORKER)), LmsImportError);
      expect(error.message).toMatch(/line 1502 is longer than 65536 bytes.*nothing changed/);
      expect(await members.current()).toEqual(before);
    } finally {
      central.close();
    }
  });
});
