// Card numbers and the deployment key, shared by the gateway (taps, local imports) and central (the LMS import):
// both must turn the same card into the same 32 bytes, or no branch would find its members. Pure computation:
// node:crypto's SHA-256 for a tap's HMAC, the same HMAC over ./sha256.ts for a full import's million cards.
import { createHmac, hash } from 'node:crypto';
import { Sha256 } from './sha256.js';

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

const HMAC_BLOCK = 64;

/**
 * HMAC-SHA256 of a normalised card id with the deployment key: 32 bytes, the member table's key.
 * Only normalised ids are accepted, so that a forgotten normalisation fails loudly instead of missing every member.
 * RFC 2104 written out over two one-shot SHA-256 calls with the key's pads made once: ~2 µs a card here against
 * ~3.5 µs for a createHmac object per card. A full import hashes its million cards with createCardHashWriter.
 */
export function createCardHasher(deploymentKey: Buffer): (normalisedId: string) => Buffer {
  const pads = hmacPads(deploymentKey);
  const inner = Buffer.alloc(HMAC_BLOCK + CARD_ID_MAX_LENGTH);
  const outer = Buffer.alloc(HMAC_BLOCK + 32);
  pads.inner.copy(inner);
  pads.outer.copy(outer);
  const hasher = (normalisedId: string): Buffer => {
    if (!NORMALISED.test(normalisedId)) throw new TypeError('createCardHasher: expects a card id from normaliseCardId');
    const n = inner.write(normalisedId, HMAC_BLOCK, 'latin1');
    (hash('sha256', inner.subarray(0, HMAC_BLOCK + n), 'buffer') as unknown as Buffer).copy(outer, HMAC_BLOCK);
    return hash('sha256', outer, 'buffer') as unknown as Buffer;
  };
  hasherKeys.set(hasher, Buffer.from(deploymentKey));
  return hasher;
}

/** The key's two HMAC pads (RFC 2104), a block each; the key's length checked. */
function hmacPads(deploymentKey: Buffer): { inner: Buffer; outer: Buffer } {
  if (deploymentKey.length < DEPLOYMENT_KEY_MIN_BYTES) {
    throw new RangeError(`the deployment key must be at least ${DEPLOYMENT_KEY_MIN_BYTES} bytes`);
  }
  const key = deploymentKey.length > HMAC_BLOCK ? (hash('sha256', deploymentKey, 'buffer') as unknown as Buffer) : deploymentKey;
  const inner = Buffer.alloc(HMAC_BLOCK);
  const outer = Buffer.alloc(HMAC_BLOCK);
  for (let i = 0; i < HMAC_BLOCK; i++) {
    inner[i] = (key[i] ?? 0) ^ 0x36;
    outer[i] = (key[i] ?? 0) ^ 0x5c;
  }
  return { inner, outer };
}

/** A card id's bytes as normaliseCardId spells it: 4 to 32 of `0-9A-Z`. */
function isNormalisedBytes(bytes: Uint8Array, from: number, to: number): boolean {
  if (to - from < CARD_ID_MIN_LENGTH || to - from > CARD_ID_MAX_LENGTH) return false;
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    if (!((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a))) return false;
  }
  return true;
}

/**
 * createCardHasher's HMAC over a normalised card id already in memory as bytes (bytes[from, to)), written at
 * out[outAt…outAt+32): the full import's form, a million of them without a call into node:crypto each
 * (policies/sha256.ts says why). Equal to createCardHasher's, which the tap uses.
 */
export function createCardHashWriter(deploymentKey: Buffer): (bytes: Uint8Array, from: number, to: number, out: Uint8Array, outAt: number) => void {
  const pads = hmacPads(deploymentKey);
  const inner = new Sha256(pads.inner);
  const outer = new Sha256(pads.outer);
  const innerHash = new Uint8Array(32);
  return (bytes, from, to, out, outAt) => {
    if (!isNormalisedBytes(bytes, from, to)) throw new TypeError('createCardHashWriter: expects a card id from normaliseCardId');
    inner.hashInto(bytes, from, to, innerHash, 0);
    outer.hashInto(innerHash, 0, 32, out, outAt);
  };
}

const hasherKeys = new WeakMap<(normalisedId: string) => Buffer, Buffer>();

/**
 * The key a hasher from createCardHasher was made with, for a worker thread of this process to make the same
 * hasher (a full import hashes there); undefined for any other function.
 */
export function cardHasherKey(hasher: (normalisedId: string) => Buffer): Buffer | undefined {
  return hasherKeys.get(hasher);
}

/**
 * Names a deployment key without revealing it: the first 8 bytes of HMAC(key, "oag key id"), as 16 hex characters.
 * Every member-list message carries it, so a branch refuses a list whose card hashes were made with another key
 * (it would find none of its members, or worse, the wrong ones).
 */
export function deploymentKeyId(deploymentKey: Buffer): string {
  return createHmac('sha256', deploymentKey).update('oag key id', 'latin1').digest('hex').slice(0, 16);
}

/** A key as written in OAG_DEPLOYMENT_KEY or a key file: hex or base64. Undefined when it is neither. */
export function decodeDeploymentKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return Buffer.from(t, 'base64');
  return undefined;
}
