// A Koha patron as a member of central's list. Koha says, for the door: the card number, date of birth, expiry,
// whether any restriction (debarment) applies, whether the card is reported lost, the category, and the patron's
// attributes. What Koha's patron does not hold (groups, a PIN, an adult flag) is kept from the member central
// already has, so a change in Koha never wipes what the nightly export set. An anonymised patron leaves the list.
// Koha has no field for a card's NFC UID: with `cardUidsAttribute`, a patron attribute holds them.
import { CardIdError, normaliseCardId } from '../../../policies/cards.js';
import { parseBoolean, parseDate } from '../../../policies/member-fields.js';
import type { Member } from '../../../policies/types.js';
import type { KohaFeedConfig } from './config.js';
import { parseCardUids } from '../card-uids.js';
import type { KohaPatron } from './patron.js';

export interface KohaChange {
  cardNumber: string;
  /** The patron's card UIDs (normalised), all of them; undefined without `cardUidsAttribute`. */
  cardUids?: readonly string[] | undefined;
  row: Member | null;
}

/** Why a patron gave no change: no card to tap, a card number nobody could tap, a day not in the calendar, or a card UID that is not one. */
export type KohaSkip = 'no-card' | 'unusable-card' | 'bad-date' | 'bad-card-uid';

export type KohaMapped = { ok: true; change: KohaChange } | { ok: false; skip: KohaSkip };

export interface KohaMapping {
  map(patron: KohaPatron, current: (cardNumber: string) => Member | undefined): KohaMapped;
}

export function createKohaMapping(
  config: Pick<KohaFeedConfig, 'registeredAttribute' | 'cardUidsAttribute' | 'openAccessCategories' | 'staffCategories' | 'blockedCategories'>,
): KohaMapping {
  const lower = (list: readonly string[] | undefined): Set<string> | undefined => (list === undefined ? undefined : new Set(list.map((v) => v.toLowerCase())));
  const openAccessCategories = lower(config.openAccessCategories);
  const staffCategories = lower(config.staffCategories);
  const blockedCategories = lower(config.blockedCategories);
  const attribute = config.registeredAttribute?.toLowerCase();
  const uidsAttribute = config.cardUidsAttribute?.toLowerCase();

  return {
    map(patron, current) {
      const raw = patron.cardnumber ?? '';
      if (raw.trim() === '') return { ok: false, skip: 'no-card' };
      let cardNumber: string;
      try {
        cardNumber = normaliseCardId(raw);
      } catch (error) {
        if (error instanceof CardIdError) return { ok: false, skip: 'unusable-card' };
        throw error;
      }
      if (patron.anonymized === true) return { ok: true, change: { cardNumber, cardUids: [], row: null } };
      let cardUids: string[] | undefined;
      if (uidsAttribute !== undefined) {
        const values = (patron.extended_attributes ?? []).filter((a) => a.type.toLowerCase() === uidsAttribute).map((a) => a.value);
        const parsed = parseCardUids(values.join(' '));
        // Never read as "no UIDs", which would take the patron's cards away: the patron is left as the list has them.
        if (!Array.isArray(parsed)) return { ok: false, skip: 'bad-card-uid' };
        cardUids = parsed.filter((uid) => uid !== cardNumber);
      }
      const expires = calendarDay(patron.expiry_date);
      const birthDate = calendarDay(patron.date_of_birth);
      // Never read as "no expiry": the patron is left as the list has them, and counted.
      if (expires === undefined || birthDate === undefined) return { ok: false, skip: 'bad-date' };
      const before = current(cardNumber);
      const category = patron.category_id.trim().toLowerCase();
      const inCategory = (set: Set<string> | undefined): boolean => set !== undefined && set.has(category);
      const registeredByAttribute =
        attribute !== undefined &&
        (patron.extended_attributes ?? []).some((a) => a.type.toLowerCase() === attribute && parseBoolean(a.value) === true);
      // Without a staff category rule Koha cannot say who is staff: what the export said stands.
      const staff = staffCategories === undefined ? (before?.staff ?? false) : inCategory(staffCategories);
      return {
        ok: true,
        change: {
          cardNumber,
          cardUids,
          row: {
            expires,
            // Koha's `restricted` carries no end day: blocked until a change in Koha (or the next export) lifts it.
            blocked: patron.restricted || patron.patron_card_lost === true || inCategory(blockedCategories),
            blockedUntil: null,
            openAccess: registeredByAttribute || inCategory(openAccessCategories),
            birthDate,
            adult: before?.adult ?? null,
            staff,
            groups: before?.groups ?? [],
            pinHash: before?.pinHash ?? null,
          },
        },
      };
    },
  };
}

/** Null when not given; undefined for a day not in the calendar (2026-02-30), which the schema's form lets by. */
function calendarDay(value: string | null | undefined): string | null | undefined {
  return value === null || value === undefined ? null : parseDate(value);
}
