// Event ids: ULID (26 characters of Crockford base32: 48-bit milliseconds, then 80 random bits). They sort by
// creation time, so the outbox is read in order with a primary-key scan, and central de-duplicates on them.
// Within one millisecond, or if the clock steps back, the random part counts up from the last id instead of being
// drawn again, so ids stay strictly increasing for the life of the database (the store seeds the generator with
// its newest id on open).
import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_LEN = 10;
const RANDOM_LEN = 16;
const MAX_TIME = 2 ** 48 - 1;
const DECODE = new Map([...ALPHABET].map((c, i) => [c, i]));
export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export type IdGenerator = (nowMs: number) => string;

export function createIdGenerator(lastId?: string): IdGenerator {
  let lastMs = -1;
  const random = new Uint8Array(RANDOM_LEN); // one base32 digit (0..31) per element
  if (lastId !== undefined && ULID_PATTERN.test(lastId)) {
    lastMs = decodeTime(lastId);
    for (let i = 0; i < RANDOM_LEN; i++) random[i] = DECODE.get(lastId[TIME_LEN + i]!)!;
  }
  const pool = Buffer.alloc(RANDOM_LEN * 64);
  let poolAt = pool.length;

  function draw(): void {
    if (poolAt === pool.length) {
      randomFillSync(pool);
      poolAt = 0;
    }
    for (let i = 0; i < RANDOM_LEN; i++) random[i] = pool[poolAt++]! & 31;
    // Leave headroom so counting up within a millisecond cannot overflow the random part.
    random[0] = random[0]! & 15;
  }

  function increment(): boolean {
    for (let i = RANDOM_LEN - 1; i >= 0; i--) {
      if (random[i]! < 31) {
        random[i] = random[i]! + 1;
        return true;
      }
      random[i] = 0;
    }
    return false;
  }

  return (nowMs: number): string => {
    let ms = Math.max(0, Math.min(MAX_TIME, Math.floor(nowMs)));
    if (ms > lastMs) {
      draw();
    } else {
      ms = lastMs;
      if (!increment()) {
        ms = lastMs + 1;
        draw();
      }
    }
    lastMs = ms;
    let text = '';
    for (let i = TIME_LEN - 1; i >= 0; i--) text += ALPHABET[Math.floor(ms / 32 ** i) % 32];
    for (let i = 0; i < RANDOM_LEN; i++) text += ALPHABET[random[i]!];
    return text;
  };
}

/** The millisecond timestamp inside an id. */
export function decodeTime(id: string): number {
  let ms = 0;
  for (let i = 0; i < TIME_LEN; i++) ms = ms * 32 + (DECODE.get(id[i]!) ?? 0);
  return ms;
}
