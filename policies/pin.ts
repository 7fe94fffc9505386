// PIN hashing for card + PIN entry. Format: `scrypt$<log2 N>$<r>$<p>$<salt b64>$<key b64>`, so the cost can be
// raised later without invalidating stored hashes.
//
// Why the cost is modest (N = 2^10, r = 8: about 2 ms on a desktop core, 5–10 ms on a Pi 4): a PIN has 10^4 to
// 10^8 values, so no hash cost makes a stolen hash safe against an offline search (10^4 guesses × 30 ms is five
// minutes). What protects a PIN is the lockout at the door (rules.pinMaxAttempts / pinLockoutSeconds), per-member
// salts and hashes that stay inside the member store. The check runs on the tap→door path, so it must stay in the
// low milliseconds; the salt still defeats precomputed tables across members and branches.
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const LOG_N = 10;
const R = 8;
const P = 1;
const KEY_LEN = 32;
const SALT_LEN = 16;
/** Highest cost accepted from a stored hash, so a hostile hash cannot stall the door. */
const MAX_LOG_N = 16;

export const PIN_PATTERN = /^\d{4,8}$/;

/** The cost new hashes are made with. */
const COST = { N: 2 ** LOG_N, r: R, p: P };

function formatHash(salt: Buffer, key: Buffer): string {
  return `scrypt$${LOG_N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Hash a PIN (4 to 8 digits) with a random salt, or the given one (tests, fixed fixtures). */
export function hashPin(pin: string, salt?: Buffer | string): string {
  if (!PIN_PATTERN.test(pin)) throw new RangeError('a PIN is 4 to 8 digits');
  const saltBuf = salt === undefined ? randomBytes(SALT_LEN) : Buffer.from(salt);
  return formatHash(saltBuf, scryptSync(pin, saltBuf, KEY_LEN, COST));
}

interface ParsedHash {
  salt: Buffer;
  expected: Buffer;
  options: { N: number; r: number; p: number; maxmem: number };
}

/** A stored hash's parts, or undefined for a malformed one or a cost past what the door accepts. */
function parseHash(hash: string): ParsedHash | undefined {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const logN = Number(parts[1]);
  const r = Number(parts[2]);
  const p = Number(parts[3]);
  if (![logN, r, p].every(Number.isInteger) || logN < 1 || logN > MAX_LOG_N || r < 1 || r > 32 || p < 1 || p > 4) {
    return undefined;
  }
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const expected = Buffer.from(parts[5] ?? '', 'base64');
  if (salt.length === 0 || expected.length < 16) return undefined;
  return { salt, expected, options: { N: 2 ** logN, r, p, maxmem: 256 * 1024 * 1024 } };
}

/** Whether a door can check PINs against `hash`: well formed, at a cost it accepts (a hash made elsewhere is checked). */
export function isUsablePinHash(hash: string): boolean {
  return parseHash(hash) !== undefined;
}

/** Whether `pin` matches `hash`; false (never a throw) for a malformed hash. Constant-time comparison. */
export function verifyPin(hash: string, pin: string): boolean {
  const parsed = parseHash(hash);
  if (parsed === undefined) return false;
  return timingSafeEqual(scryptSync(pin, parsed.salt, parsed.expected.length, parsed.options), parsed.expected);
}

/**
 * `verifyPin` on libuv's thread pool, so the door's event loop goes on deciding other taps while scrypt runs.
 * Resolves false (never rejects) for a malformed hash.
 */
export function verifyPinAsync(hash: string, pin: string): Promise<boolean> {
  const parsed = parseHash(hash);
  if (parsed === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    scrypt(pin, parsed.salt, parsed.expected.length, parsed.options, (error, actual) => {
      resolve(error === null && timingSafeEqual(actual, parsed.expected));
    });
  });
}

/** `hashPin` on the thread pool, for services that hash a PIN set through their API. */
export function hashPinAsync(pin: string): Promise<string> {
  if (!PIN_PATTERN.test(pin)) return Promise.reject(new RangeError('a PIN is 4 to 8 digits'));
  const salt = randomBytes(SALT_LEN);
  return new Promise((resolve, reject) => {
    scrypt(pin, salt, KEY_LEN, COST, (error, key) => {
      if (error !== null) reject(error);
      else resolve(formatHash(salt, key));
    });
  });
}
