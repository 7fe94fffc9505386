// A delta from the library system: the members changed since its last export, each as its whole new row in the
// full export's columns (members.import), plus a `deleted` column (members.import.columns.deleted) saying the
// member is gone. Rows are absolute, never "+1 fine", so the same delta applied twice changes nothing.
//
// `oag central members import-delta`, the watched folder's `*.delta.csv` and CentralMembers.applyChanges (the
// Koha poller) all end in CentralMemberStore.applyChanges: one transaction, at most one new version. The file is
// read like a full export (streamed, strict UTF-8, every row checked by lms-row.ts, the clear card number only in
// the loop body) and the full import's rules hold: bad rows are reported by line and left out, the whole file is
// refused when more than maxRejectedFraction of its rows are bad or it would take more than maxRemovedFraction of
// the list away. A header with no rows is a delta with no changes (the LMS had nothing to say), not an error.
//
// A row is the member's, for every credential: with the cardUids column mapped, the UIDs it lists are all the member
// has (one it no longer lists stops opening the door with this version); without it, the UIDs central holds stay.
// A row giving a UID another row gives, or one central holds for another member, is rejected (CentralMemberStore.applyMemberUpdates).
import { basename } from 'node:path';
import { MemberCsvReader, type RejectedRow } from '../../kit/member-csv-reader.js';
import { parseBoolean } from '../../policies/member-fields.js';
import { memberFieldsText } from '../../policies/member-list.js';
import type { Member } from '../../policies/types.js';
import { onBranchList, type BranchList, type LmsDeltaField, type LmsMapping } from './config.js';
import { LmsImportError, type LmsImportOptions, type LmsImportProgress, type LmsImportSummary } from './lms-import.js';
import { createLmsRowChecks } from './lms-row.js';
import { OtherKeyError, type CentralMemberStore, type ListDiff, type MemberUpdate, type RefusedUpdate, type VersionMeta } from './member-store.js';

/** The delta column's name when members.import.columns.deleted does not give one. */
export const DEFAULT_DELETED_COLUMN = 'deleted';

/** One member's new state from the library system: the whole parsed row (lms-row.ts), or null when deleted there. */
export interface MemberDeltaChange {
  /** Normalised (lms-row.ts does it); hashed at once and never kept. */
  cardNumber: string;
  /** The member's card UIDs, normalised, all of them; undefined when the source does not say (the held ones stay). */
  cardUids?: readonly string[] | undefined;
  row: Member | null;
}

/** A delta would take more of the list away than `members.import.maxRemovedFraction` allows: nothing changed. */
export class TooManyRemovalsError extends Error {
  constructor(
    readonly removed: number,
    readonly previousCount: number,
    readonly maxRemovedFraction: number,
  ) {
    super(`would remove ${removed} of the ${previousCount} members (more than the ${maxRemovedFraction * 100}% allowed): nothing changed`);
    this.name = 'TooManyRemovalsError';
  }
}

/**
 * The changes as the store takes them: card numbers and UIDs hashed, each member placed on the list or off it by
 * `branchList` (a member neither registered for open access nor staff is held at central only). `unlisted` counts
 * the members held off.
 */
export function storedChanges(
  changes: readonly MemberDeltaChange[],
  hasher: (normalisedId: string) => Buffer,
  branchList: BranchList,
): { changes: MemberUpdate[]; unlisted: number } {
  let unlisted = 0;
  const stored = changes.map(({ cardNumber, cardUids, row }): MemberUpdate => {
    const cardHash = hasher(cardNumber);
    if (row === null) return { cardHash, fields: null, listed: false };
    const listed = onBranchList(branchList, row);
    if (!listed) unlisted++;
    return { cardHash, fields: memberFieldsText({ cardHash, ...row }), listed, uidHashes: cardUids?.map(hasher) };
  });
  return { changes: stored, unlisted };
}

/** Why a change was left out, for the report (never the UID itself). */
export function refusalReason(refused: RefusedUpdate, lineOf: (index: number) => number | string): string {
  return refused.other === null
    ? 'a card UID of this row is another member\'s at central (their row must drop it first, or come in the same delta)'
    : `a card of this row is also on ${lineOf(refused.other)} (a card opens one member's account: fix the export)`;
}

/** The full import's removal guard, for a delta: a first list (nothing before it) is never refused by it. */
export function removalGuard(maxRemovedFraction: number): (diff: ListDiff) => void {
  return (diff) => {
    if (diff.previousCount > 0 && diff.removed > diff.previousCount * maxRemovedFraction) {
      throw new TooManyRemovalsError(diff.removed, diff.previousCount, maxRemovedFraction);
    }
  };
}

export interface LmsDeltaRead {
  changes: MemberDeltaChange[];
  /** The file's line of each change. */
  lines: number[];
  /** The header's name for the card UIDs, for the report. */
  uidsColumn: string;
  rejected: RejectedRow[];
  rejectedCount: number;
  /** Data rows in the file. */
  total: number;
  bytes: number;
}

const FIELDS: readonly LmsDeltaField[] = ['cardNumber', 'cardUids', 'birthDate', 'adult', 'expires', 'category', 'blocked', 'blockedUntil', 'fines', 'openAccess', 'staff', 'groups', 'deleted'];

/**
 * Reads a delta file into changes, rejecting bad rows by line (a row whose card an earlier row already had is
 * rejected, as in a full export). Throws LmsImportError for a file unusable as a whole; nothing is written.
 */
export async function readLmsDelta(
  filePath: string,
  options: { mapping: LmsMapping; now: Date; onProgress?: ((p: LmsImportProgress) => void) | undefined },
): Promise<LmsDeltaRead> {
  const { mapping } = options;
  const deletedColumn = mapping.columns.deleted ?? DEFAULT_DELETED_COLUMN;
  const reader = new MemberCsvReader(filePath, {
    delimiter: mapping.delimiter,
    fields: FIELDS,
    columns: { ...mapping.columns, deleted: deletedColumn },
    configPath: 'members.import.columns',
    refuse: (message, rejected) => new LmsImportError(message, rejected),
    emptyHint: 'a delta with no changes still has its header line',
    onProgress: options.onProgress,
  });
  const checks = createLmsRowChecks(mapping, options.now.toISOString().slice(0, 10));
  // Normalised card number → the line that had it first (cleared with the rest when this returns).
  const seen = new Map<string, number>();
  const changes: MemberDeltaChange[] = [];
  const lines: number[] = [];
  const blank = Object.fromEntries(FIELDS.map((f) => [f, ''])) as Record<LmsDeltaField, string>;
  try {
    for await (const batch of reader.records()) {
      for (const { line, fields } of batch) {
        const raw = reader.pick(fields);
        const deletedText = raw.deleted.trim();
        const deleted = deletedText === '' ? false : parseBoolean(deletedText);
        if (deleted === undefined) {
          reader.reject(line, reader.isHeaderAgain(fields) ? 'repeats the header line' : `${deletedColumn}: not a yes/no value (use Y/N, yes/no, true/false or 1/0)`);
          continue;
        }
        // A deletion needs only the card number: the library system may send nothing else for a member it deleted.
        const checked = checks.check(deleted ? { ...blank, cardNumber: raw.cardNumber } : raw);
        if (!checked.ok) {
          reader.rejectIssues(line, fields, checked.issues, raw.cardNumber);
          continue;
        }
        const { cardNumber, cardUids, member } = checked.row;
        if (!deleted && member.groups.some((g) => g.toUpperCase().includes(cardNumber) || (cardUids ?? []).some((uid) => g.toUpperCase().includes(uid)))) {
          reader.reject(line, `${reader.columnName('groups')}: contains the card number or a card UID`);
          continue;
        }
        const first = seen.get(cardNumber);
        if (first !== undefined) {
          reader.reject(line, `${reader.columnName('cardNumber')}: the same card as line ${first}`);
          continue;
        }
        seen.set(cardNumber, line);
        changes.push({ cardNumber, cardUids: deleted ? [] : cardUids, row: deleted ? null : member });
        lines.push(line);
      }
    }
  } catch (error) {
    throw reader.refusal(error);
  } finally {
    seen.clear();
    reader.close();
  }
  reader.finish(false);
  reader.checkRejected(mapping.maxRejectedFraction);
  const { rejectedCount, total, totalBytes } = reader;
  return { changes, lines, rejected: reader.sortedRejected(), rejectedCount, total, bytes: totalBytes, uidsColumn: reader.columnName('cardUids') };
}

/** The full import's options (the delta's time is its version's, and the day dates are compared with); a delta is hashed here, never in a worker. */
export type LmsDeltaOptions = Omit<LmsImportOptions, 'hashWorkerFromBytes'>;

/** What a delta did, in the full import's terms; `deleted` counts the rows marked deleted. */
export interface LmsDeltaSummary extends LmsImportSummary {
  deleted: number;
}

/**
 * Applies a delta file to the list as one version (none when it changes nothing), all or nothing, in the store's
 * one transaction. For `oag central members import-delta` (another process than central) and the watched folder.
 */
export async function importLmsDelta(members: CentralMemberStore, filePath: string, options: LmsDeltaOptions): Promise<LmsDeltaSummary> {
  const read = await readLmsDelta(filePath, options);
  const progress = (phase: LmsImportProgress['phase']): void => options.onProgress?.({ phase, rows: read.total, bytesRead: read.bytes, totalBytes: read.bytes });
  progress('applying');
  const { changes, unlisted } = storedChanges(read.changes, options.hasher, options.branchList);
  const meta: VersionMeta = { keyId: options.keyId, source: options.source ?? `delta:${basename(filePath)}`, at: options.now, keepVersions: options.keepVersions };
  let applied;
  try {
    // Export rows carry no PIN: one set at central (PUT /api/members/pin) stays, as with a full import.
    applied = await members.applyMemberUpdates(changes, meta, removalGuard(options.mapping.maxRemovedFraction));
  } catch (error) {
    if (error instanceof TooManyRemovalsError) throw new LmsImportError(`${filePath}: ${error.message}`, read.rejected);
    if (error instanceof OtherKeyError) throw new LmsImportError(`${filePath}: ${error.message}: nothing changed`, read.rejected);
    throw error;
  }
  const { version, diff, refused } = applied;
  const current = version ?? (await members.current());
  const shared = refused.map((r) => ({ line: read.lines[r.index]!, reason: `${read.uidsColumn}: ${refusalReason(r, (i) => `line ${read.lines[i]!}`)}` }));
  progress('done');
  return {
    added: diff.added,
    changed: diff.changed,
    removed: diff.removed,
    // Rows that left the list as it was (the same as before, or a member held off it at central).
    unchanged: Math.max(0, read.changes.length - refused.length - diff.added - diff.changed - diff.removed),
    rejected: [...read.rejected, ...shared].sort((a, b) => a.line - b.line),
    rejectedCount: read.rejectedCount + shared.length,
    notRegistered: unlisted,
    total: read.total,
    count: current?.count ?? 0,
    version: current?.version ?? 0,
    created: version !== null,
    hash: current?.hash ?? '',
    deleted: read.changes.filter((c) => c.row === null).length,
  };
}
