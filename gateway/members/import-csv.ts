// `oag members import`: a library system's member export (CSV) → the member table, in one atomic swap.
//
// The file streams through the member-export reader (policies/member-csv.ts); each row is checked against the row
// schema, its card number normalised, and hashed with its batch of 500 rows (from a 4 MiB file in a worker thread
// of this process, kit/card-hash-worker.ts). The clear number lives only in memory until its batch is hashed: it is
// not kept, logged, quoted in a message or written anywhere. Bad rows are reported by line and column and left out; a file that is unusable as a whole
// (unreadable, too large, not UTF-8, empty, cut short, columns missing, too many bad rows, removing most of the list,
// made with another deployment key than the list in force) throws ImportError and changes nothing.
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import {
  BatchingParser,
  CsvError,
  csvFileTooLarge,
  csvLine,
  csvProblem,
  InvalidUtf8Error,
  isHeader,
  locateColumns as locate,
  MAX_RECORD_BYTES,
  TruncationCheck,
  utf8Checked,
  withhold,
} from '../../policies/member-csv.js';
import type { ParsedRecord } from '../../policies/member-csv.js';
import { CardHashWorker, HASH_WORKER_FROM_BYTES, HashQueue, hashedRow } from '../../kit/card-hash-worker.js';
import { memberFieldsText } from '../../policies/member-list.js';
import type { MemberListDiff, MemberRow, ReplaceResult, Store } from '../store/index.js';
import type { DigestedRows } from '../store/members.js';
import { DEFAULT_MEMBER_MAPPING, type MemberField, type MemberImportMapping } from './mapping.js';
import { createMemberRowChecks, type MemberRowInput } from './row-schema.js';

export interface RejectedRow {
  line: number;
  reason: string;
}

export interface ImportProgress {
  phase: 'reading' | 'applying' | 'done';
  /** Data rows read so far. */
  rows: number;
  bytesRead: number;
  totalBytes: number;
}

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
  /** Hash in a worker thread from a file of this many bytes (default HASH_WORKER_FROM_BYTES). */
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

export const MAX_REJECTED_LISTED = 10_000;
export const DEFAULT_MAX_REMOVED_FRACTION = 0.5;
/** The setting that remembers which deployment key the list in force was hashed with (and which list that was). */
export const LIST_KEY_SETTING = 'member-list-key';
const PROGRESS_EVERY = 2_000;
const NO_CARD_HASH = Buffer.alloc(32);
const FIELDS: readonly MemberField[] = ['cardNumber', 'birthDate', 'adult', 'expires', 'blocked', 'blockedUntil', 'openAccess', 'staff', 'groups'];

/** Line numbers of the rows handed to the store, by position, to name the line of a duplicate. */
class Lines {
  private lines = new Uint32Array(1 << 16);
  private size = 0;

  push(line: number): void {
    if (this.size === this.lines.length) {
      const bigger = new Uint32Array(this.lines.length * 2);
      bigger.set(this.lines);
      this.lines = bigger;
    }
    this.lines[this.size++] = line;
  }

  at(position: number): number {
    return this.lines[position] ?? 0;
  }
}

function readableSize(filePath: string): number {
  let size: number;
  try {
    const stat = statSync(filePath);
    if (stat.isDirectory()) throw new ImportError(`${filePath}: is a folder, not a file: nothing changed`);
    if (!stat.isFile()) throw new ImportError(`${filePath}: not a file: nothing changed`);
    size = stat.size;
  } catch (error) {
    if (error instanceof ImportError) throw error;
    throw new ImportError(`${filePath}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'}): nothing changed`);
  }
  if (size === 0) throw new ImportError(`${filePath}: the file is empty: nothing changed`);
  const tooLarge = csvFileTooLarge(filePath, size);
  if (tooLarge !== undefined) throw new ImportError(tooLarge);
  return size;
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
  const { hasher, onProgress, now } = options;
  const mapping = options.mapping ?? DEFAULT_MEMBER_MAPPING;
  const maxRemovedFraction = options.maxRemovedFraction ?? DEFAULT_MAX_REMOVED_FRACTION;
  const totalBytes = readableSize(filePath);
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
  const checks = createMemberRowChecks(mapping, new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10));
  const rejected: RejectedRow[] = [];
  let rejectedCount = 0;
  let total = 0;
  const tail = new TruncationCheck();
  const reject = (line: number, reason: string): void => {
    rejectedCount++;
    tail.rejected(line);
    if (rejected.length < MAX_REJECTED_LISTED) rejected.push({ line, reason });
  };

  const input = createReadStream(filePath);
  let bytesRead = 0;
  input.on('data', (chunk) => {
    bytesRead += chunk.length;
    tail.bytes(chunk as Buffer);
  });
  const parser = new BatchingParser({
    bom: true,
    delimiter: mapping.delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_BYTES,
  });
  parser.on('skip', (error: CsvError | undefined) => {
    total++;
    tail.skipped(error);
    reject(csvLine(error), error === undefined ? 'not valid CSV' : csvProblem(error));
  });
  const utf8 = utf8Checked();
  input.on('error', (error) => parser.destroy(error));
  utf8.on('error', (error) => parser.destroy(error));
  input.pipe(utf8).pipe(parser);

  const lines = new Lines();
  const progress = (phase: ImportProgress['phase']): void => onProgress?.({ phase, rows: total, bytesRead, totalBytes });

  const worker = totalBytes >= (options.hashWorkerFromBytes ?? HASH_WORKER_FROM_BYTES) ? CardHashWorker.start(hasher) : null;
  const hashes = new HashQueue<MemberRow[]>(hasher, worker);
  let ids: string[] = [];
  let texts: string[] = [];
  const digested = ([batch, out]: [MemberRow[], Uint8Array]): DigestedRows => {
    const digests: Buffer[] = [];
    batch.forEach((row, i) => {
      const { cardHash, digest } = hashedRow(out, i);
      row.cardHash = cardHash;
      digests.push(digest);
    });
    return { rows: batch, digests };
  };

  async function* rows(): AsyncGenerator<DigestedRows> {
    let columns: Record<MemberField, number> | undefined;
    let header: readonly string[] = [];
    let width = 0;
    let cardAt = 0;
    for await (const batch of parser as AsyncIterable<ParsedRecord[]>) {
      const out: MemberRow[] = [];
      for (const { line, fields } of batch) {
        if (columns === undefined) {
          header = fields;
          columns = locate(fields, FIELDS, mapping.columns, { filePath, configPath: 'members.mapping' }, (message) => new ImportError(message));
          width = fields.length;
          cardAt = columns.cardNumber;
          continue;
        }
        if (fields[cardAt]?.trim() === '' && fields.every((f) => f.trim() === '')) continue;
        tail.record(line);
        total++;
        if (total % PROGRESS_EVERY === 0) progress('reading');
        if (fields.length !== width && !(fields.length > width && fields.slice(width).every((f) => f.trim() === ''))) {
          reject(line, `has ${fields.length} fields where the header has ${width}`);
          continue;
        }
        const raw: MemberRowInput = {
          cardNumber: fields[cardAt]!,
          birthDate: columns.birthDate < 0 ? '' : fields[columns.birthDate]!,
          adult: columns.adult < 0 ? '' : fields[columns.adult]!,
          expires: columns.expires < 0 ? '' : fields[columns.expires]!,
          blocked: columns.blocked < 0 ? '' : fields[columns.blocked]!,
          blockedUntil: columns.blockedUntil < 0 ? '' : fields[columns.blockedUntil]!,
          openAccess: columns.openAccess < 0 ? '' : fields[columns.openAccess]!,
          staff: columns.staff < 0 ? '' : fields[columns.staff]!,
          groups: columns.groups < 0 ? '' : fields[columns.groups]!,
        };
        // The schema is asked only about a row the direct checks refuse: it names every problem.
        let member = checks.parse(raw);
        if (member === undefined) {
          const result = checks.schema.safeParse(raw);
          if (result.success) {
            member = result.data;
          } else {
            if (isHeader(fields, header)) {
              reject(line, 'repeats the header line');
              continue;
            }
            const reason = result.error.issues
              .map((issue) => {
                const field = issue.path[0] as MemberField;
                return `${mapping.columns[field] ?? field}: ${withhold(issue.message, raw.cardNumber)}`;
              })
              .join('; ');
            reject(line, reason);
            continue;
          }
        }
        // Groups are the one free-text field that is stored: a shifted column must not put a card number there.
        if (member.groups.length > 0 && member.groups.some((g) => g.toUpperCase().includes(member.cardNumber))) {
          reject(line, `${mapping.columns.groups ?? 'groups'}: contains the card number`);
          continue;
        }
        lines.push(line);
        ids.push(member.cardNumber);
        // The card hash is made with the batch's (hashes.add); the fields' text does not depend on it.
        const row: MemberRow = {
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
        texts.push(memberFieldsText(row));
        out.push(row);
      }
      if (out.length > 0) for (const done of await hashes.add(out, ids, texts)) yield digested(done);
      ids = [];
      texts = [];
    }
    for (const done of await hashes.drain()) yield digested(done);
    if (columns === undefined) throw new ImportError(`${filePath}: the file has no header and no rows: nothing changed`);
    const cut = tail.problem(filePath);
    if (cut !== undefined) throw new ImportError(cut, [...rejected].sort((a, b) => a.line - b.line));
    if (total === 0) throw new ImportError(`${filePath}: the file has a header but no member rows: nothing changed`);
    progress('applying');
  }

  const verify = (diff: MemberListDiff): void => {
    const limit = mapping.maxRejectedFraction;
    if (rejectedCount > total * limit) {
      rejected.sort((a, b) => a.line - b.line);
      const percent = ((rejectedCount / total) * 100).toFixed(1);
      throw new ImportError(
        `${filePath}: ${rejectedCount} of ${total} rows rejected (${percent}%, more than the ${limit * 100}% allowed): nothing changed`,
        rejected,
      );
    }
    if (diff.count === 0) throw new ImportError(`${filePath}: no usable member rows: nothing changed`, rejected);
    // Every member of the list in force is unchanged, changed or removed by the new one. With a new key every card
    // hash changes, so all of the old list goes: that is no sign of a cut-short file.
    const previousCount = diff.unchanged + diff.changed + diff.removed;
    if (options.newKey !== true && previousCount > 0 && diff.removed > previousCount * maxRemovedFraction) {
      rejected.sort((a, b) => a.line - b.line);
      throw new ImportError(
        `${filePath}: would remove ${diff.removed} of the ${previousCount} members (more than the ${maxRemovedFraction * 100}% allowed; ` +
          'a cut-short export?); if the list really shrank, import it with --max-removed-fraction 1: nothing changed',
        rejected,
      );
    }
  };

  let result: ReplaceResult;
  try {
    result = await store.members.replaceAllAsync(
      rows(),
      { source: options.source ?? `csv:${basename(filePath)}`, appliedAt: now },
      {
        verify,
        onDuplicate: (position, first) => reject(lines.at(position), `${mapping.columns.cardNumber}: the same card as line ${lines.at(first)}`),
      },
    );
  } catch (error) {
    if (error instanceof ImportError) throw error;
    if (error instanceof InvalidUtf8Error) throw new ImportError(error.describe(filePath));
    if (error instanceof CsvError) throw new ImportError(`${filePath}: line ${csvLine(error)}: ${csvProblem(error)}: nothing changed`);
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && !code.startsWith('SQLITE')) {
      throw new ImportError(`${filePath}: cannot read the file (${code}): nothing changed`);
    }
    throw error;
  } finally {
    worker?.close();
    parser.destroy();
    utf8.destroy();
    input.destroy();
  }
  if (options.keyId !== undefined) {
    // After the commit, bound to the new list's hash: if this write is lost, the record is stale, not wrong.
    store.settings.set(LIST_KEY_SETTING, { keyId: options.keyId, hash: result.hash } satisfies ListKey);
  }
  progress('done');
  rejected.sort((a, b) => a.line - b.line);
  return {
    added: result.added,
    changed: result.changed,
    removed: result.removed,
    unchanged: result.unchanged,
    rejected,
    rejectedCount,
    total,
    count: result.count,
    version: result.version,
    hash: result.hash,
  };
}
