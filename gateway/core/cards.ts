// Card numbers and UIDs become a keyed hash at the edge; nothing past this module ever holds the clear number.
// The normalisation and the HMAC live in policies/cards.ts, because central hashes the LMS export the same way.
export {
  CARD_ID_MAX_LENGTH,
  CARD_ID_MIN_LENGTH,
  CardIdError,
  DEPLOYMENT_KEY_MIN_BYTES,
  createCardHasher,
  deploymentKeyId,
  normaliseCardId,
} from '../../policies/cards.js';
export type { CardIdProblem } from '../../policies/cards.js';
// What logs, events and the console show for a card is this branch's own pseudonym: ./site-pseudonym.ts.
