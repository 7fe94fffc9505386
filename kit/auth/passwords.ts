// Passwords (branch console and central accounts): scrypt from node:crypto (no native module to build on a Pi). The stored string carries its
// own parameters, so they can be raised later without locking anyone out: `scrypt$ln=15,r=8,p=3$salt$hash`.
// N = 2^15, r = 8, p = 3 is one of OWASP's equivalent settings for scrypt, and needs 32 MB rather than the
// 128 MB of N = 2^17: a Pi 3 has little to spare. Hashing runs on libuv's thread pool, never on the event loop that
// serves the door.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** log2 of N, the CPU/memory cost. */
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 3 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const FORMAT = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r }, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, params);
  return `scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` matches `stored`; false (never a throw) for a string that is not one of our hashes. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = FORMAT.exec(stored);
  if (match === null) return false;
  const params: ScryptParams = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  if (params.ln < 10 || params.ln > 22 || params.r < 1 || params.p < 1) return false;
  const expected = Buffer.from(match[5]!, 'base64');
  const key = await derive(password, Buffer.from(match[4]!, 'base64'), params);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

let dummy: Promise<string> | undefined;

/**
 * Spends the same time as checking a real password, for a username that does not exist: the answer's timing does
 * not tell which usernames are accounts.
 */
export async function spendVerifyTime(password: string): Promise<void> {
  dummy ??= hashPassword('not a password anyone has');
  await verifyPassword(password, await dummy);
}
