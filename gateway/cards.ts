// Card numbers and UIDs become a keyed hash at the edge; nothing past this module ever holds the clear number.
// The HMAC is computed by hand over two reusable pad buffers because it runs on every tap and for every row of a
// member import (a million rows): this saves Node's per-call Hmac object and key copy. It is byte-for-byte
// RFC 2104 HMAC-SHA256 (a test checks it against createHmac).
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

/**
 * HMAC-SHA256 of a normalised card id with the deployment key: 32 bytes, the member table's key.
 * Only normalised ids are accepted, so that a forgotten normalisation fails loudly instead of missing every member.
 */
export function createCardHasher(deploymentKey: Buffer): (normalisedId: string) => Buffer {
  if (deploymentKey.length < DEPLOYMENT_KEY_MIN_BYTES) {
    throw new RangeError(`the deployment key must be at least ${DEPLOYMENT_KEY_MIN_BYTES} bytes`);
  }
  const key = deploymentKey.length > BLOCK ? hash('sha256', deploymentKey, 'buffer') : deploymentKey;
  // inner: (K ^ ipad) || message; outer: (K ^ opad) || inner digest.
  const inner = Buffer.alloc(BLOCK + CARD_ID_MAX_LENGTH);
  const outer = Buffer.alloc(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) {
    const k = key[i] ?? 0;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  // One view per message length, made once, so a call allocates nothing but the two digests.
  const views: Buffer[] = [];
  for (let n = 0; n <= CARD_ID_MAX_LENGTH; n++) views.push(inner.subarray(0, BLOCK + n));

  return (normalisedId: string): Buffer => {
    if (!NORMALISED.test(normalisedId)) throw new TypeError('createCardHasher: expects a card id from normaliseCardId');
    // Normalised ids are ASCII, so latin1 writes exactly their UTF-8 bytes.
    const n = inner.write(normalisedId, BLOCK, 'latin1');
    hash('sha256', views[n]!, 'buffer').copy(outer, BLOCK);
    return hash('sha256', outer, 'buffer');
  };
}

/** What logs, events and the staff console show for a card: the first 8 hex characters of its hash. */
export function pseudonym(cardHash: Buffer): string {
  return cardHash.toString('hex', 0, 4);
}
