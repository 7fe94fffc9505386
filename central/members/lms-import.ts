// `oag central members import FILE.csv`, the watched folder, and the bench: an LMS member export (CSV) → a new
// version of the member list, all or nothing.
//
// The file streams through the member-export reader (policies/member-csv.ts); each row is checked against the row
// schema, its card number normalised, and hashed with the deployment key with its batch of 500 rows (from a 4 MiB
// file in a worker thread of this process, kit/card-hash-worker.ts). The clear number lives only in memory until
// its batch is hashed: it is not kept, logged, quoted in a message or written anywhere. Bad rows are reported by line and column and left out; a file
// that is unusable as a whole (unreadable, too large, not UTF-8, empty, cut short, columns missing, too many bad
// rows, or one that would remove most of the list) throws LmsImportError and changes nothing.
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
import type { BranchList, LmsField, LmsMapping } from './config.js';
import { createLmsRowChecks, type LmsRowInput, type ParsedLmsRow } from './lms-row.js';
import type { CentralMemberStore, ListDiff, MemberVersion } from './member-store.js';

export interface RejectedRow {
  line: number;
  reason: string;
}

export interface LmsImportProgress {
  phase: 'reading' | 'applying' | 'done';
  rows: number;
  bytesRead: number;
  totalBytes: number;
}

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
  /** Hash in a worker thread from a file of this many bytes (default HASH_WORKER_FROM_BYTES). */
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
  /** Members in the list now current. */
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

export const MAX_REJECTED_LISTED = 10_000;
const PROGRESS_EVERY = 2_000;
const NO_CARD_HASH = Buffer.alloc(32);
const FIELDS: readonly LmsField[] = ['cardNumber', 'birthDate', 'adult', 'expires', 'category', 'blocked', 'blockedUntil', 'fines', 'openAccess', 'staff', 'groups'];

function readableSize(filePath: string): number {
  let size: number;
  try {
    const stat = statSync(filePath);
    if (!stat.isFile()) throw new LmsImportError(`${filePath}: not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof LmsImportError) throw error;
    throw new LmsImportError(`${filePath}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'}): nothing changed`);
  }
  if (size === 0) throw new LmsImportError(`${filePath}: the file is empty: nothing changed`);
  const tooLarge = csvFileTooLarge(filePath, size);
  if (tooLarge !== undefined) throw new LmsImportError(tooLarge);
  return size;
}



export async function importLmsCsv(members: CentralMemberStore, filePath: string, options: LmsImportOptions): Promise<LmsImportSummary> {
  const { mapping, hasher, onProgress, now } = options;
  const totalBytes = readableSize(filePath);
  const checks = createLmsRowChecks(mapping, now.toISOString().slice(0, 10));
  const rejected: RejectedRow[] = [];
  let rejectedCount = 0;
  let total = 0;
  const tail = new TruncationCheck();
  const reject = (line: number, reason: string): void => {
    rejectedCount++;
    tail.rejected(line);
    if (rejected.length < MAX_REJECTED_LISTED) rejected.push({ line, reason });
  };
  const duplicate = (line: number, first: number): void => reject(line, `${mapping.columns.cardNumber}: the same card as line ${first}`);

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
  const progress = (phase: LmsImportProgress['phase']): void => onProgress?.({ phase, rows: total, bytesRead, totalBytes });

  const staging = members.beginImport();
  const worker = totalBytes >= (options.hashWorkerFromBytes ?? HASH_WORKER_FROM_BYTES) ? CardHashWorker.start(hasher) : null;
  const hashes = new HashQueue<{ kept: number[]; texts: string[] }>(hasher, worker);
  // A batch's rows: card numbers, fields' text, and line (negative: kept off the branches' list).
  let ids: string[] = [];
  let texts: string[] = [];
  let kept: number[] = [];
  const stage = (done: Array<[{ kept: number[]; texts: string[] }, Uint8Array]>): void => {
    for (const [batch, out] of done) {
      for (let i = 0; i < batch.kept.length; i++) {
        const { cardHash, digest } = hashedRow(out, i);
        const line = batch.kept[i]!;
        if (line < 0) staging.addUnlisted(cardHash, batch.texts[i]!, -line);
        else staging.add(cardHash, batch.texts[i]!, digest, line);
      }
    }
  };
  try {
    let columns: Record<LmsField, number> | undefined;
    let header: readonly string[] = [];
    let width = 0;
    try {
      for await (const batch of parser as AsyncIterable<ParsedRecord[]>) {
        for (const { line, fields } of batch) {
          if (columns === undefined) {
            header = fields;
            columns = locate(fields, FIELDS, mapping.columns, { filePath, configPath: 'members.import.columns' }, (message) => new LmsImportError(message));
            width = fields.length;
            continue;
          }
          if (fields.every((f) => f.trim() === '')) continue;
          tail.record(line);
          total++;
          if (total % PROGRESS_EVERY === 0) progress('reading');
          if (fields.length !== width && !(fields.length > width && fields.slice(width).every((f) => f.trim() === ''))) {
            reject(line, `has ${fields.length} fields where the header has ${width}`);
            continue;
          }
          const raw = {} as LmsRowInput;
          for (const field of FIELDS) raw[field] = columns[field] < 0 ? '' : fields[columns[field]]!;
          // The schema is asked only about a row the direct checks refuse: it names every problem.
          let parsed: ParsedLmsRow | undefined = checks.parse(raw);
          if (parsed === undefined) {
            const result = checks.schema.safeParse(raw);
            if (result.success) {
              parsed = result.data;
            } else {
              if (isHeader(fields, header)) {
                reject(line, 'repeats the header line');
                continue;
              }
              const reason = result.error.issues
                .map((issue) => {
                  const field = issue.path[0] as LmsField;
                  return `${mapping.columns[field] ?? field}: ${withhold(issue.message, raw.cardNumber)}`;
                })
                .join('; ');
              reject(line, reason);
              continue;
            }
          }
          const { cardNumber, member } = parsed;
          // Groups are the one free-text field that is kept: a shifted column must not put a card number there.
          if (member.groups.some((g) => g.toUpperCase().includes(cardNumber))) {
            reject(line, `${mapping.columns.groups ?? 'groups'}: contains the card number`);
            continue;
          }
          // The fields' text does not depend on the card hash, which is made with the batch's (hashes.add).
          ids.push(cardNumber);
          texts.push(memberFieldsText({ cardHash: NO_CARD_HASH, ...member }));
          // A branch's list, and so a stolen branch, holds only the people who can use the branch; central keeps the
          // others so that registering one at the desk reaches the door at once (CentralMembers.change).
          kept.push(options.branchList === 'registered' && !member.openAccess && !member.staff ? -line : line);
        }
        if (kept.length > 0) stage(await hashes.add({ kept, texts }, ids, texts));
        ids = [];
        texts = [];
        kept = [];
      }
      stage(await hashes.drain());
    } catch (error) {
      if (error instanceof LmsImportError) throw error;
      if (error instanceof InvalidUtf8Error) throw new LmsImportError(error.describe(filePath));
      if (error instanceof CsvError) throw new LmsImportError(`${filePath}: line ${csvLine(error)}: ${csvProblem(error)}: nothing changed`);
      const code = (error as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && !code.startsWith('SQLITE')) throw new LmsImportError(`${filePath}: cannot read the file (${code}): nothing changed`);
      throw error;
    }
    if (columns === undefined) throw new LmsImportError(`${filePath}: the file has no header and no rows: nothing changed`);
    const cut = tail.problem(filePath);
    if (cut !== undefined) throw new LmsImportError(cut, [...rejected].sort((a, b) => a.line - b.line));
    if (total === 0) throw new LmsImportError(`${filePath}: the file has a header but no member rows: nothing changed`);
    progress('applying');
    staging.finish(duplicate);
    const notRegistered = staging.unlisted;
    rejected.sort((a, b) => a.line - b.line);
    const verify = (diff: ListDiff): void => {
      if (rejectedCount > total * mapping.maxRejectedFraction) {
        const percent = ((rejectedCount / total) * 100).toFixed(1);
        throw new LmsImportError(
          `${filePath}: ${rejectedCount} of ${total} rows rejected (${percent}%, more than the ${mapping.maxRejectedFraction * 100}% allowed): nothing changed`,
          rejected,
        );
      }
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
    const { version, diff } = staging.commit(
      { keyId: options.keyId, source: options.source ?? `csv:${basename(filePath)}`, at: now, keepVersions: options.keepVersions },
      verify,
    );
    const current: MemberVersion = version ?? members.current()!;
    progress('done');
    return {
      added: diff.added,
      changed: diff.changed,
      removed: diff.removed,
      unchanged: diff.unchanged,
      rejected,
      rejectedCount,
      notRegistered,
      total,
      count: current.count,
      version: current.version,
      created: version !== null,
      hash: current.hash,
    };
  } finally {
    worker?.close();
    staging.dispose();
    parser.destroy();
    utf8.destroy();
    input.destroy();
  }
}
