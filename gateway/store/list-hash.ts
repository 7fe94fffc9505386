// The member list's fingerprint: the sum, modulo 2^256, of SHA-256 over each member's canonical bytes.
// A sum does not depend on row order, so a list can be hashed while it streams in, and a delta (add, change,
// remove one member) updates it without reading the other million rows. Central computes the same sum to let a
// branch check the list it holds (count + hash). It guards against a lost or corrupted update, not a forger:
// the channel authenticates the sender.
//
// A member's canonical bytes: the 32 bytes of card_hash, then for each of these fields in order a tab and the
// field's UTF-8 (null as nothing, booleans as 0/1, groups as the stored comma list):
//   expires blocked blocked_until open_access birth_date adult staff groups pin_hash
// (When central needs the same sum, this moves to policies/.)
import { hash } from 'node:crypto';
import type { MemberRow } from './types.js';

const WORDS = 8;
const TAB = 9;
const ZERO = 48;
const ONE = 49;
let scratch = Buffer.alloc(1024);

/** Writes `text` as UTF-8 at `at` (ASCII, the usual case, byte by byte), then a tab. */
function put(text: string | null, at: number): number {
  if (text !== null) {
    const n = text.length;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const code = text.charCodeAt(i);
      if (code > 0x7f) {
        ascii = false;
        break;
      }
      scratch[at + i] = code;
    }
    at += ascii ? n : scratch.write(text, at, 'utf8');
  }
  scratch[at] = TAB;
  return at + 1;
}

function putFlag(flag: boolean | null, at: number): number {
  if (flag !== null) scratch[at++] = flag ? ONE : ZERO;
  scratch[at] = TAB;
  return at + 1;
}

/** Writes a member's canonical bytes into the shared scratch buffer; returns their length. */
function writeCanonical(row: MemberRow): number {
  const groups = row.groups.length === 0 ? null : row.groups.join(',');
  const longest =
    32 + 12 +
    3 * ((row.expires?.length ?? 0) + (row.blockedUntil?.length ?? 0) + (row.birthDate?.length ?? 0) + (groups?.length ?? 0) + (row.pinHash?.length ?? 0));
  if (longest > scratch.length) scratch = Buffer.alloc(longest * 2);
  row.cardHash.copy(scratch, 0, 0, 32);
  let at = 32;
  scratch[at++] = TAB;
  at = put(row.expires, at);
  at = putFlag(row.blocked, at);
  at = put(row.blockedUntil, at);
  at = putFlag(row.openAccess, at);
  at = put(row.birthDate, at);
  at = putFlag(row.adult, at);
  at = putFlag(row.staff, at);
  at = put(groups, at);
  return row.pinHash === null ? at : put(row.pinHash, at) - 1; // no tab after the last field
}

/** A member's canonical bytes (a copy). */
export function canonicalMemberBytes(row: MemberRow): Buffer {
  return Buffer.from(scratch.subarray(0, writeCanonical(row)));
}

/** A running 256-bit sum of row digests. */
export class ListHash {
  private readonly words = new Uint32Array(WORDS);

  static fromHex(hex: string): ListHash {
    const sum = new ListHash();
    if (/^[0-9a-f]{64}$/.test(hex)) {
      for (let i = 0; i < WORDS; i++) sum.words[i] = Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16);
    }
    return sum;
  }

  add(row: MemberRow): void {
    this.addDigest(digestOf(row), false);
  }

  subtract(row: MemberRow): void {
    this.addDigest(digestOf(row), true);
  }

  toHex(): string {
    let hex = '';
    for (let i = 0; i < WORDS; i++) hex += this.words[i]!.toString(16).padStart(8, '0');
    return hex;
  }

  /** Adds a digest, or its two's complement (that is, subtracts it). Word 0 is the most significant. */
  private addDigest(digest: Buffer, negate: boolean): void {
    let carry = negate ? 1 : 0;
    for (let i = WORDS - 1; i >= 0; i--) {
      let d = digest.readUInt32BE(i * 4);
      if (negate) d = ~d >>> 0;
      const sum = this.words[i]! + d + carry;
      this.words[i] = sum >>> 0;
      carry = sum > 0xffffffff ? 1 : 0;
    }
  }
}

function digestOf(row: MemberRow): Buffer {
  return hash('sha256', scratch.subarray(0, writeCanonical(row)), 'buffer') as unknown as Buffer;
}

export const EMPTY_LIST_HASH = new ListHash().toHex();
