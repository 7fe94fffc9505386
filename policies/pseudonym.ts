// Pseudonyms: what logs, events and screens show for a card instead of its hash. Each holder of a secret (a branch,
// central) gets its own: HMAC-SHA256(secret, card hash), first 4 bytes as 8 hex characters (PseudonymSchema). The
// card hash alone is the same everywhere the deployment key is, so a pseudonym cut from it would let anyone who
// reads two branches' events follow one person across the county; one keyed with a secret kept where it is made
// says nothing outside that place. Pure computation; node:crypto only for the HMAC.
import { createHmac } from 'node:crypto';

export const PSEUDONYM_SECRET_BYTES = 32;

export function createPseudonymizer(secret: Buffer): (cardHash: Buffer) => string {
  if (secret.length < PSEUDONYM_SECRET_BYTES) throw new RangeError(`a pseudonym secret must be at least ${PSEUDONYM_SECRET_BYTES} bytes`);
  const key = Buffer.from(secret);
  return (cardHash: Buffer): string => createHmac('sha256', key).update(cardHash).digest('hex').slice(0, 8);
}
