// SHA-256 (FIPS 180-4) over bytes already in memory, for the full import's million card hashes and digests.
//
// Why not node:crypto: its one-shot hash() costs ~1 µs a call on Node 20 whatever the input (the digest is looked up
// and a context made each time), against ~0.06 µs a 64-byte block of actual hashing. A row costs three calls (the
// HMAC's two, the member's digest): ~3 s of a million-row import in call overhead alone. Here a call costs its
// blocks (~0.5 µs each), and a prefix hashed once (an HMAC key's pad) is started from rather than hashed again, so an
// HMAC is two blocks, not four. The rounds are additions, shifts and bitwise operations, with no branch or table
// look-up on the data (the key's pads, a card number), so their time does not depend on it.
// The tap's own hash stays node:crypto's (policies/cards.ts); tests hold this one equal to it.

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const BLOCK = 64;

const schedule = new Int32Array(64);

/** One block of `bytes` at `at` into `state`. */
function compress(state: Int32Array, bytes: Uint8Array, at: number): void {
  const w = schedule;
  for (let i = 0; i < 16; i++, at += 4) w[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
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
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
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

/**
 * SHA-256 of a fixed prefix (whole blocks, hashed once here) followed by each message given to `hashInto`. With no
 * prefix it is plain SHA-256.
 */
export class Sha256 {
  private readonly start = Int32Array.from(IV);
  private readonly prefixBytes: number;
  private readonly state = new Int32Array(8);
  /** The message's last block or two, padded. */
  private readonly tail = new Uint8Array(2 * BLOCK);

  constructor(prefix: Uint8Array = new Uint8Array(0)) {
    if (prefix.length % BLOCK !== 0) throw new RangeError('a SHA-256 prefix must be whole 64-byte blocks');
    for (let at = 0; at < prefix.length; at += BLOCK) compress(this.start, prefix, at);
    this.prefixBytes = prefix.length;
  }

  /** Writes SHA-256(prefix ‖ bytes[from, to)) at out[outAt…outAt+32). */
  hashInto(bytes: Uint8Array, from: number, to: number, out: Uint8Array, outAt: number): void {
    const state = this.state;
    state.set(this.start);
    let at = from;
    for (; to - at >= BLOCK; at += BLOCK) compress(state, bytes, at);
    const rest = to - at;
    const tail = this.tail;
    tail.set(bytes.subarray(at, to));
    tail[rest] = 0x80;
    const padded = rest + 9 <= BLOCK ? BLOCK : 2 * BLOCK;
    tail.fill(0, rest + 1, padded - 8);
    const bits = (this.prefixBytes + to - from) * 8;
    const high = Math.floor(bits / 2 ** 32);
    tail[padded - 8] = high >>> 24;
    tail[padded - 7] = high >>> 16;
    tail[padded - 6] = high >>> 8;
    tail[padded - 5] = high;
    tail[padded - 4] = bits >>> 24;
    tail[padded - 3] = bits >>> 16;
    tail[padded - 2] = bits >>> 8;
    tail[padded - 1] = bits;
    compress(state, tail, 0);
    if (padded > BLOCK) compress(state, tail, BLOCK);
    for (let i = 0; i < 8; i++) {
      const word = state[i]!;
      out[outAt++] = word >>> 24;
      out[outAt++] = word >>> 16;
      out[outAt++] = word >>> 8;
      out[outAt++] = word;
    }
  }
}
