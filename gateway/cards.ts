// Card numbers and UIDs become a keyed hash at the edge; nothing past this module ever holds the clear number.
//
// The hasher is RFC 2104 HMAC-SHA256 (tests check it against node:crypto's createHmac on thousands of inputs),
// computed here rather than with createHmac because it runs on every tap and for every row of a member import
// (a million rows, where Node's per-call Hmac object, key copy and four native calls cost over 2 µs a row). A card
// id is at most 32 bytes, so after the key's pad blocks, which are compressed once, each HMAC is exactly two
// SHA-256 block compressions into preallocated state: about 1 µs, and nothing allocated but the 32-byte digest.
import { hash } from 'node:crypto';

export type CardIdProblem = 'empty' | 'bad-characters' | 'too-short' | 'too-long';

const PROBLEM_TEXT: Record<CardIdProblem, string> = {
  empty: 'card number is empty',
  'bad-characters': 'card number has characters other than letters and digits',
  'too-short': `card number is shorter than ${4} characters`,
  'too-long': `card number is longer than ${32} characters`,
};

/** A card number or UID that cannot be used. The message names the problem and never contains the number. */
export class CardIdError extends Error {
  constructor(readonly problem: CardIdProblem) {
    super(PROBLEM_TEXT[problem]);
    this.name = 'CardIdError';
  }
}

export const CARD_ID_MIN_LENGTH = 4;
export const CARD_ID_MAX_LENGTH = 32;
const SEPARATORS = /[\s:-]+/g;
const NORMALISED = /^[0-9A-Z]{4,32}$/;
const ALPHANUMERIC = /^[0-9A-Za-z]*$/;

/**
 * The one spelling of a card id that gets hashed: separators (spaces, colons, dashes) dropped, upper case.
 * `04:a2:1b:7c` and `04A21B7C` are the same card; so are `2112 3400 0123` and `211234000123`.
 */
export function normaliseCardId(raw: string): string {
  const compact = raw.replace(SEPARATORS, '');
  if (compact.length === 0) throw new CardIdError('empty');
  if (!ALPHANUMERIC.test(compact)) throw new CardIdError('bad-characters');
  if (compact.length < CARD_ID_MIN_LENGTH) throw new CardIdError('too-short');
  if (compact.length > CARD_ID_MAX_LENGTH) throw new CardIdError('too-long');
  return compact.toUpperCase();
}

export const DEPLOYMENT_KEY_MIN_BYTES = 32;
const BLOCK = 64;

// SHA-256 (FIPS 180-4) round constants and initial state.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const W = new Int32Array(64);

/** One SHA-256 block compression of the 64 bytes `block` into `state`. */
function compress(state: Int32Array, block: Uint8Array): void {
  for (let i = 0; i < 16; i++) {
    const j = i * 4;
    W[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** Pads `block` as the final block of a message of `totalBytes` bytes whose last `used` bytes are already in it. */
function padFinal(block: Uint8Array, used: number, totalBytes: number): void {
  block[used] = 0x80;
  block.fill(0, used + 1, 60);
  const bits = totalBytes * 8; // < 2^32 here: the length field's upper four bytes stay zero
  block[60] = bits >>> 24;
  block[61] = bits >>> 16;
  block[62] = bits >>> 8;
  block[63] = bits;
}

/**
 * HMAC-SHA256 of a normalised card id with the deployment key: 32 bytes, the member table's key.
 * Only normalised ids are accepted, so that a forgotten normalisation fails loudly instead of missing every member.
 */
export function createCardHasher(deploymentKey: Buffer): (normalisedId: string) => Buffer {
  if (deploymentKey.length < DEPLOYMENT_KEY_MIN_BYTES) {
    throw new RangeError(`the deployment key must be at least ${DEPLOYMENT_KEY_MIN_BYTES} bytes`);
  }
  const key = deploymentKey.length > BLOCK ? hash('sha256', deploymentKey, 'buffer') : deploymentKey;
  const pad = new Uint8Array(BLOCK);
  const innerStart = IV.slice();
  const outerStart = IV.slice();
  for (let i = 0; i < BLOCK; i++) pad[i] = (key[i] ?? 0) ^ 0x36;
  compress(innerStart, pad);
  for (let i = 0; i < BLOCK; i++) pad[i] = (key[i] ?? 0) ^ 0x5c;
  compress(outerStart, pad);
  pad.fill(0);

  const state = new Int32Array(8);
  const block = new Uint8Array(BLOCK);
  return (normalisedId: string): Buffer => {
    if (!NORMALISED.test(normalisedId)) throw new TypeError('createCardHasher: expects a card id from normaliseCardId');
    // inner = SHA-256((K ^ ipad) || id): the id (ASCII, at most 32 bytes) and its padding fill one block.
    const n = normalisedId.length;
    for (let i = 0; i < n; i++) block[i] = normalisedId.charCodeAt(i);
    padFinal(block, n, BLOCK + n);
    state.set(innerStart);
    compress(state, block);
    // outer = SHA-256((K ^ opad) || inner): the 32-byte inner digest and its padding fill one block.
    for (let i = 0; i < 8; i++) {
      const v = state[i]!;
      block[i * 4] = v >>> 24;
      block[i * 4 + 1] = v >>> 16;
      block[i * 4 + 2] = v >>> 8;
      block[i * 4 + 3] = v;
    }
    padFinal(block, 32, BLOCK + 32);
    state.set(outerStart);
    compress(state, block);
    const digest = Buffer.allocUnsafe(32);
    for (let i = 0; i < 8; i++) digest.writeInt32BE(state[i]!, i * 4);
    return digest;
  };
}

/** What logs, events and the staff console show for a card: the first 8 hex characters of its hash. */
export function pseudonym(cardHash: Buffer): string {
  return cardHash.toString('hex', 0, 4);
}
