// One list hash for both ends: central computes it from what it stores, the gateway from what it applied; and the
// wire form of a member carries exactly the bytes that are hashed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteMemberTables } from '../../../central/members/sqlite-member-store.js';
import { CentralStore } from '../../../central/store.js';
import { ListHash as GatewayListHash } from '../../../gateway/store/list-hash.js';
import { openStore } from '../../../gateway/store/index.js';
import { deploymentKeyId } from '../../../policies/cards.js';
import {
  EMPTY_LIST_HASH,
  ListHash,
  canonicalMemberBytes,
  chunkOfCard,
  chunkRange,
  decodeCardHash,
  decodeMemberEntry,
  digestOfParts,
  encodeMemberEntry,
  encodeRemovalEntry,
  memberDigest,
  memberFieldsText,
  snapshotChunkCount,
} from '../../../policies/member-list.js';
import { TEST_KEY_HEX, hashCard, importRecords, member, records } from './helpers.js';

const KEY_ID = deploymentKeyId(Buffer.from(TEST_KEY_HEX, 'hex'));
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const variety = [
  { cardHash: hashCard('21000000000001'), ...member() },
  { cardHash: hashCard('21000000000002'), ...member({ expires: null, birthDate: null, adult: true, blocked: true, blockedUntil: '2026-05-01', staff: true }) },
  { cardHash: hashCard('21000000000003'), ...member({ groups: ['chess-club', 'scouts-1st-town'], pinHash: `scrypt$10$8$1$${'A'.repeat(24)}$${'B'.repeat(44)}` }) },
  { cardHash: hashCard('21000000000004'), ...member({ openAccess: false, adult: false }) },
  { cardHash: hashCard('21000000000005'), ...member({ pinHash: 'ünïcode' }) },
];

describe('the list hash, shared by central and the gateway', () => {
  it('is the same at central and at a branch holding the same members', () => {
    const rows = [...variety, ...records(300, 100, (i) => ({ blocked: i % 7 === 0, groups: i % 11 === 0 ? ['home-educators'] : [] }))];
    const central = new CentralStore(':memory:');
    const members = new SqliteMemberTables(central.db);
    importRecords(members, rows, KEY_ID);
    dir = mkdtempSync(join(tmpdir(), 'oag-hash-'));
    const branch = openStore(join(dir, 'branch.sqlite'));
    branch.members.replaceAll([...rows].reverse(), { source: 'test' });
    expect(branch.members.stats().hash).toBe(members.current()!.hash);
    expect(members.current()!.hash).not.toBe(EMPTY_LIST_HASH);
    branch.close();
    central.close();
  });

  it('is what gateway/store/list-hash.ts has always exported (one implementation)', () => {
    expect(GatewayListHash).toBe(ListHash);
  });

  it('adds up from the digests of disjoint parts in any order', () => {
    const whole = new ListHash();
    for (const r of variety) whole.add(r);
    const a = new ListHash();
    const b = new ListHash();
    variety.forEach((r, i) => (i % 2 === 0 ? a : b).addDigest(memberDigest(r)));
    b.addSum(a);
    expect(b.toHex()).toBe(whole.toHex());
  });
});

describe('a member on the wire', () => {
  it('is the card hash in base64url and the canonical fields: decoding gives the member and its digest back', () => {
    for (const r of variety) {
      const entry = encodeMemberEntry(r);
      expect(entry.slice(0, 43)).toBe(r.cardHash.toString('base64url'));
      expect(Buffer.concat([r.cardHash, Buffer.from(entry.slice(43), 'utf8')]).equals(canonicalMemberBytes(r))).toBe(true);
      const decoded = decodeMemberEntry(entry);
      expect(decoded.kind).toBe('member');
      if (decoded.kind !== 'member') continue;
      expect({ ...decoded.row, groups: [...decoded.row.groups] }).toEqual({ ...r, groups: [...r.groups] });
      expect(decoded.digest.equals(memberDigest(r))).toBe(true);
      expect(digestOfParts(r.cardHash, memberFieldsText(r)).equals(memberDigest(r))).toBe(true);
    }
  });

  it('is a removal when it is the card hash alone', () => {
    const d = decodeMemberEntry(encodeRemovalEntry(variety[0]!.cardHash));
    expect(d).toEqual({ kind: 'removal', cardHash: variety[0]!.cardHash });
  });

  it('accepts only the canonical spelling, so the bytes hashed are the bytes stored', () => {
    const good = encodeMemberEntry(variety[0]!);
    const head = good.slice(0, 43);
    const bad: Array<[string, RegExp]> = [
      [`${head}\t2027-03-31\ttrue\t\t1\t1980-05-01\t\t0\t\t`, /blocked: must be 0 or 1/],
      [`${head}\t31/03/2027\t0\t\t1\t1980-05-01\t\t0\t\t`, /expires: not a YYYY-MM-DD day/],
      [`${head}\t2027-02-30\t0\t\t1\t1980-05-01\t\t0\t\t`, /expires/],
      [`${head}\t2027-03-31\t0\t\t1\t1980-05-01\t\t0\t`, /has 8 fields/],
      [`${head}\t2027-03-31\t0\t\t1\t1980-05-01\t\t0\tChess Club\t`, /groups/],
      [`${head.slice(0, 42)}\t2027-03-31\t0\t\t1\t1980-05-01\t\t0\t\t`, /card hash/],
    ];
    for (const [entry, reason] of bad) expect(() => decodeMemberEntry(entry), entry).toThrow(reason);
    // 43 base64url characters carry two bits more than 32 bytes: only one spelling of each hash is accepted.
    const last = head.at(-1)!;
    const other = last === 'A' ? 'B' : String.fromCharCode(last.charCodeAt(0) + 1);
    expect(decodeCardHash(head.slice(0, 42) + other)).toBeUndefined();
    expect(decodeCardHash(head)?.equals(variety[0]!.cardHash)).toBe(true);
  });
});

describe('snapshot chunks by card-hash range', () => {
  it('puts every card in exactly the chunk whose range holds it, in chunks of about the chunk size', () => {
    const rows = records(20_000);
    const total = snapshotChunkCount(rows.length, 1000);
    expect(total).toBe(20);
    const sizes = new Array<number>(total).fill(0);
    for (const r of rows) {
      const i = chunkOfCard(r.cardHash, total);
      const { from, to } = chunkRange(i, total);
      expect(Buffer.compare(r.cardHash, from) >= 0 && (to === null || Buffer.compare(r.cardHash, to) < 0)).toBe(true);
      sizes[i]!++;
    }
    expect(Math.min(...sizes)).toBeGreaterThan(850);
    expect(Math.max(...sizes)).toBeLessThan(1150);
    // The ranges meet end to end.
    for (let i = 0; i + 1 < total; i++) expect(chunkRange(i, total).to!.equals(chunkRange(i + 1, total).from)).toBe(true);
    expect(chunkRange(total - 1, total).to).toBeNull();
  });
});
