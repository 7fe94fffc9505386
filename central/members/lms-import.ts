// `oag central members import FILE.csv`, the watched folder, and the bench: an LMS member export (CSV) → a new
// version of the member list, all or nothing.
//
// The file streams through csv-parse; each row is checked against the row schema, its card number normalised and
// hashed with the deployment key at once. The clear number lives only inside the loop body: it is not kept,
// logged, quoted in a message or written anywhere. Bad rows are reported by line and column and left out; a file
// that is unusable as a whole (unreadable, empty, columns missing, too many bad rows, or one that would remove most
// of the list) throws LmsImportError and changes nothing.
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { CsvError, Parser } from 'csv-parse';
import { digestOfParts, memberFieldsText } from '../../policies/member-list.js';
import type { LmsField, LmsMapping } from './config.js';
import { createLmsRowSchema, type LmsRowInput } from './lms-row.js';
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
  /** The import's time: the version's time, and the day a debarment or a date of birth is compared with. */
  now: Date;
  keepVersions: number;
  source?: string | undefined;
  onProgress?: ((progress: LmsImportProgress) => void) | undefined;
}

export interface LmsImportSummary {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  rejected: RejectedRow[];
  rejectedCount: number;
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
const PARSE_BATCH = 500;
const MAX_RECORD_BYTES = 64 * 1024;
const FIELDS: readonly LmsField[] = ['cardNumber', 'birthDate', 'adult', 'expires', 'category', 'blocked', 'blockedUntil', 'fines', 'openAccess', 'staff', 'groups'];

const CSV_PROBLEMS: Record<string, string> = {
  CSV_INVALID_CLOSING_QUOTE: 'a quote inside a field that is not quoted as a whole',
  INVALID_OPENING_QUOTE: 'a quote inside a field that is not quoted as a whole',
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed',
  CSV_MAX_RECORD_SIZE: `a record longer than ${MAX_RECORD_BYTES} bytes`,
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'characters after a closing quote',
};

/** csv-parse's own messages quote field contents; ours give the line and the kind of problem only. */
function csvProblem(error: CsvError): string {
  return `not valid CSV: ${CSV_PROBLEMS[error.code] ?? error.code}`;
}

function csvLine(error: CsvError | undefined): number {
  const lines = error?.lines;
  return typeof lines === 'number' ? lines : 0;
}

interface ParsedRecord {
  line: number;
  fields: string[];
}

/** Hands records on in arrays (one await per few hundred rows), each with the line it was parsed at. */
class BatchingParser extends Parser {
  private batch: ParsedRecord[] = [];

  override push(record: unknown): boolean {
    if (record === null) {
      if (this.batch.length > 0) super.push(this.batch);
      this.batch = [];
      return super.push(null);
    }
    this.batch.push({ line: this.info.lines, fields: record as string[] });
    if (this.batch.length < PARSE_BATCH) return true;
    const full = this.batch;
    this.batch = [];
    return super.push(full);
  }
}

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
  return size;
}

function locateColumns(header: readonly string[], mapping: LmsMapping, filePath: string): Record<LmsField, number> {
  const names = header.map((h) => h.trim().toLowerCase());
  const index = {} as Record<LmsField, number>;
  const missing: string[] = [];
  for (const field of FIELDS) {
    const column = mapping.columns[field];
    if (column === undefined) {
      index[field] = -1;
      continue;
    }
    const key = column.toLowerCase();
    const at = names.indexOf(key);
    if (at < 0) missing.push(column);
    else if (names.indexOf(key, at + 1) >= 0) throw new LmsImportError(`${filePath}: the header has column "${column}" twice: nothing changed`);
    index[field] = at;
  }
  if (missing.length > 0) {
    // If the file has no header, its first line is a member's row: never quote it.
    const looksLikeData = header.some((h) => /\d{4,}/.test(h));
    const found = looksLikeData ? 'the first line does not look like a header' : `the header has ${header.map((h) => `"${h.trim()}"`).join(', ')}`;
    throw new LmsImportError(
      `${filePath}: missing column${missing.length === 1 ? '' : 's'} ${missing.map((c) => `"${c}"`).join(', ')} (${found}); ` +
        'check members.import.columns in the central config: nothing changed',
    );
  }
  return index;
}

function isHeader(fields: readonly string[], header: readonly string[]): boolean {
  return fields.length === header.length && fields.every((f, i) => f.trim().toLowerCase() === header[i]!.trim().toLowerCase());
}

function withhold(message: string, rawCard: string): string {
  const card = rawCard.trim();
  if (card.length < 4 || !message.includes(card)) return message;
  return message.split(card).join('(withheld)');
}

export async function importLmsCsv(members: CentralMemberStore, filePath: string, options: LmsImportOptions): Promise<LmsImportSummary> {
  const { mapping, hasher, onProgress, now } = options;
  const totalBytes = readableSize(filePath);
  const schema = createLmsRowSchema(mapping, now.toISOString().slice(0, 10));
  const rejected: RejectedRow[] = [];
  let rejectedCount = 0;
  let total = 0;
  const reject = (line: number, reason: string): void => {
    rejectedCount++;
    if (rejected.length < MAX_REJECTED_LISTED) rejected.push({ line, reason });
  };
  const duplicate = (line: number, first: number): void => reject(line, `${mapping.columns.cardNumber}: the same card as line ${first}`);

  const input = createReadStream(filePath);
  let bytesRead = 0;
  input.on('data', (chunk) => {
    bytesRead += chunk.length;
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
    reject(csvLine(error), error === undefined ? 'not valid CSV' : csvProblem(error));
  });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);
  const progress = (phase: LmsImportProgress['phase']): void => onProgress?.({ phase, rows: total, bytesRead, totalBytes });

  const staging = members.beginImport();
  try {
    let columns: Record<LmsField, number> | undefined;
    let header: readonly string[] = [];
    let width = 0;
    try {
      for await (const batch of parser as AsyncIterable<ParsedRecord[]>) {
        for (const { line, fields } of batch) {
          if (columns === undefined) {
            header = fields;
            columns = locateColumns(fields, mapping, filePath);
            width = fields.length;
            continue;
          }
          if (fields.every((f) => f.trim() === '')) continue;
          total++;
          if (total % PROGRESS_EVERY === 0) progress('reading');
          if (fields.length !== width && !(fields.length > width && fields.slice(width).every((f) => f.trim() === ''))) {
            reject(line, `has ${fields.length} fields where the header has ${width}`);
            continue;
          }
          const raw = {} as LmsRowInput;
          for (const field of FIELDS) raw[field] = columns[field] < 0 ? '' : fields[columns[field]]!;
          const result = schema.safeParse(raw);
          if (!result.success) {
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
          const { cardNumber, member } = result.data;
          // Groups are the one free-text field that is kept: a shifted column must not put a card number there.
          if (member.groups.some((g) => g.toUpperCase().includes(cardNumber))) {
            reject(line, `${mapping.columns.groups ?? 'groups'}: contains the card number`);
            continue;
          }
          const cardHash = hasher(cardNumber);
          const text = memberFieldsText({ cardHash, ...member });
          staging.add(cardHash, text, digestOfParts(cardHash, text), line);
        }
      }
    } catch (error) {
      if (error instanceof LmsImportError) throw error;
      if (error instanceof CsvError) throw new LmsImportError(`${filePath}: line ${csvLine(error)}: ${csvProblem(error)}: nothing changed`);
      const code = (error as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && !code.startsWith('SQLITE')) throw new LmsImportError(`${filePath}: cannot read the file (${code}): nothing changed`);
      throw error;
    }
    if (columns === undefined) throw new LmsImportError(`${filePath}: the file has no header and no rows: nothing changed`);
    if (total === 0) throw new LmsImportError(`${filePath}: the file has a header but no member rows: nothing changed`);
    progress('applying');
    staging.finish(duplicate);
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
        throw new LmsImportError(
          `${filePath}: would remove ${diff.removed} of the ${diff.previousCount} members (more than the ${mapping.maxRemovedFraction * 100}% allowed; ` +
            'a cut-short export?): nothing changed',
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
      total,
      count: current.count,
      version: current.version,
      created: version !== null,
      hash: current.hash,
    };
  } finally {
    staging.dispose();
    parser.destroy();
    input.destroy();
  }
}
