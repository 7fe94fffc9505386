// A member's NFC card UIDs as the library system's export carries them (central's members.import.columns.cardUids,
// a branch's members.mapping.columns.cardUids, or a Koha patron attribute): hex, 4, 7 or 10 bytes each, separated
// by `;` `,` `|` or spaces, a byte separator `:` or `-` allowed inside one. Each becomes the spelling the gateway
// hashes for a tap of that card (the reader's hex, upper case, then normaliseCardId), so a UID in the export finds
// the member when the card is tapped.
import { normaliseCardId } from './cards.js';

/** More than this on one member is a column read from the wrong field, not a wallet of cards. */
export const MAX_CARD_UIDS = 16;
const UID_BYTES = new Set([4, 7, 10]);
const LIST_SEPARATORS = /[;,|\s]+/;
const BYTE_SEPARATORS = /[:-]/g;

const ORDINALS = ['first', 'second', 'third'];
const ordinal = (i: number): string => ORDINALS[i] ?? `${i + 1}th`;

/**
 * The UIDs normalised, each once, in the order given; or the problem, in words that never quote a UID (messages
 * reach logs and the import's report). An empty text is no UIDs.
 */
export function parseCardUids(raw: string): string[] | { problem: string } {
  const tokens = raw.split(LIST_SEPARATORS).filter((t) => t !== '');
  if (tokens.length > MAX_CARD_UIDS) return { problem: `${tokens.length} card UIDs (at most ${MAX_CARD_UIDS})` };
  const uids = new Set<string>();
  for (const [i, token] of tokens.entries()) {
    const hex = token.replace(BYTE_SEPARATORS, '');
    if (!/^[0-9A-Fa-f]+$/.test(hex)) return { problem: `the ${ordinal(i)} card UID is not hexadecimal` };
    if (hex.length % 2 !== 0 || !UID_BYTES.has(hex.length / 2)) {
      return { problem: `the ${ordinal(i)} card UID has ${hex.length} hex digits (a card UID is 4, 7 or 10 bytes: 8, 14 or 20 digits)` };
    }
    uids.add(normaliseCardId(hex));
  }
  return [...uids];
}
