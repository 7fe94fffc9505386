// MQTT credentials in Mosquitto's password-file format, so one file serves central's embedded broker and Mosquitto:
// `user:$7$<iterations>$<base64 salt>$<base64 hash>`, PBKDF2-HMAC-SHA512 over the password's bytes with a 64-byte
// hash, as `mosquitto_passwd` of Mosquitto 2.x writes it. The old `$6$` (one round of SHA-512) and clear-text lines
// are refused: a copied file would give the passwords away at once.
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readTextFile } from '../kit/read-bounded.js';
import { MAX_CONFIG_BYTES } from '../policies/input-text.js';

/**
 * Mosquitto's own default is 101, which costs nothing to guess against. A generated password (`--generate`, 256
 * random bits) needs no stretching; a typed one gets 100 times Mosquitto's: about 5 ms a check on a server core,
 * which both brokers pay on every connect.
 */
export const DEFAULT_ITERATIONS = 10_000;
/** A file whose count would make every connect take seconds is refused rather than obeyed. */
const MAX_ITERATIONS = 1_000_000;
const SALT_BYTES = 12;
const HASH_BYTES = 64;
/** A typed password shorter than this is refused by `oag central mqtt-passwd` (`--generate` makes a long one). */
export const MIN_TYPED_PASSWORD_LENGTH = 12;
/** A password file of a few thousand sites is ~150 bytes a line. */
const MAX_PASSWORD_FILE_BYTES = MAX_CONFIG_BYTES * 4;

const BASE64 = '[A-Za-z0-9+/]+={0,2}';
const PBKDF2_LINE = new RegExp(`^\\$7\\$(\\d{1,7})\\$(${BASE64})\\$(${BASE64})$`);

export interface PasswordEntry {
  iterations: number;
  salt: Buffer;
  hash: Buffer;
}

export type PasswordFile = ReadonlyMap<string, PasswordEntry>;
export type PasswordFileResult = { ok: true; users: PasswordFile } | { ok: false; error: string };

/** `null` when `username` can be a line's user in both brokers; else what is wrong with it. */
export function usernameProblem(username: string): string | null {
  if (username === '') return 'is empty';
  if (username.length > 256) return 'is longer than 256 characters';
  // ':' ends the user in the file; spaces and control characters are trimmed or split by Mosquitto's reader.
  if (/[:\s\p{Cc}]/u.test(username)) return 'may not hold ":", spaces or control characters';
  return null;
}

function entryProblem(hashed: string): string | PasswordEntry {
  if (hashed.startsWith('$6$')) return 'uses the old $6$ hash (one round of SHA-512): make it again with oag central mqtt-passwd';
  const m = PBKDF2_LINE.exec(hashed);
  if (m === null) return 'is not a $7$ (PBKDF2-SHA512) hash: make it with oag central mqtt-passwd or mosquitto_passwd';
  const iterations = Number(m[1]);
  if (iterations < 1 || iterations > MAX_ITERATIONS) return `has ${iterations} iterations (1 to ${MAX_ITERATIONS.toLocaleString('en-GB')})`;
  const hash = Buffer.from(m[3]!, 'base64');
  if (hash.length !== HASH_BYTES) return `has a ${hash.length}-byte hash (PBKDF2-SHA512 gives ${HASH_BYTES})`;
  return { iterations, salt: Buffer.from(m[2]!, 'base64'), hash };
}

/** The file's text → user → entry. Blank lines and `#` comments are skipped, as Mosquitto does; `what` names the file. */
export function parsePasswordFile(text: string, what: string): PasswordFileResult {
  const users = new Map<string, PasswordEntry>();
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const where = `${what}:${i + 1}`;
    const colon = line.indexOf(':');
    if (colon < 0) return { ok: false, error: `${where}: not a "user:hash" line` };
    const user = line.slice(0, colon);
    const badUser = usernameProblem(user);
    if (badUser !== null) return { ok: false, error: `${where}: the username ${badUser}` };
    const entry = entryProblem(line.slice(colon + 1));
    if (typeof entry === 'string') return { ok: false, error: `${where}: the password of ${user} ${entry}` };
    if (users.has(user)) return { ok: false, error: `${where}: ${user} is in the file twice` };
    users.set(user, entry);
  }
  return { ok: true, users };
}

/** Reads and parses a password file (bounded, strict UTF-8); the error names the file and the line. */
export function readPasswordFile(path: string): PasswordFileResult {
  const text = readTextFile(path, { what: path, maxBytes: MAX_PASSWORD_FILE_BYTES });
  return text.ok ? parsePasswordFile(text.text, path) : text;
}

function derive(password: Uint8Array, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // On libuv's thread pool: a connect storm never holds the event loop.
    pbkdf2(password, salt, iterations, HASH_BYTES, 'sha512', (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Whether `password` (the bytes the client sent) matches `entry`; compared in constant time. */
export async function verifyPassword(entry: PasswordEntry, password: Uint8Array): Promise<boolean> {
  const key = await derive(password, entry.salt, entry.iterations);
  return timingSafeEqual(key, entry.hash);
}

/** A `$7$` hash of `password` with a fresh salt, as it stands after `user:` in the file. */
export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(Buffer.from(password, 'utf8'), salt, iterations);
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** A password for a site to keep in its gateway's `mqtt.passwordFile`: 256 random bits, base64url. */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Adds `username` to the file at `path` (made if missing), or replaces its password; the other lines stay as they
 * were. Written to a temporary file beside it and renamed, mode 0600, so a broker never reads half a file.
 * Returns whether the user was already there; throws PasswordFileError when the existing file cannot be read.
 */
export async function setPassword(path: string, username: string, password: string, iterations = DEFAULT_ITERATIONS): Promise<{ replaced: boolean }> {
  const badUser = usernameProblem(username);
  if (badUser !== null) throw new PasswordFileError(`username "${username}" ${badUser}`);
  let lines: string[] = [];
  if (existsSync(path)) {
    const text = readTextFile(path, { what: path, maxBytes: MAX_PASSWORD_FILE_BYTES });
    if (!text.ok) throw new PasswordFileError(text.error);
    const parsed = parsePasswordFile(text.text, path);
    if (!parsed.ok) throw new PasswordFileError(parsed.error);
    lines = text.text.split('\n').filter((l) => l.trim() !== '');
  }
  const line = `${username}:${await hashPassword(password, iterations)}`;
  const at = lines.findIndex((l) => l.startsWith(`${username}:`));
  if (at >= 0) lines[at] = line;
  else lines.push(line);
  const temp = join(dirname(path), `.${Date.now()}-${process.pid}.mqtt-passwd.tmp`);
  writeFileSync(temp, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
  return { replaced: at >= 0 };
}

/** A new file holding exactly `users` (username → password): for the bench and the demo, which make many at once. */
export async function writePasswordFile(path: string, users: Readonly<Record<string, string>>, iterations = DEFAULT_ITERATIONS): Promise<void> {
  const lines = await Promise.all(
    Object.entries(users).map(async ([username, password]) => {
      const badUser = usernameProblem(username);
      if (badUser !== null) throw new PasswordFileError(`username "${username}" ${badUser}`);
      return `${username}:${await hashPassword(password, iterations)}`;
    }),
  );
  writeFileSync(path, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
}

/** A password file that cannot be used: the message names the file, the line and what is wrong. */
export class PasswordFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PasswordFileError';
  }
}
