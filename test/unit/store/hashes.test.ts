import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ListHash, canonicalMemberBytes, EMPTY_LIST_HASH } from '../../../gateway/store/list-hash.js';
import type { MemberRow } from '../../../gateway/store/index.js';
import { row } from './helpers.js';

/** The canonical bytes as docs/store.md states them, written independently of list-hash.ts. */
function reference(r: MemberRow): Buffer {
  const text = (v: string | null): string => v ?? '';
  const flag = (v: boolean | null): string => (v === null ? '' : v ? '1' : '0');
  const fields = [text(r.expires), flag(r.blocked), text(r.blockedUntil), flag(r.openAccess), text(r.birthDate), flag(r.adult), flag(r.staff), r.groups.join(','), text(r.pinHash)];
  return Buffer.concat([r.cardHash, Buffer.from(fields.map((f) => `\t${f}`).join(''), 'utf8')]);
}

function referenceSum(rows: readonly MemberRow[]): string {
  const modulus = 1n << 256n;
  let sum = 0n;
  for (const r of rows) sum = (sum + BigInt(`0x${createHash('sha256').update(reference(r)).digest('hex')}`)) % modulus;
  return sum.toString(16).padStart(64, '0');
}

describe('the member-list hash', () => {
  const rows: MemberRow[] = [
    row('11110001'),
    row('11110002', { expires: null, birthDate: null, adult: true, blocked: true, blockedUntil: '2026-05-01', staff: true }),
    row('11110003', { groups: ['chess-club', 'scouts-1st-town'], pinHash: `scrypt$10$8$1$${'A'.repeat(24)}$${'B'.repeat(44)}` }),
    row('11110004', { openAccess: false, adult: false, groups: ['x'.repeat(63), 'y'.repeat(63), 'z'.repeat(63)] }),
    row('11110005', { pinHash: 'ünïcode' }),
  ];

  it('writes the canonical bytes the documentation describes', () => {
    for (const r of rows) expect(canonicalMemberBytes(r).equals(reference(r))).toBe(true);
  });

  it('is the sum of SHA-256 over the canonical bytes, modulo 2^256, and subtracting undoes adding', () => {
    const sum = new ListHash();
    for (const r of rows) sum.add(r);
    expect(sum.toHex()).toBe(referenceSum(rows));
    const again = ListHash.fromHex(sum.toHex());
    for (const r of rows) again.subtract(r);
    expect(again.toHex()).toBe(EMPTY_LIST_HASH);
  });
});
