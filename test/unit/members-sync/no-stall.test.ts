// A member list from central must not stall the door's event loop: chunks are checked in a worker thread, staged
// a batch of rows per turn of the loop, and applied with the checks done a page per turn before one short swap,
// the old list deleted a batch per turn after it. Each test watches the loop turn while the work is in progress
// (a tap scheduled meanwhile is served before the work ends), and that the result is the same as done at once.
import Database from 'better-sqlite3';
import pino from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteMemberStore, SqliteMemberTables } from '../../../central/members/sqlite-member-store.js';
import { MembersPublisher } from '../../../central/members/publisher.js';
import { CentralStore } from '../../../central/store.js';
import { WorkerChecker, checkTransfer } from '../../../gateway/members/chunk-worker.js';
import { MemberSync } from '../../../gateway/members/sync.js';
import { openStore, type Store } from '../../../gateway/store/index.js';
import { runInTurns, runNow, type PackedRows } from '../../../gateway/store/member-sync.js';
import { deploymentKeyId } from '../../../policies/cards.js';
import { MembersTransferSchema } from '../../../policies/contract/index.js';
import { ListHash, chunkHash, chunkOfCard, encodeMemberEntry, memberFieldsText, snapshotChunkCount, type MemberRecord } from '../../../policies/member-list.js';
import { TEST_KEY_HEX, importRecords, records, until } from './helpers.js';
import { centralFor, signedJson, testSigningKey } from '../../helpers/signing-keys.js';

const KEY_ID = deploymentKeyId(Buffer.from(TEST_KEY_HEX, 'hex'));
const AT = new Date('2026-03-02T10:00:00.000Z');
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function tempStore(): { store: Store; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'oag-no-stall-'));
  const path = join(dir, 'gateway.sqlite');
  const store = openStore(path);
  cleanups.push(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, path };
}

/** Counts turns of the event loop (setImmediate callbacks) and runs `look` on each, until stopped. */
function watchLoop(look: () => void = () => undefined): { stop: () => number } {
  let turns = 0;
  let handle = setImmediate(function tick() {
    turns++;
    look();
    handle = setImmediate(tick);
  });
  return {
    stop: () => {
      clearImmediate(handle);
      return turns;
    },
  };
}

const hashOf = (rows: readonly MemberRecord[]): string => {
  const sum = new ListHash();
  for (const r of rows) sum.add(r);
  return sum.toHex();
};

const packed = (rows: readonly MemberRecord[]): PackedRows => ({ cardHashes: Buffer.concat(rows.map((r) => r.cardHash)), fields: rows.map(memberFieldsText) });

/** Begins a snapshot transfer of `rows` in `total` chunks; returns each chunk's rows. */
function beginSnapshot(store: Store, rows: readonly MemberRecord[], version: number, total: number): MemberRecord[][] {
  store.memberSync.begin(
    { transfer: '6a1f0c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b', kind: 'snapshot', version, base: null, baseHash: null, keyId: KEY_ID, total, count: rows.length, hash: hashOf(rows) },
    AT,
  );
  return Array.from({ length: total }, (_, i) => rows.filter((r) => chunkOfCard(r.cardHash, total) === i));
}

function stageAll(store: Store, chunks: MemberRecord[][]): void {
  chunks.forEach((part, i) => runNow(store.memberSync.stageChunkSteps(i, packed(part), hashOf(part))));
}

describe('staging a chunk in steps', () => {
  it('stages a batch of rows per turn; a tap meanwhile sees the chunk not yet received', async () => {
    const { store, path } = tempStore();
    const rows = records(1000);
    beginSnapshot(store, rows, 1, 1);
    const reader = new Database(path, { readonly: true });
    cleanups.push(() => reader.close());
    const partial: number[] = [];
    const watch = watchLoop(() => {
      const n = reader.prepare('SELECT count(*) AS n FROM member_sync_members').pluck().get() as number;
      if (n > 0 && n < 1000) partial.push(store.memberSync.transfer()!.received.length);
    });
    let yields = 0;
    const staged = await runInTurns(store.memberSync.stageChunkSteps(0, packed(rows), hashOf(rows), 100), async () => {
      yields++;
      await new Promise((resolve) => setImmediate(resolve));
    });
    const turns = watch.stop();
    expect(staged).toBe(true);
    expect(yields).toBe(9);
    expect(turns).toBeGreaterThanOrEqual(9);
    // Seen half-staged, and then not counted as received.
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.every((n) => n === 0)).toBe(true);
    expect(store.memberSync.transfer()?.received).toEqual([0]);
    expect(store.memberSync.apply({ appliedAt: AT, source: 'central' })).toMatchObject({ count: 1000, hash: hashOf(rows) });
  });

  it('stages a chunk again after staging it was cut short, without its first rows counting twice', () => {
    const { store } = tempStore();
    const rows = records(700);
    const chunks = beginSnapshot(store, rows, 1, 2);
    const cut = store.memberSync.stageChunkSteps(0, packed(chunks[0]!), hashOf(chunks[0]!), 100);
    cut.next();
    cut.next(); // two batches in, then the process stops
    expect(store.memberSync.transfer()?.received).toEqual([]);
    stageAll(store, chunks);
    expect(store.memberSync.transfer()?.received).toEqual([0, 1]);
    expect(store.memberSync.apply({ appliedAt: AT, source: 'central' })).toMatchObject({ count: 700, hash: hashOf(rows) });
    expect(store.members.find(chunks[0]![0]!.cardHash)).toBeDefined();
  });
});

describe('applying in steps', () => {
  it('checks a page per turn before the swap: taps meanwhile are decided on the list in force, and the swap is whole', async () => {
    const { store } = tempStore();
    const first = records(600);
    stageAll(store, beginSnapshot(store, first, 1, 1));
    store.memberSync.apply({ appliedAt: AT, source: 'central' });
    // Version 2: 200 members leave, 3,000 join (the old list is small beside it: what changed is counted).
    const second = [...first.slice(200), ...records(3000, 10_000)];
    stageAll(store, beginSnapshot(store, second, 2, 3));

    const decided: Array<[boolean, boolean]> = [];
    const watch = watchLoop(() => decided.push([store.members.find(first[0]!.cardHash) !== undefined, store.members.find(second.at(-1)!.cardHash) !== undefined]));
    const result = await runInTurns(store.memberSync.applySteps({ appliedAt: AT, source: 'central' }));
    const turns = watch.stop();
    expect(result).toMatchObject({ kind: 'snapshot', version: 2, count: 3400, hash: hashOf(second), added: 3000, changed: 0, removed: 200 });
    expect(turns).toBeGreaterThan(0);
    // Every tap saw one list or the other, never a mix; at least one saw the old list while the apply ran.
    expect(decided.some(([old, next]) => old && !next)).toBe(true);
    expect(decided.every(([old, next]) => old !== next)).toBe(true);
    expect(store.members.stats()).toMatchObject({ version: 2, count: 3400, hash: hashOf(second) });
    expect(store.members.find(first[0]!.cardHash)).toBeUndefined();
  });

  it('deletes the old list a batch per turn after the swap, and a cut-short deletion is finished first next time', async () => {
    const { store, path } = tempStore();
    const first = records(5000);
    stageAll(store, beginSnapshot(store, first, 1, 2));
    store.memberSync.apply({ appliedAt: AT, source: 'central' });
    const tables = (): string[] => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'member%' ORDER BY name").pluck().all() as string[];
      } finally {
        db.close();
      }
    };
    const before = tables();

    const second = records(5000, 20_000);
    stageAll(store, beginSnapshot(store, second, 2, 2));
    await runInTurns(store.memberSync.applySteps({ appliedAt: AT, source: 'central' }));
    expect(store.memberSync.hasLeftovers()).toBe(true);
    const watch = watchLoop();
    await runInTurns(store.memberSync.cleanUpSteps());
    expect(watch.stop()).toBeGreaterThan(1);
    expect(store.memberSync.hasLeftovers()).toBe(false);
    expect(tables()).toEqual(before);

    // Version 3 over version 2, whose deletion stops after one batch: version 4 still applies, and tidies up.
    stageAll(store, beginSnapshot(store, first, 3, 2));
    await runInTurns(store.memberSync.applySteps({ appliedAt: AT, source: 'central' }));
    store.memberSync.cleanUpSteps().next();
    expect(store.memberSync.hasLeftovers()).toBe(true);
    stageAll(store, beginSnapshot(store, second, 4, 2));
    await runInTurns(store.memberSync.applySteps({ appliedAt: AT, source: 'central' }));
    await runInTurns(store.memberSync.cleanUpSteps());
    expect(store.members.stats()).toMatchObject({ version: 4, count: 5000, hash: hashOf(second) });
    expect(tables()).toEqual(before);
  });

  it('computes a delta page by page before the swap, and refuses one that does not lead to the announced hash', async () => {
    const { store } = tempStore();
    const rows = records(2000);
    stageAll(store, beginSnapshot(store, rows, 1, 1));
    store.memberSync.apply({ appliedAt: AT, source: 'central' });
    const after = rows.map((r, i) => (i % 4 === 0 ? { ...r, blocked: true } : r));
    const changes = after.filter((_, i) => i % 4 === 0).map((r) => ({ removed: false as const, ...r }));
    const header = { transfer: '7b2f0c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b', kind: 'delta' as const, version: 2, base: 1, baseHash: hashOf(rows), keyId: KEY_ID, total: 1, count: 2000 };
    store.memberSync.begin({ ...header, hash: 'ab'.repeat(32) }, AT);
    store.memberSync.stageChunk(0, changes, '');
    await expect(runInTurns(store.memberSync.applySteps({ appliedAt: AT, source: 'central' }))).rejects.toThrow(/does not match the announced/);
    expect(store.members.stats()).toMatchObject({ version: 1, hash: hashOf(rows) });

    store.memberSync.begin({ ...header, hash: hashOf(after) }, AT);
    store.memberSync.stageChunk(0, changes, '');
    const watch = watchLoop();
    const result = await runInTurns(store.memberSync.applySteps({ appliedAt: AT, source: 'central' }));
    expect(watch.stop()).toBeGreaterThan(1);
    expect(result).toMatchObject({ kind: 'delta', version: 2, count: 2000, added: 0, changed: 500, removed: 0 });
    expect(store.members.stats().hash).toBe(hashOf(after));
    expect(store.members.find(rows[4]!.cardHash)).toMatchObject({ blocked: true });
  });
});

describe('checking chunks in a worker thread', () => {
  it('gives what checking on this thread gives, while the event loop turns', async () => {
    const rows = records(3000);
    const total = snapshotChunkCount(rows.length, 3000);
    const entries = rows.filter((r) => chunkOfCard(r.cardHash, total) === 0).map(encodeMemberEntry);
    const signedBy = { topic: centralFor('town').transferTopic, keys: centralFor('town').keys };
    const payload = signedJson(signedBy.topic, MembersTransferSchema.parse({
      type: 'chunk',
      transfer: '6a1f0c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b',
      version: 1,
      keyId: KEY_ID,
      kind: 'snapshot',
      base: null,
      count: rows.length,
      hash: hashOf(rows),
      index: 0,
      total,
      chunkHash: chunkHash(entries),
      entries,
    }));
    const checker = new WorkerChecker((error) => {
      throw error;
    });
    cleanups.push(() => checker.close());
    const watch = watchLoop();
    let turnsWhenChecked = -1;
    const checked = await checker.check(payload, signedBy).then((r) => {
      turnsWhenChecked = watch.stop();
      return r;
    });
    const here = checkTransfer(payload, signedBy);
    expect(checked.type).toBe('chunk');
    expect({ ...checked, rows: null }).toEqual({ ...here, rows: null });
    if (checked.type !== 'chunk' || here.type !== 'chunk') throw new Error('not a chunk');
    expect(Buffer.from(checked.rows!.cardHashes).equals(Buffer.from(here.rows!.cardHashes))).toBe(true);
    expect(checked.rows!.fields).toEqual(here.rows!.fields);
    // Checked on this thread, the answer would be there before the loop turned once.
    expect(turnsWhenChecked).toBeGreaterThan(0);
    // Altered on the way: refused for its signature before anything else is looked at.
    const spoiled = Buffer.from(payload.toString().replace(/"chunkHash":"[0-9a-f]/, '"chunkHash":"x'));
    expect(await checker.check(spoiled, signedBy)).toMatchObject({ type: 'forged', reason: expect.stringMatching(/^signature: bad signature/) });
  });
});

describe('the branch pulling a big list', () => {
  it('stages each big chunk over several turns of the loop, and applies the list', async () => {
    const central = new CentralStore(':memory:');
    const members = new SqliteMemberTables(central.db);
    const { store, path } = tempStore();
    let deliver: (topic: string, payload: Buffer) => void = () => undefined;
    const publisher = new MembersPublisher({
      members: new SqliteMemberStore(members),
      prefix: 'oa/v1',
      keyId: KEY_ID,
      chunkSize: 1000,
      link: { connected: true, publish: async (topic, payload) => void setImmediate(() => deliver(topic, payload)) },
      signingKey: testSigningKey(),
      clock: { now: () => AT },
      logger,
    });
    const sync = new MemberSync({
      store,
      keyId: KEY_ID,
      central: centralFor('town'),
      clock: { now: () => AT },
      logger,
      record: () => undefined,
      alarms: { set: () => undefined },
      onApplied: () => undefined,
      config: { staleAfterDays: 30, windowChunks: 2, requestTimeoutMs: 10_000 },
    });
    cleanups.push(() => {
      sync.stop();
      central.close();
    });
    sync.link((payload) => {
      void publisher.handleRequest('town', payload);
      return true;
    });
    deliver = (topic, payload) => sync.receive(topic === 'oa/v1/members/current' ? 'announcement' : 'transfer', payload);
    sync.start();
    const rows = records(4000);
    importRecords(members, rows, KEY_ID);

    // The staged rows as a tap's turn of the loop finds them: staged a chunk at a time in one go, only the sums of
    // whole chunks could ever be seen (at most 5 values for 4 chunks).
    const reader = new Database(path, { readonly: true });
    cleanups.push(() => reader.close());
    const seen = new Set<number>();
    const watch = watchLoop(() => {
      if (store.members.stats().version === null) seen.add(reader.prepare('SELECT count(*) FROM member_sync_members').pluck().get() as number);
    });
    await publisher.announce();
    await until(() => store.members.stats().version === 1, 'the list to be applied');
    watch.stop();
    expect(store.members.stats()).toMatchObject({ count: 4000, hash: hashOf(rows) });
    expect(seen.size).toBeGreaterThan(8);
  });
});
