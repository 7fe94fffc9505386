// `oag members import`: a library system's member export (CSV) → the member table, in one atomic swap.
//
// The file streams through csv-parse; each row is checked against the row schema, its card number normalised and
// hashed at once. The clear number lives only inside the loop body: it is not kept, logged, quoted in a message
// or written anywhere. Bad rows are reported by line and column and left out; a file that is unusable as a whole
// (unreadable, empty, columns missing, too many bad rows) throws ImportError and changes nothing.
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { BatchingParser, CsvError, csvLine, csvProblem, isHeader, locateColumns as locate, MAX_RECORD_BYTES, withhold } from '../../policies/member-csv.js';
import type { ParsedRecord } from '../../policies/member-csv.js';
import type { MemberListDiff, MemberRow, ReplaceResult, Store } from '../store/index.js';
import { DEFAULT_MEMBER_MAPPING, type MemberField, type MemberImportMapping } from './mapping.js';
import { createMemberRowSchema, type MemberRowInput } from './row-schema.js';

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
const PROGRESS_EVERY = 2_000;
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
    if (!stat.isFile()) throw new ImportError(`${filePath}: not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof ImportError) throw error;
    throw new ImportError(`${filePath}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'}): nothing changed`);
  }
  if (size === 0) throw new ImportError(`${filePath}: the file is empty: nothing changed`);
  return size;
}


export async function importMembersCsv(store: Store, filePath: string, options: ImportOptions): Promise<ImportSummary> {
  const { hasher, onProgress, now } = options;
  const mapping = options.mapping ?? DEFAULT_MEMBER_MAPPING;
  const totalBytes = readableSize(filePath);
  const schema = createMemberRowSchema(mapping, new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10));
  const rejected: RejectedRow[] = [];
  let rejectedCount = 0;
  let total = 0;
  const reject = (line: number, reason: string): void => {
    rejectedCount++;
    if (rejected.length < MAX_REJECTED_LISTED) rejected.push({ line, reason });
  };

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

  const lines = new Lines();
  const progress = (phase: ImportProgress['phase']): void => onProgress?.({ phase, rows: total, bytesRead, totalBytes });

  async function* rows(): AsyncGenerator<MemberRow[]> {
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
        const result = schema.safeParse(raw);
        if (!result.success) {
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
        const member = result.data;
        // Groups are the one free-text field that is stored: a shifted column must not put a card number there.
        if (member.groups.length > 0 && member.groups.some((g) => g.toUpperCase().includes(member.cardNumber))) {
          reject(line, `${mapping.columns.groups ?? 'groups'}: contains the card number`);
          continue;
        }
        lines.push(line);
        out.push({
          cardHash: hasher(member.cardNumber),
          expires: member.expires,
          blocked: member.blocked,
          blockedUntil: member.blockedUntil,
          openAccess: member.openAccess,
          birthDate: member.birthDate,
          adult: member.adult,
          staff: member.staff,
          groups: member.groups,
          pinHash: null,
        });
      }
      if (out.length > 0) yield out;
    }
    if (columns === undefined) throw new ImportError(`${filePath}: the file has no header and no rows: nothing changed`);
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
    if (error instanceof CsvError) throw new ImportError(`${filePath}: line ${csvLine(error)}: ${csvProblem(error)}: nothing changed`);
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && !code.startsWith('SQLITE')) {
      throw new ImportError(`${filePath}: cannot read the file (${code}): nothing changed`);
    }
    throw error;
  } finally {
    parser.destroy();
    input.destroy();
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
