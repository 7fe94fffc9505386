// `oag central members import FILE.csv`, the watched folder, and the bench: an LMS member export (CSV) → a new
// version of the member list, all or nothing.
//
// The file streams through the member-export reader (kit/member-csv-reader.ts); each row is checked against the row
// schema, its card number normalised, and hashed with the deployment key with its batch of 500 rows (lmsRows; from a
// 4 MiB file read and checked in a worker thread of this process, kit/member-import-worker.ts, while this thread
// stages); so is each of the member's card UIDs (the optional cardUids column), each a row of the list of its own
// with the member's fields. The clear number lives only in memory until
// its batch is hashed: it is not kept, logged, quoted in a message or written anywhere. Bad rows are reported by line and column and left out; a file
// that is unusable as a whole (unreadable, too large, not UTF-8, empty, cut short, columns missing, too many bad
// rows, or one that would remove most of the list) throws LmsImportError and changes nothing.
import { basename } from 'node:path';
import { MAX_REJECTED_LISTED, MemberCsvReader, type MemberCsvProgress, type RejectedRow } from '../../kit/member-csv-reader.js';
import { HASHED_ROW_BYTES, hashedRow, hashedSum } from '../../kit/card-hash-worker.js';
import { readBatches, type BatchMakerFactory, type Hashed } from '../../kit/member-import-worker.js';
import { memberFieldsText } from '../../policies/member-list.js';
import { onBranchList, type BranchList, type LmsField, type LmsMapping } from './config.js';
import { createLmsRowChecks, type LmsRowInput } from './lms-row.js';
import type { CentralMemberStore, ListDiff, MemberVersion } from './member-store.js';

export { MAX_REJECTED_LISTED, type RejectedRow };
export type LmsImportProgress = MemberCsvProgress;

export interface LmsImportOptions {
  mapping: LmsMapping;
  /** createCardHasher(deployment key). */
  hasher: (normalisedId: string) => Buffer;
  keyId: string;
  /** `registered`: members neither registered for open access nor staff are kept at central, off the branches' list. */
  branchList: BranchList;
  /** The import's time: the version's time, and the day a debarment or a date of birth is compared with. */
  now: Date;
  keepVersions: number;
  source?: string | undefined;
  onProgress?: ((progress: LmsImportProgress) => void) | undefined;
  /** Read, check and hash in a worker thread from a file of this many bytes (default HASH_WORKER_FROM_BYTES, 4 MiB). */
  hashWorkerFromBytes?: number | undefined;
}

export interface LmsImportSummary {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  rejected: RejectedRow[];
  rejectedCount: number;
  /** Members left off the branches' list, neither registered for open access nor staff (`branchList: registered`); central keeps them. */
  notRegistered: number;
  /** Data rows in the file. */
  total: number;
  /** Rows of the list now current: a member with card UIDs is one for the card number and one for each UID. */
  count: number;
  /** The version now current; `created` is false when the file matched it and no version was made. */
  version: number;
  created: boolean;
  hash: string;
}

export class LmsImportError extends Error {
  constructor(
    message: string,
    readonly rejected: readonly RejectedRow[] = [],
  ) {
    super(message);
    this.name = 'LmsImportError';
  }
}

const NO_CARD_HASH = Buffer.alloc(32);
export const LMS_ROWS_URL = import.meta.url;

export interface LmsRowParams {
  mapping: LmsMapping;
  /** `YYYY-MM-DD`: the day a debarment or a date of birth is compared with. */
  today: string;
  branchList: BranchList;
}

/** A batch's rows: each one's line (negative: kept off the branches' list), and for a card UID's row the index of
 * its member's card number in the batch (-1 for a card number). */
export interface LmsBatch {
  kept: Int32Array;
  owner: Int32Array;
}

/**
 * Central's rows, checked a parser batch at a time (kit/member-import-worker.ts: in a worker thread from a 4 MiB
 * export); each member's card UIDs are rows of their own with its fields.
 */
export const lmsRows: BatchMakerFactory<LmsRowParams, LmsBatch> = ({ mapping, today, branchList }) => {
  const checks = createLmsRowChecks(mapping, today);
  return {
    transfer: (b) => [b.kept.buffer, b.owner.buffer] as ArrayBuffer[],
    make(records, reader) {
      const ids: string[] = [];
      const texts: string[] = [];
      const kept: number[] = [];
      const owner: number[] = [];
      for (const { line, fields } of records) {
        const raw = reader.pickShared(fields) as unknown as LmsRowInput;
        const checked = checks.check(raw);
        if (!checked.ok) {
          reader.rejectIssues(line, fields, checked.issues, raw.cardNumber);
          continue;
        }
        const { cardNumber, cardUids = [], member } = checked.row;
        // Groups are the one free-text field that is kept: a shifted column must not put a card number there.
        if (member.groups.some((g) => g.toUpperCase().includes(cardNumber) || cardUids.some((uid) => g.toUpperCase().includes(uid)))) {
          reader.reject(line, `${reader.columnName('groups')}: contains the card number or a card UID`);
          continue;
        }
        // The fields' text does not depend on the card hash, which is made with the batch's.
        const text = memberFieldsText({ cardHash: NO_CARD_HASH, ...member });
        // A branch's list, and so a stolen branch, holds only the people who can use the branch; central keeps the
        // others so that registering one at the desk reaches the door at once (CentralMembers.change).
        const at = onBranchList(branchList, member) ? line : -line;
        const first = ids.length;
        owner.push(-1);
        ids.push(cardNumber);
        texts.push(text);
        kept.push(at);
        for (const uid of cardUids) {
          owner.push(first);
          ids.push(uid);
          texts.push(text);
          kept.push(at);
        }
      }
      return ids.length === 0 ? null : { batch: { kept: Int32Array.from(kept), owner: Int32Array.from(owner) }, ids, texts };
    },
  };
};

const FIELDS: readonly LmsField[] = ['cardNumber', 'cardUids', 'birthDate', 'adult', 'expires', 'category', 'blocked', 'blockedUntil', 'fines', 'openAccess', 'staff', 'groups'];

export async function importLmsCsv(members: CentralMemberStore, filePath: string, options: LmsImportOptions): Promise<LmsImportSummary> {
  const { mapping, hasher, now } = options;
  const reader = new MemberCsvReader(filePath, {
    delimiter: mapping.delimiter,
    fields: FIELDS,
    columns: mapping.columns,
    configPath: 'members.import.columns',
    refuse: (message, rejected) => new LmsImportError(message, rejected),
    onProgress: options.onProgress,
  });
  const duplicate = (line: number, first: number): void => reader.reject(line, `${mapping.columns.cardNumber}: the same card as line ${first}`);
  const shared = (line: number, others: number[]): void =>
    reader.reject(line, `${reader.columnName('cardUids')}: a card of this row is also on line ${others.join(', ')} (a card opens one member's account: fix the export)`);

  const staging = await members.beginImport();
  const setup = { delimiter: mapping.delimiter, fields: FIELDS, columns: mapping.columns, configPath: 'members.import.columns' };
  // The batch's list hash comes whole from the hashing; the few rows kept off the list are taken out of it.
  const stage = ({ batch: { kept, owner }, hashed: out, texts: decode }: Hashed<LmsBatch>): void => {
    const sum = hashedSum(out);
    const texts = decode();
    for (let i = 0; i < kept.length; i++) {
      const cardHash = Buffer.from(out.buffer, out.byteOffset + i * HASHED_ROW_BYTES, 32);
      const line = kept[i]!;
      const o = owner[i]!;
      const member = o < 0 ? null : hashedRow(out, o).cardHash;
      if (line < 0) {
        staging.addUnlisted(cardHash, texts[i]!, -line, member);
        sum.subtractDigest(hashedRow(out, i).digest);
      } else {
        staging.addCounted(cardHash, texts[i]!, line, member);
      }
    }
    staging.addSum(sum);
  };
  try {
    const batches = readBatches(reader as MemberCsvReader<string>, setup, {
      maker: { url: LMS_ROWS_URL, name: 'lmsRows', factory: lmsRows },
      params: { mapping, today: now.toISOString().slice(0, 10), branchList: options.branchList } satisfies LmsRowParams,
      hasher,
      workerFromBytes: options.hashWorkerFromBytes,
    });
    for await (const batch of batches) {
      stage(batch);
      await staging.settle();
    }
    reader.progress('applying');
    await staging.finish(duplicate, shared);
    const notRegistered = staging.unlisted;
    const rejected = reader.sortedRejected();
    const verify = (diff: ListDiff): void => {
      reader.checkRejected(mapping.maxRejectedFraction);
      if (diff.count === 0) throw new LmsImportError(`${filePath}: no usable member rows: nothing changed`, rejected);
      if (diff.previousCount > 0 && diff.removed > diff.previousCount * mapping.maxRemovedFraction) {
        // The first import after `branchList: registered` is set removes the unregistered members on purpose.
        const why = notRegistered > 0 ? `a cut-short export, or the first with members.branchList: registered, which left out ${notRegistered} not registered for open access?` : 'a cut-short export?';
        throw new LmsImportError(
          `${filePath}: would remove ${diff.removed} of the ${diff.previousCount} members (more than the ${mapping.maxRemovedFraction * 100}% allowed; ${why}): nothing changed`,
          rejected,
        );
      }
    };
    const { version, diff } = await staging.commit(
      { keyId: options.keyId, source: options.source ?? `csv:${basename(filePath)}`, at: now, keepVersions: options.keepVersions },
      verify,
    );
    const current: MemberVersion = version ?? (await members.current())!;
    reader.progress('done');
    return {
      added: diff.added,
      changed: diff.changed,
      removed: diff.removed,
      unchanged: diff.unchanged,
      rejected,
      rejectedCount: reader.rejectedCount,
      notRegistered,
      total: reader.total,
      count: current.count,
      version: current.version,
      created: version !== null,
      hash: current.hash,
    };
  } finally {
    await staging.dispose();
    reader.close();
  }
}
