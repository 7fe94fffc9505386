// `oag members import`: a library system's member export (CSV) → the member table, in one atomic swap.
//
// The file streams through the member-export reader (kit/member-csv-reader.ts); each row is checked against the row
// schema, its card number normalised, and hashed with its batch of 500 rows; so is each of the member's card UIDs
// (the optional cardUids column, read as central reads it), each a row of the list of its own with the member's
// fields (import-rows.ts). From a 4 MiB file that is done in a worker thread of this process, which hands the rows
// over packed (kit/member-import-worker.ts), and this thread stages them and writes SQLite. The clear number lives
// only in memory until its batch is hashed: it is not kept, logged, quoted in a message or written anywhere. Bad rows are reported by line and column and left out; a file that is unusable as a whole
// (unreadable, too large, not UTF-8, empty, cut short, columns missing, too many bad rows, removing most of the list,
// made with another deployment key than the list in force) throws ImportError and changes nothing.
import { basename } from 'node:path';
import { MAX_REJECTED_LISTED, MemberCsvReader, type MemberCsvProgress, type RejectedRow } from '../../kit/member-csv-reader.js';
import { HASHED_ROW_BYTES, hashedSum } from '../../kit/card-hash-worker.js';
import { readBatches } from '../../kit/member-import-worker.js';
import type { MemberListDiff, ReplaceResult, Store } from '../store/index.js';
import type { PackedMembers } from '../store/members.js';
import { BRANCH_ROWS_URL, branchRows, type BranchRowParams } from './import-rows.js';
import { DEFAULT_MEMBER_MAPPING, type MemberField, type MemberImportMapping } from './mapping.js';

export { MAX_REJECTED_LISTED, type RejectedRow };
export type ImportProgress = MemberCsvProgress;

export interface ImportOptions {
  /** Default: DEFAULT_MEMBER_MAPPING (the columns of generateMembersCsv). */
  mapping?: MemberImportMapping | undefined;
  /** createCardHasher(deployment key). */
  hasher: (normalisedId: string) => Buffer;
  onProgress?: ((progress: ImportProgress) => void) | undefined;
  /** The import's time: applied-at of the list, and the day after which a date of birth is refused. */
  now: Date;
  /** Shown in the store's stats; default `csv:<file name>`. */
  source?: string | undefined;
  /**
   * Refuse a file that would remove more than this share of the list in force: a cut-short export must not empty
   * the branch. Default DEFAULT_MAX_REMOVED_FRACTION, as at central.
   */
  maxRemovedFraction?: number | undefined;
  /**
   * deploymentKeyId() of the key `hasher` uses. Recorded with the list; an import with another key than the list in
   * force was made with is refused (none of its cards would match a tap) unless `newKey` says the key was changed,
   * which also lifts `maxRemovedFraction` (every card hash changes with the key).
   */
  keyId?: string | undefined;
  newKey?: boolean | undefined;
  /** Read, check and hash in a worker thread from a file of this many bytes (default HASH_WORKER_FROM_BYTES, 4 MiB). */
  hashWorkerFromBytes?: number | undefined;
}

export interface ImportSummary {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Rejected rows by line, at most MAX_REJECTED_LISTED of them; `rejectedCount` has them all. */
  rejected: RejectedRow[];
  rejectedCount: number;
  /** Data rows in the file (header and blank lines not counted). */
  total: number;
  /** Members in the list now in force. */
  count: number;
  version: number;
  hash: string;
}

export class ImportError extends Error {
  constructor(
    message: string,
    /** The first rejected rows, when the file was refused for having too many. */
    readonly rejected: readonly RejectedRow[] = [],
  ) {
    super(message);
    this.name = 'ImportError';
  }
}

export const DEFAULT_MAX_REMOVED_FRACTION = 0.5;
/** The setting that remembers which deployment key the list in force was hashed with (and which list that was). */
export const LIST_KEY_SETTING = 'member-list-key';
const FIELDS: readonly MemberField[] = ['cardNumber', 'cardUids', 'birthDate', 'adult', 'expires', 'blocked', 'blockedUntil', 'openAccess', 'staff', 'groups'];

/**
 * Line numbers of the rows handed to the store, by position, to name the line of a duplicate; a line's card number
 * and its card UIDs are next to each other. Stored as line × 2, plus 1 for a UID.
 */
class Lines {
  private lines = new Uint32Array(1 << 16);
  private size = 0;

  push(line: number, uid: boolean): void {
    if (this.size === this.lines.length) {
      const bigger = new Uint32Array(this.lines.length * 2);
      bigger.set(this.lines);
      this.lines = bigger;
    }
    this.lines[this.size++] = line * 2 + (uid ? 1 : 0);
  }

  /** Lines as pushed (line × 2, plus 1 for a UID). */
  pushAll(more: Uint32Array): void {
    while (this.size + more.length > this.lines.length) {
      const bigger = new Uint32Array(this.lines.length * 2);
      bigger.set(this.lines);
      this.lines = bigger;
    }
    this.lines.set(more, this.size);
    this.size += more.length;
  }

  at(position: number): number {
    return (this.lines[position] ?? 0) >>> 1;
  }

  isUid(position: number): boolean {
    return ((this.lines[position] ?? 0) & 1) === 1;
  }

  /** Every position of the line at `position`. */
  *ofLine(position: number): Generator<number> {
    const line = this.at(position);
    let p = position;
    while (p > 0 && this.at(p - 1) === line) p--;
    for (; p < this.size && this.at(p) === line; p++) yield p;
  }
}

/**
 * The rows a duplicate card leaves out, told once a line: a later copy of a card number goes (the first stays); a
 * card UID on two lines (or one line's UID another's card number) cannot say whose it is, so both lines go, each
 * naming the other. A line that goes takes all its cards with it.
 */
function duplicateLines(
  pairs: ReadonlyArray<readonly [number, number]>,
  lines: Lines,
  reject: { copy: (line: number, first: number) => void; shared: (line: number, others: number[]) => void },
): number[] {
  const gone = new Map<number, number>();
  const shared = new Map<number, Set<number>>();
  const copies = new Map<number, number>();
  const share = (line: number, other: number): void => {
    let others = shared.get(line);
    if (others === undefined) shared.set(line, (others = new Set()));
    others.add(other);
  };
  for (const [position, first] of pairs) {
    const line = lines.at(position);
    const firstLine = lines.at(first);
    gone.set(line, position);
    if (lines.isUid(position) || lines.isUid(first)) {
      gone.set(firstLine, first);
      share(line, firstLine);
      share(firstLine, line);
    } else if (!copies.has(line)) {
      copies.set(line, firstLine);
    }
  }
  // A card two members share says more than a repeated card number.
  for (const [line, first] of copies) if (!shared.has(line)) reject.copy(line, first);
  for (const [line, others] of shared) reject.shared(line, [...others].sort((a, b) => a - b));
  return [...gone.values()].flatMap((position) => [...lines.ofLine(position)]);
}

interface ListKey {
  keyId: string;
  /** The list hash it was recorded with: a list that changed since (from central) makes the record stale. */
  hash: string;
}

/** The key id the list in force was made with, when this store recorded it for that very list. */
function listKeyInForce(store: Store): string | undefined {
  const stats = store.members.stats();
  if (stats.count === 0) return undefined;
  let saved: Partial<ListKey> | undefined;
  try {
    saved = store.settings.get<Partial<ListKey>>(LIST_KEY_SETTING);
  } catch {
    return undefined;
  }
  return saved?.hash === stats.hash && typeof saved.keyId === 'string' ? saved.keyId : undefined;
}

export async function importMembersCsv(store: Store, filePath: string, options: ImportOptions): Promise<ImportSummary> {
  const { hasher, now } = options;
  const mapping = options.mapping ?? DEFAULT_MEMBER_MAPPING;
  const maxRemovedFraction = options.maxRemovedFraction ?? DEFAULT_MAX_REMOVED_FRACTION;
  const reader = new MemberCsvReader(filePath, {
    delimiter: mapping.delimiter,
    fields: FIELDS,
    columns: mapping.columns,
    configPath: 'members.mapping',
    refuse: (message, rejected) => new ImportError(message, rejected),
    onProgress: options.onProgress,
  });
  if (options.keyId !== undefined && options.newKey !== true) {
    const inForce = listKeyInForce(store);
    if (inForce !== undefined && inForce !== options.keyId) {
      throw new ImportError(
        `${filePath}: the list in force was made with deployment key ${inForce}, this import would hash with key ${options.keyId}; ` +
          `a gateway on key ${inForce} would match none of its cards. Use the gateway's key (OAG_DEPLOYMENT_KEY, --key-file or ` +
          'deploymentKeyFile), or --new-key if the deployment key was changed: nothing changed',
      );
    }
  }
  const lines = new Lines();
  const setup = { delimiter: mapping.delimiter, fields: FIELDS, columns: mapping.columns, configPath: 'members.mapping' };
  const params: BranchRowParams = { mapping, today: new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10) };

  async function* rows(): AsyncGenerator<PackedMembers> {
    const batches = readBatches(reader as MemberCsvReader<string>, setup, {
      maker: { url: BRANCH_ROWS_URL, name: 'branchRows', factory: branchRows },
      params,
      hasher,
      workerFromBytes: options.hashWorkerFromBytes,
    });
    for await (const { batch, hashed } of batches) {
      lines.pushAll(batch.lines);
      // Every row of a batch is on the list: the store takes the batch's list hash whole, and its rows as packed.
      yield {
        packed: true,
        hashed: Buffer.from(hashed.buffer, hashed.byteOffset, hashed.byteLength),
        stride: HASHED_ROW_BYTES,
        flags: batch.flags,
        texts: batch.texts,
        strings: batch.strings,
        sum: hashedSum(hashed),
      };
    }
    reader.progress('applying');
  }

  const verify = (diff: MemberListDiff): void => {
    reader.checkRejected(mapping.maxRejectedFraction);
    if (diff.count === 0) throw new ImportError(`${filePath}: no usable member rows: nothing changed`, reader.sortedRejected());
    // Every member of the list in force is unchanged, changed or removed by the new one. With a new key every card
    // hash changes, so all of the old list goes: that is no sign of a cut-short file.
    const previousCount = diff.unchanged + diff.changed + diff.removed;
    if (options.newKey !== true && previousCount > 0 && diff.removed > previousCount * maxRemovedFraction) {
      throw new ImportError(
        `${filePath}: would remove ${diff.removed} of the ${previousCount} members (more than the ${maxRemovedFraction * 100}% allowed; ` +
          'a cut-short export?); if the list really shrank, import it with --max-removed-fraction 1: nothing changed',
        reader.sortedRejected(),
      );
    }
  };

  const duplicates: Array<[number, number]> = [];
  let result: ReplaceResult;
  try {
    result = await store.members.replaceAllAsync(
      rows(),
      { source: options.source ?? `csv:${basename(filePath)}`, appliedAt: now },
      {
        verify,
        onDuplicate: (position, first) => void duplicates.push([position, first]),
        leaveOut: () =>
          duplicateLines(duplicates, lines, {
            copy: (line, first) => reader.reject(line, `${mapping.columns.cardNumber}: the same card as line ${first}`),
            shared: (line, others) =>
              reader.reject(
                line,
                `${reader.columnName('cardUids')}: a card of this row is also on line ${others.join(', ')} (a card opens one member's account: fix the export)`,
              ),
          }),
      },
    );
  } catch (error) {
    throw reader.refusal(error);
  } finally {
    reader.close();
  }
  if (options.keyId !== undefined) {
    // After the commit, bound to the new list's hash: if this write is lost, the record is stale, not wrong.
    store.settings.set(LIST_KEY_SETTING, { keyId: options.keyId, hash: result.hash } satisfies ListKey);
  }
  reader.progress('done');
  return {
    added: result.added,
    changed: result.changed,
    removed: result.removed,
    unchanged: result.unchanged,
    rejected: reader.sortedRejected(),
    rejectedCount: reader.rejectedCount,
    total: reader.total,
    count: result.count,
    version: result.version,
    hash: result.hash,
  };
}
