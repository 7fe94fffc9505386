// Member deltas on PostgreSQL beside SQLite (issue #20, docs/central.md):
//   npx tsx scripts/bench/members-pg-delta.ts [members] [sizes]      e.g. 100000 1,1000,10000 (the defaults)
// A list of `members` imported into each store (PostgreSQL 15 from Debian, started as the system tests start it;
// SQLite in a file, central's embedded default), then for each size one delta from the library system
// (applyMemberUpdates, as a delta file or a Koha poll makes): nine in ten rows changed (blocked turned over), one in
// twenty added, one in twenty removed, one in ten with a card UID. Each delta is timed on both; SQLite is the floor.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { MemberStore, MemberUpdate, VersionMeta } from '../../central/members/member-store.js';
import { PgMemberStore } from '../../central/members/pg-member-store.js';
import { SqliteMemberStore } from '../../central/members/sqlite-member-store.js';
import { CentralStore } from '../../central/store.js';
import { createCardHasher, normaliseCardId } from '../../policies/cards.js';
import { digestOfParts, memberFieldsText } from '../../policies/member-list.js';
import type { Member } from '../../policies/types.js';
import { startPostgres } from '../../test/helpers/postgres.js';
import { BENCH_MEMBER } from './bench-member.js';

export interface PgDeltaRow {
  rows: number;
  postgresSeconds: number;
  sqliteSeconds: number;
  /** PostgreSQL's time over SQLite's. */
  ratio: number;
}

const hashCard = createCardHasher(Buffer.alloc(32, 5));
const cardHash = (i: number): Buffer => hashCard(normaliseCardId(`21${String(i).padStart(12, '0')}`));
const uidHash = (i: number): Buffer => hashCard(normaliseCardId(`04${i.toString(16).padStart(12, '0')}`));
const person = (over: Partial<Member> = {}): Member => ({ ...BENCH_MEMBER, ...over });
const fields = (over: Partial<Member> = {}): string => memberFieldsText({ cardHash: Buffer.alloc(0), ...person(over) });

async function importList(store: MemberStore, members: number, meta: VersionMeta): Promise<void> {
  const staging = await store.beginImport();
  try {
    const text = fields();
    for (let i = 0; i < members; i++) {
      const h = cardHash(i);
      staging.add(h, text, digestOfParts(h, text), i + 2);
      if (i % 5000 === 4999) await staging.settle();
    }
    await staging.finish(() => undefined);
    await staging.commit(meta);
  } finally {
    await staging.dispose();
  }
}

/** Delta `round` of `size` rows: members from `from` on, changed, removed and (past the list's end) added. */
function delta(size: number, from: number, members: number, round: number): MemberUpdate[] {
  const updates: MemberUpdate[] = [];
  for (let k = 0; k < size; k++) {
    const i = from + k;
    if (k % 20 === 19) updates.push({ cardHash: cardHash(i), fields: null, listed: false });
    else if (k % 20 === 18) updates.push({ cardHash: cardHash(members + round * 100_000 + k), fields: fields(), listed: true });
    else updates.push({ cardHash: cardHash(i), fields: fields({ blocked: round % 2 === 1 }), listed: true, uidHashes: k % 10 === 0 ? [uidHash(i)] : undefined });
  }
  return updates;
}

export async function benchPgDelta(options: { members: number; sizes: readonly number[] }): Promise<PgDeltaRow[]> {
  const logger = pino({ level: 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-pg-delta-'));
  const server = await startPostgres();
  const central = new CentralStore(join(dir, 'central.sqlite'));
  const pgStore = await PgMemberStore.open(await server.newDatabase(), { logger, max: 4 });
  const sqlite = new SqliteMemberStore(central.db);
  try {
    const meta = (minute: number): VersionMeta => ({ keyId: 'bench', source: 'bench', at: new Date(Date.UTC(2026, 0, 1, 0, minute)), keepVersions: 50 });
    await importList(pgStore, options.members, meta(0));
    await importList(sqlite, options.members, meta(0));
    const out: PgDeltaRow[] = [];
    let from = 0;
    for (const [round, size] of options.sizes.entries()) {
      const updates = delta(size, from, options.members, round + 1);
      from += size;
      const time = async (store: MemberStore): Promise<number> => {
        const t0 = process.hrtime.bigint();
        await store.applyMemberUpdates(updates, meta(round + 1));
        return Number(process.hrtime.bigint() - t0) / 1e9;
      };
      const postgresSeconds = await time(pgStore);
      const sqliteSeconds = await time(sqlite);
      const [a, b] = [await pgStore.current(), await sqlite.current()];
      if (a?.hash !== b?.hash || a?.count !== b?.count) throw new Error(`the stores disagree after the ${size}-row delta`);
      out.push({ rows: size, postgresSeconds, sqliteSeconds, ratio: postgresSeconds / sqliteSeconds });
    }
    return out;
  } finally {
    await pgStore.close();
    central.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printPgDeltaBench(members: number, rows: readonly PgDeltaRow[]): void {
  console.log(`Member deltas on a ${members.toLocaleString('en')}-member list (applyMemberUpdates; SQLite is the floor):`);
  for (const r of rows) {
    console.log(
      `  ${r.rows.toLocaleString('en').padStart(7)} rows: PostgreSQL ${r.postgresSeconds.toFixed(3)} s, SQLite ${r.sqliteSeconds.toFixed(3)} s, ${r.ratio.toFixed(1)}× SQLite`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const members = Number(process.argv[2] ?? 100_000);
  const sizes = (process.argv[3] ?? '1,1000,10000').split(',').map(Number);
  printPgDeltaBench(members, await benchPgDelta({ members, sizes }));
}
