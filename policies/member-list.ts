// The member list as both ends see it: one implementation of its fingerprint and of its wire form, shared by
// central (which builds versions from the LMS export) and the gateway (which checks and applies them).
//
// The list hash is the sum, modulo 2^256, of SHA-256 over each member's canonical bytes. A sum does not depend on
// row order, so a list can be hashed while it streams in, and a delta (add, change, remove one member) updates it
// without reading the other million rows. It guards against a lost or corrupted update, not a forger: the channel
// authenticates the sender.
//
// A member's canonical bytes: the 32 bytes of card_hash, then for each of these fields in order a tab and the
// field's UTF-8 (null as nothing, booleans as 0/1, groups as the comma list):
//   expires blocked blocked_until open_access birth_date adult staff groups pin_hash
//
// On the wire (docs/members.md) a member is one string: the card hash in base64url (43 characters) followed by
// exactly those tab-separated fields, so the canonical bytes are the decoded hash and the rest of the string as it
// came. A removal in a delta is the 43 characters alone. Nothing else about a member ever leaves central.
import { hash } from 'node:crypto';
import { GROUP_PATTERN, parseDate } from './member-fields.js';
import type { Member } from './types.js';

/** A member as the lists hold it: the keyed hash of the card, and the fields a decision needs. */
export type MemberRecord = { cardHash: Buffer } & Member;

const WORDS = 8;
const TAB = 9;
const ZERO = 48;
const ONE = 49;
let scratch = Buffer.alloc(1024);

function ensureScratch(bytes: number): void {
  if (bytes > scratch.length) scratch = Buffer.alloc(bytes * 2);
}

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
function writeCanonical(row: MemberRecord): number {
  const groups = row.groups.length === 0 ? null : row.groups.join(',');
  ensureScratch(
    32 + 12 + 3 * ((row.expires?.length ?? 0) + (row.blockedUntil?.length ?? 0) + (row.birthDate?.length ?? 0) + (groups?.length ?? 0) + (row.pinHash?.length ?? 0)),
  );
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
export function canonicalMemberBytes(row: MemberRecord): Buffer {
  return Buffer.from(scratch.subarray(0, writeCanonical(row)));
}

/** SHA-256 of a member's canonical bytes: what the list hash adds up. */
export function memberDigest(row: MemberRecord): Buffer {
  return hash('sha256', scratch.subarray(0, writeCanonical(row)), 'buffer') as unknown as Buffer;
}

/** The canonical bytes after the card hash, as text: `\t{expires}\t{blocked}…\t{pin_hash}`. Central stores this. */
export function memberFieldsText(row: MemberRecord): string {
  const len = writeCanonical(row);
  return scratch.toString('utf8', 32, len);
}

/** SHA-256 of `cardHash ‖ UTF-8(fieldsText)`: a member's digest from its stored or wire form. */
export function digestOfParts(cardHash: Buffer, fieldsText: string): Buffer {
  ensureScratch(32 + 3 * fieldsText.length);
  cardHash.copy(scratch, 0, 0, 32);
  const n = scratch.write(fieldsText, 32, 'utf8');
  return hash('sha256', scratch.subarray(0, 32 + n), 'buffer') as unknown as Buffer;
}

/** A running 256-bit sum of member digests. */
export class ListHash {
  private readonly words = new Uint32Array(WORDS);

  static fromHex(hex: string): ListHash {
    const sum = new ListHash();
    if (/^[0-9a-f]{64}$/.test(hex)) {
      for (let i = 0; i < WORDS; i++) sum.words[i] = Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16);
    }
    return sum;
  }

  add(row: MemberRecord): void {
    this.addDigest(memberDigest(row));
  }

  subtract(row: MemberRecord): void {
    this.subtractDigest(memberDigest(row));
  }

  addDigest(digest: Uint8Array, at = 0): void {
    this.addWords(digest, at, false);
  }

  subtractDigest(digest: Uint8Array): void {
    this.addWords(digest, 0, true);
  }

  /** Adds another sum (the sums of disjoint parts add up to the sum of the whole). */
  addSum(other: ListHash): void {
    this.addWords(Buffer.from(other.toHex(), 'hex'), 0, false);
  }

  /** The sum's 32 bytes, as toHex reads, at out[at…]. */
  writeInto(out: Uint8Array, at: number): void {
    for (let i = 0; i < WORDS; i++, at += 4) {
      const word = this.words[i]!;
      out[at] = word >>> 24;
      out[at + 1] = word >>> 16;
      out[at + 2] = word >>> 8;
      out[at + 3] = word;
    }
  }

  toHex(): string {
    let hex = '';
    for (let i = 0; i < WORDS; i++) hex += this.words[i]!.toString(16).padStart(8, '0');
    return hex;
  }

  /** Adds the 32 bytes at digest[at…], or their two's complement (that is, subtracts them). Word 0 is the most significant. */
  private addWords(digest: Uint8Array, at: number, negate: boolean): void {
    let carry = negate ? 1 : 0;
    for (let i = WORDS - 1; i >= 0; i--) {
      const j = at + i * 4;
      let d = ((digest[j]! << 24) | (digest[j + 1]! << 16) | (digest[j + 2]! << 8) | digest[j + 3]!) >>> 0;
      if (negate) d = ~d >>> 0;
      const sum = this.words[i]! + d + carry;
      this.words[i] = sum >>> 0;
      carry = sum > 0xffffffff ? 1 : 0;
    }
  }
}

export const EMPTY_LIST_HASH = new ListHash().toHex();

// ---- the wire form ----

export const CARD_HASH_TEXT_LENGTH = 43;
const BASE64URL = /^[A-Za-z0-9_-]{43}$/;
const MAX_PIN_HASH = 256;

export function encodeCardHash(cardHash: Buffer): string {
  return cardHash.toString('base64url');
}

export function decodeCardHash(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // 43 characters carry 258 bits: the last two must be zero, or two spellings would name one card.
  return bytes.length === 32 && bytes.toString('base64url') === text ? bytes : undefined;
}

/** A member on the wire: `{card hash base64url}\t{expires}\t…\t{pin_hash}`. */
export function encodeMemberEntry(row: MemberRecord): string {
  return encodeCardHash(row.cardHash) + memberFieldsText(row);
}

/** A removal in a delta: the card hash alone. */
export function encodeRemovalEntry(cardHash: Buffer): string {
  return encodeCardHash(cardHash);
}

export type DecodedEntry =
  | { kind: 'member'; row: MemberRecord; fields: string; digest: Buffer }
  | { kind: 'removal'; cardHash: Buffer };

function isoDay(text: string): boolean {
  return text.length === 10 && parseDate(text) === text;
}

function day(text: string, name: string): string | null {
  if (text === '') return null;
  if (!isoDay(text)) throw new Error(`${name}: not a YYYY-MM-DD day`);
  return text;
}

function bit(text: string, name: string): boolean {
  if (text === '1') return true;
  if (text === '0') return false;
  throw new Error(`${name}: must be 0 or 1`);
}

const NO_GROUPS: readonly string[] = Object.freeze([]);

/**
 * The member fields of a wire entry or a stored row (`\t…` after the card hash). Strict: only the canonical
 * spelling is accepted, so that the bytes hashed are exactly the bytes that will be stored and hashed again.
 */
export function parseMemberFields(fields: string): Member {
  const parts = fields.split('\t');
  if (parts.length !== 10 || parts[0] !== '') throw new Error(`has ${parts.length - 1} fields where a member has 9`);
  const [, expires, blocked, blockedUntil, openAccess, birthDate, adult, staff, groups, pinHash] = parts as [string, string, string, string, string, string, string, string, string, string];
  let groupList: readonly string[] = NO_GROUPS;
  if (groups !== '') {
    const list = groups.split(',');
    for (const g of list) if (!GROUP_PATTERN.test(g)) throw new Error('groups: not a comma list of group names');
    groupList = list;
  }
  if (pinHash.length > MAX_PIN_HASH || /[\n\r]/.test(pinHash)) throw new Error('pin_hash: not a PIN hash');
  return {
    expires: day(expires, 'expires'),
    blocked: bit(blocked, 'blocked'),
    blockedUntil: day(blockedUntil, 'blocked_until'),
    openAccess: bit(openAccess, 'open_access'),
    birthDate: day(birthDate, 'birth_date'),
    adult: adult === '' ? null : bit(adult, 'adult'),
    staff: bit(staff, 'staff'),
    groups: groupList,
    pinHash: pinHash === '' ? null : pinHash,
  };
}

/** One wire entry → a member with its digest, or a removal; throws with the reason when it is not valid. */
export function decodeMemberEntry(entry: string): DecodedEntry {
  const cardHash = decodeCardHash(entry.slice(0, CARD_HASH_TEXT_LENGTH));
  if (cardHash === undefined) throw new Error('card hash: not 32 bytes in base64url');
  if (entry.length === CARD_HASH_TEXT_LENGTH) return { kind: 'removal', cardHash };
  const fields = entry.slice(CARD_HASH_TEXT_LENGTH);
  const member = parseMemberFields(fields);
  return { kind: 'member', row: { cardHash, ...member }, fields, digest: digestOfParts(cardHash, fields) };
}

/** SHA-256 (hex) over a chunk's entries joined by newlines: a chunk damaged or cut short on the way is refused. */
export function chunkHash(entries: readonly string[]): string {
  return hash('sha256', entries.join('\n'), 'hex');
}

// ---- snapshot chunks ----
// A snapshot of `count` members is cut into `total` chunks by the first four bytes of the card hash. HMAC output
// is uniform, so each chunk holds about count/total members, and which chunk a card falls in depends only on its
// hash and `total`: a chunk can be made again later, and still be served after a change elsewhere in the list.

const SPACE = 2 ** 32;

export function snapshotChunkCount(count: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(count / chunkSize));
}

export function chunkOfCard(cardHash: Buffer, total: number): number {
  return Math.floor((cardHash.readUInt32BE(0) * total) / SPACE);
}

/** The card hashes of chunk `index`: `from` ≤ hash < `to` (memcmp order); `to` null for the last chunk. */
export function chunkRange(index: number, total: number): { from: Buffer; to: Buffer | null } {
  const bound = (i: number): Buffer | null => {
    if (i >= total) return null;
    const value = Number(((BigInt(i) << 32n) + BigInt(total) - 1n) / BigInt(total));
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    return b;
  };
  return { from: bound(index) ?? Buffer.alloc(4), to: bound(index + 1) };
}
