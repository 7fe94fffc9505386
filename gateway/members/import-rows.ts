// The branch import's rows, checked, hashed and packed a parser batch at a time (kit/member-import-worker.ts): in a
// worker thread from a 4 MiB export, else on the import's own thread. Each row is checked against the row schema,
// its card number normalised; so is each of the member's card UIDs (the optional cardUids column, read as central
// reads it), each a row of the list of its own with the member's fields. What comes back holds no clear card
// number: the card hashes and the batch's list hash, each row's line, flags byte and interned texts.
import type { BatchMaker, BatchMakerFactory } from '../../kit/member-import-worker.js';
import type { MemberCsvReader } from '../../kit/member-csv-reader.js';
import { parseCardUids } from '../../policies/card-uids.js';
import { memberFieldsText } from '../../policies/member-list.js';
import { Interned, packFields, TEXTS } from '../store/members.js';
import type { MemberImportMapping } from './mapping.js';
import { createMemberRowChecks, type MemberRowInput } from './row-schema.js';

export const BRANCH_ROWS_URL = import.meta.url;

export interface BranchRowParams {
  mapping: MemberImportMapping;
  /** `YYYY-MM-DD`: a date of birth after it is refused. */
  today: string;
}

/** One batch of rows, as gateway/store/members.ts's PackedMembers takes it (with their lines). */
export interface BranchBatch {
  /** Each row's line × 2, plus 1 for a card UID's row. */
  lines: Uint32Array;
  flags: Uint8Array;
  /** TEXTS ids a row, of this import's table of texts. */
  texts: Int32Array;
  /** The texts the table gained with this batch, in id order. */
  strings: string[];
}

const NO_UIDS: readonly string[] = Object.freeze([]);
const NO_CARD_HASH = Buffer.alloc(32);

export const branchRows: BatchMakerFactory<BranchRowParams, BranchBatch> = ({ mapping, today }): BatchMaker<BranchBatch> => {
  const checks = createMemberRowChecks(mapping, today);
  const strings = new Interned();
  return {
    transfer: (b) => [b.lines.buffer, b.flags.buffer, b.texts.buffer] as ArrayBuffer[],
    make(records, reader: MemberCsvReader<string>) {
      const ids: string[] = [];
      const texts: string[] = [];
      const lines: number[] = [];
      // Rows with their card UIDs can outnumber the records: grown below when they do.
      let packed = new Int32Array(records.length * TEXTS);
      let flags = new Uint8Array(records.length);
      const firstString = strings.values.length;
      const grow = (): void => {
        const n = ids.length;
        if (n < flags.length) return;
        const size = Math.max(64, n * 2);
        const more = new Uint8Array(size);
        more.set(flags);
        flags = more;
        const moreTexts = new Int32Array(size * TEXTS);
        moreTexts.set(packed);
        packed = moreTexts;
      };
      for (const { line, fields } of records) {
        const picked = reader.pickShared(fields);
        const raw = picked as unknown as MemberRowInput;
        // The UIDs' cell is read as central reads it; a problem with it is one more of the row's.
        const cardUids = picked.cardUids === '' ? NO_UIDS : parseCardUids(picked.cardUids!);
        const uidProblem = 'problem' in cardUids ? [{ path: ['cardUids'], message: cardUids.problem }] : [];
        // The schema is asked only about a row the direct checks refuse: it names every problem.
        let member = checks.parse(raw);
        if (member === undefined) {
          const result = checks.schema.safeParse(raw);
          if (result.success) {
            member = result.data;
          } else {
            reader.rejectIssues(line, fields, [...result.error.issues, ...uidProblem], raw.cardNumber);
            continue;
          }
        }
        if ('problem' in cardUids) {
          reader.rejectIssues(line, fields, uidProblem, raw.cardNumber);
          continue;
        }
        // Groups are the one free-text field that is stored: a shifted column must not put a card number there.
        if (member.groups.length > 0 && member.groups.some((g) => g.toUpperCase().includes(member.cardNumber))) {
          reader.reject(line, `${reader.columnName('groups')}: contains the card number`);
          continue;
        }
        // The barcode and a UID may be the same characters: one credential, the card number's.
        const uids = cardUids.length === 0 ? cardUids : cardUids.filter((uid) => uid !== member.cardNumber);
        if (member.groups.length > 0 && uids.some((uid) => member.groups.some((g) => g.toUpperCase().includes(uid)))) {
          reader.reject(line, `${reader.columnName('groups')}: contains a card UID`);
          continue;
        }
        // The card hash is made with the batch's; the fields' text does not depend on it.
        const row = {
          cardHash: NO_CARD_HASH,
          expires: member.expires,
          blocked: member.blocked,
          blockedUntil: member.blockedUntil,
          openAccess: member.openAccess,
          birthDate: member.birthDate,
          adult: member.adult,
          staff: member.staff,
          groups: member.groups,
          pinHash: null,
        };
        const text = memberFieldsText(row);
        grow();
        const at = ids.length;
        ids.push(member.cardNumber);
        texts.push(text);
        lines.push(line * 2);
        flags[at] = packFields(row, strings, packed, at * TEXTS);
        // Each card UID is a row of its own with the member's fields (the card number's packed texts and flags).
        for (const uid of uids) {
          grow();
          const u = ids.length;
          ids.push(uid);
          texts.push(text);
          lines.push(line * 2 + 1);
          flags[u] = flags[at]!;
          packed.copyWithin(u * TEXTS, at * TEXTS, at * TEXTS + TEXTS);
        }
      }
      if (ids.length === 0) return null;
      const n = ids.length;
      const batch = {
        lines: Uint32Array.from(lines),
        flags: flags.slice(0, n),
        texts: packed.slice(0, n * TEXTS),
        strings: strings.values.slice(firstString) as string[],
      };
      return { batch, ids, texts };
    },
  };
};
