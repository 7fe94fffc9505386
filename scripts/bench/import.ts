// Member import benchmark, and the fake member exports the demo and other benchmarks use.
//   npx tsx scripts/bench/import.ts 1000000        (or: oag bench --import-rows 1000000)
// Prints import seconds, rows/s, the store's size and the process's memory.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createCardHasher } from '../../gateway/core/cards.js';
import { importMembersCsv } from '../../gateway/members/index.js';
import { openStore } from '../../gateway/store/index.js';

/** The header of generated exports: the column names of DEFAULT_MEMBER_MAPPING. */
export const GENERATED_CSV_HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';
const GROUPS = ['scouts-1st-town', 'home-educators', 'chess-club', 'scouts-2nd-town', '1st-riverside-scouts', 'adult-learning'];
const DAY_MS = 86_400_000;

export interface FakeMember {
  /** The card number as printed on the card (some with spaces, as exports have them). */
  card: string;
  birthDate: string | null;
  expires: string | null;
  blocked: boolean;
  blockedUntil: string | null;
  openAccess: boolean;
  staff: boolean;
  groups: string[];
  /** Whether open access would let this member in on `asOf` (registered, not blocked or expired, 18 or over). */
  mayEnter: boolean;
}

/** A 32-bit mix of (seed, index, salt): random access to member i without generating the others. */
function mix(seed: number, i: number, salt: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35) ^ Math.imul(salt + 1, 0x27d4eb2f)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function chance(seed: number, i: number, salt: number, p: number): boolean {
  return mix(seed, i, salt) / 2 ** 32 < p;
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function ukDay(ms: number): string {
  const iso = isoDay(ms);
  return `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;
}

const CARD_SPACE = 1_000_000_000_000;
const CARD_STEP = 7_919_731; // odd and not a multiple of 5: i → i·step mod 10^12 never repeats

/** The card number of member i: `21` and 12 digits, unique for i < 10^12. */
export function fakeCardNumber(i: number, seed: number): string {
  const offset = (seed * 1_000_003) % CARD_SPACE;
  const product = i * CARD_STEP;
  const scrambled = Number.isSafeInteger(product) ? product % CARD_SPACE : Number((BigInt(i) * BigInt(CARD_STEP)) % BigInt(CARD_SPACE));
  const n = (scrambled + offset) % CARD_SPACE;
  return `21${String(n).padStart(12, '0')}`;
}

/**
 * Member i of a deterministic fake export, dated relative to `asOf`: about 3% staff, 4% blocked, 6% expired,
 * 12% not registered for open access, 15% under 18, 1% in partner groups.
 */
export function fakeMember(i: number, seed: number, asOf: Date, unregisteredShare = 0.12): FakeMember {
  const today = Math.floor(asOf.getTime() / DAY_MS) * DAY_MS;
  const r = (salt: number): number => mix(seed, i, salt) / 2 ** 32;
  const card = fakeCardNumber(i, seed);
  const spaced = chance(seed, i, 1, 0.01) ? `${card.slice(0, 4)} ${card.slice(4, 8)} ${card.slice(8)}` : card;
  const minor = chance(seed, i, 2, 0.15);
  const ageDays = Math.floor((minor ? 5 + r(3) * 12.5 : 18.05 + r(3) * 70) * 365.25);
  const birthDate = chance(seed, i, 4, 0.03) ? null : isoDay(today - ageDays * DAY_MS);
  const expired = chance(seed, i, 5, 0.06);
  const expires = chance(seed, i, 6, 0.05) && !expired ? null : isoDay(today + (expired ? -(1 + Math.floor(r(7) * 700)) : 1 + Math.floor(r(7) * 1000)) * DAY_MS);
  const blocked = chance(seed, i, 8, 0.04);
  const blockedUntil = blocked && chance(seed, i, 9, 0.5) ? isoDay(today + (1 + Math.floor(r(10) * 60)) * DAY_MS) : null;
  const staff = chance(seed, i, 11, 0.03);
  const openAccess = staff || !chance(seed, i, 12, unregisteredShare);
  const groups = chance(seed, i, 13, 0.01) ? [GROUPS[Math.floor(r(14) * GROUPS.length)]!] : [];
  const mayEnter = openAccess && !blocked && !expired && !minor && birthDate !== null;
  return { card: spaced, birthDate, expires, blocked, blockedUntil, openAccess, staff, groups, mayEnter };
}

function csvLine(m: FakeMember): string {
  const yn = (b: boolean): string => (b ? 'Y' : 'N');
  return [
    m.card,
    m.birthDate === null ? '' : ukDay(Date.parse(m.birthDate)),
    m.expires ?? '',
    yn(m.blocked),
    m.blockedUntil ?? '',
    m.openAccess ? 'yes' : 'no',
    m.staff ? '1' : '0',
    m.groups.join(';'),
  ].join(',');
}

export interface GeneratedMembers {
  rows: number;
  bytes: number;
  /** Normalised card numbers kept for taps (at most `keepCards` of each kind): may enter, or refused for a reason. */
  cards: { valid: string[]; other: string[] };
  /** Normalised card numbers of partner-group members, by group (at most `keepCards` each). */
  groups: Record<string, string[]>;
  /** The birth date (or null) of every card kept above, for the demo's record of who came in. */
  birthDates: Map<string, string | null>;
}

/** Writes a member export of `n` fake members (the columns of DEFAULT_MEMBER_MAPPING). */
export async function generateMembersCsv(
  path: string,
  n: number,
  seed: number,
  /** `unregisteredShare`: of the members not staff, the share not registered for open access (12%). */
  options: { asOf?: Date; keepCards?: number; unregisteredShare?: number } = {},
): Promise<GeneratedMembers> {
  const asOf = options.asOf ?? new Date();
  const keep = options.keepCards ?? 1000;
  const out = createWriteStream(path);
  const valid: string[] = [];
  const other: string[] = [];
  const groups: Record<string, string[]> = {};
  const birthDates = new Map<string, string | null>();
  let chunk = `${GENERATED_CSV_HEADER}\n`;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const m = fakeMember(i, seed, asOf, options.unregisteredShare);
    const list = m.mayEnter ? valid : other;
    const card = m.card.replace(/ /g, '');
    if (list.length < keep) {
      list.push(card);
      birthDates.set(card, m.birthDate);
    }
    for (const group of m.groups) {
      const members = (groups[group] ??= []);
      if (members.length < keep) {
        members.push(card);
        birthDates.set(card, m.birthDate);
      }
    }
    chunk += `${csvLine(m)}\n`;
    if (chunk.length >= 1 << 20) {
      bytes += chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  bytes += chunk.length;
  out.end(chunk);
  await once(out, 'finish');
  return { rows: n, bytes, cards: { valid, other }, groups, birthDates };
}

function sizeMb(path: string): number {
  try {
    return statSync(path).size / 2 ** 20;
  } catch {
    return 0;
  }
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Generates `rows` members, imports them into a fresh store (and, with `reimport`, once more over that list). */
export async function benchImport(opts: { rows: number; reimport?: boolean }): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-import-'));
  try {
    const csv = join(dir, 'members.csv');
    const db = join(dir, 'bench.sqlite');
    await generateMembersCsv(csv, opts.rows, 1, { keepCards: 0 });
    const store = openStore(db);
    const hasher = createCardHasher(randomBytes(32));
    const started = performance.now();
    const summary = await importMembersCsv(store, csv, { hasher, now: new Date() });
    const importSeconds = (performance.now() - started) / 1000;
    const result: Record<string, number> = {
      rows: opts.rows,
      members: summary.count,
      rejected: summary.rejectedCount,
      importSeconds: round(importSeconds),
      rowsPerSecond: Math.round(opts.rows / importSeconds),
    };
    if (opts.reimport === true) {
      const again = performance.now();
      await importMembersCsv(store, csv, { hasher, now: new Date() });
      result.reimportSeconds = round((performance.now() - again) / 1000);
    }
    result.rssMb = round(process.memoryUsage().rss / 2 ** 20, 0);
    store.close();
    result.csvMb = round(sizeMb(csv), 1);
    result.dbSizeMb = round(sizeMb(db) + sizeMb(`${db}-wal`), 1);
    result.maxRssMb = round(process.resourceUsage().maxRSS / 1024, 0);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = Number(process.argv[2] ?? 1_000_000);
  if (!Number.isInteger(rows) || rows < 1) {
    console.error('usage: npx tsx scripts/bench/import.ts [rows] [--reimport]');
    process.exit(2);
  }
  console.log(JSON.stringify(await benchImport({ rows, reimport: process.argv.includes('--reimport') }), null, 2));
}
