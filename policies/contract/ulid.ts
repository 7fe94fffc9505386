// ULIDs for event ids: 48 bits of milliseconds then 80 random bits, Crockford base 32. Time is passed in (no clock
// reads in policies/); ids made in the same millisecond by `monotonicUlid` still sort in creation order.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

function encodeTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > 2 ** 48 - 1) throw new RangeError(`ULID time out of range: ${ms}`);
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 characters, 5 bits each.
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

export function ulid(ms: number, random: (n: number) => Uint8Array = randomBytes): string {
  return encodeTime(ms) + encodeRandom(random(10));
}

/** A generator whose ids strictly increase, even within one millisecond or if the clock steps back. */
export function monotonicUlid(random: (n: number) => Uint8Array = randomBytes): (ms: number) => string {
  let lastMs = -1;
  let lastRandom: Uint8Array = new Uint8Array(10);
  return (ms: number) => {
    if (ms > lastMs) {
      lastMs = ms;
      lastRandom = random(10);
    } else {
      // Same (or earlier) millisecond: keep the last time and add one to the random part.
      for (let i = 9; i >= 0; i--) {
        const next = (lastRandom[i]! + 1) & 0xff;
        lastRandom[i] = next;
        if (next !== 0) break;
      }
    }
    return encodeTime(lastMs) + encodeRandom(lastRandom);
  };
}

/** The millisecond a ULID was made. */
export function ulidTime(id: string): number {
  let ms = 0;
  for (const ch of id.slice(0, 10)) ms = ms * 32 + ALPHABET.indexOf(ch);
  return ms;
}
