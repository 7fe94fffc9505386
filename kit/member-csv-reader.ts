// Reading a member export file row by row, for the three imports of one: the branch's `oag members import`,
// central's full LMS import and its delta files. One way of streaming the file (strict UTF-8, policies/member-csv.ts's
// parser), of counting and reporting bad rows by line, of refusing a file unusable as a whole, and of saying how far
// it has got; what a row means is the caller's (its schema, its store).
import { createReadStream, statSync, type ReadStream } from 'node:fs';
import type { Transform } from 'node:stream';
import {
  BatchingParser,
  CsvError,
  csvFileTooLarge,
  csvLine,
  csvProblem,
  InvalidUtf8Error,
  isHeader,
  locateColumns,
  MAX_RECORD_BYTES,
  TruncationCheck,
  utf8Checked,
  withhold,
  type ParsedRecord,
} from '../policies/member-csv.js';

export interface RejectedRow {
  line: number;
  reason: string;
}

export interface MemberCsvProgress {
  phase: 'reading' | 'applying' | 'done';
  /** Data rows read so far. */
  rows: number;
  bytesRead: number;
  totalBytes: number;
}

/** The caller's error for a refused file; `rejected`, the rows rejected so far (by line) when they say why. */
export type FileRefusal = (message: string, rejected?: readonly RejectedRow[]) => Error;

export interface MemberCsvReaderOptions<F extends string> {
  delimiter: string;
  /** The fields the caller reads, the card number first, and the header's column for each (one not given is read as ''). */
  fields: readonly F[];
  columns: Partial<Record<F, string>>;
  /** Where in the config `columns` lives, for the message naming a missing column. */
  configPath: string;
  refuse: FileRefusal;
  /** Why an empty file is refused, after "the file is empty". */
  emptyHint?: string | undefined;
  onProgress?: ((progress: MemberCsvProgress) => void) | undefined;
}

/** Bad rows listed by line; the count goes on past it. */
export const MAX_REJECTED_LISTED = 10_000;
const PROGRESS_EVERY = 2_000;

/**
 * One export file: `records()` yields its data rows a parser batch at a time, each with as many fields as the
 * header (a row with another count, or one csv-parse cannot read, is rejected here); `finish()` refuses a file that
 * was unusable as a whole. The file's size is checked when this is made, before anything is opened.
 */
export class MemberCsvReader<F extends string> {
  readonly totalBytes: number;
  readonly rejected: RejectedRow[] = [];
  rejectedCount = 0;
  /** Data rows in the file (header and blank lines not counted). */
  total = 0;
  bytesRead = 0;
  /** Column index per field (-1: not mapped), once the header is read. */
  columns: Record<F, number> | undefined;
  private header: readonly string[] = [];
  private shared: Record<F, string> | undefined;
  private sharedAt: number[] = [];
  private readonly tail = new TruncationCheck();
  private readonly streams: Array<ReadStream | Transform> = [];

  constructor(
    readonly filePath: string,
    private readonly options: MemberCsvReaderOptions<F>,
  ) {
    this.totalBytes = readableSize(filePath, options.refuse, options.emptyHint);
  }

  reject(line: number, reason: string): void {
    this.rejectedCount++;
    this.tail.rejected(line);
    if (this.rejected.length < MAX_REJECTED_LISTED) this.rejected.push({ line, reason });
  }

  /** Rejects a row for its field problems (a schema's issues, by field): named by column, the card number withheld. */
  rejectIssues(line: number, fields: readonly string[], issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string }>, rawCard: string): void {
    if (isHeader(fields, this.header)) {
      this.reject(line, 'repeats the header line');
      return;
    }
    this.reject(line, issues.map((issue) => `${this.columnName(issue.path[0] as F)}: ${withhold(issue.message, rawCard)}`).join('; '));
  }

  /** The header's name for a field, as the config maps it. */
  columnName(field: F): string {
    return this.options.columns[field] ?? field;
  }

  isHeaderAgain(fields: readonly string[]): boolean {
    return isHeader(fields, this.header);
  }

  /** Each mapped field's text in a row that records() yielded. */
  pick(fields: readonly string[]): Record<F, string> {
    const columns = this.columns!;
    const raw = {} as Record<F, string>;
    for (const field of this.options.fields) raw[field] = columns[field] < 0 ? '' : fields[columns[field]]!;
    return raw;
  }

  /**
   * As pick, into one object reused for every row (a full import's million rows make no object each): read it before
   * the next call, never keep it.
   */
  pickShared(fields: readonly string[]): Record<F, string> {
    let shared = this.shared;
    if (shared === undefined) {
      const columns = this.columns!;
      this.sharedAt = this.options.fields.map((field) => columns[field]);
      shared = this.shared = this.pick(fields);
    }
    const names = this.options.fields;
    const at = this.sharedAt;
    for (let i = 0; i < at.length; i++) {
      const column = at[i]!;
      shared[names[i]!] = column < 0 ? '' : fields[column]!;
    }
    return shared;
  }

  progress(phase: MemberCsvProgress['phase']): void {
    this.options.onProgress?.({ phase, rows: this.total, bytesRead: this.bytesRead, totalBytes: this.totalBytes });
  }

  async *records(): AsyncGenerator<ParsedRecord[]> {
    const { options, tail } = this;
    const input = createReadStream(this.filePath);
    input.on('data', (chunk) => {
      this.bytesRead += chunk.length;
      tail.bytes(chunk as Buffer);
    });
    const parser = new BatchingParser({
      bom: true,
      delimiter: options.delimiter,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      max_record_size: MAX_RECORD_BYTES,
    });
    // After a record over the size limit, csv-parse does not find the next line again: the rows after it would be
    // lost without a word, and an import would drop their members. The file is refused instead.
    let overlong: Error | undefined;
    parser.on('skip', (error: CsvError | undefined) => {
      this.total++;
      tail.skipped(error);
      this.reject(csvLine(error), error === undefined ? 'not valid CSV' : csvProblem(error));
      if (error?.code === 'CSV_MAX_RECORD_SIZE') {
        overlong ??= options.refuse(
          `${this.filePath}: line ${csvLine(error)} is longer than ${MAX_RECORD_BYTES} bytes, so the lines after it cannot be read reliably ` +
            '(a quote left open, or not a member export): nothing changed',
          this.sortedRejected(),
        );
      }
    });
    const utf8 = utf8Checked();
    input.on('error', (error) => parser.destroy(error));
    utf8.on('error', (error) => parser.destroy(error));
    input.pipe(utf8).pipe(parser);
    this.streams.push(parser, utf8, input);

    let width = 0;
    let cardAt = 0;
    for await (const batch of parser as AsyncIterable<ParsedRecord[]>) {
      if (overlong !== undefined) throw overlong;
      const rows: ParsedRecord[] = [];
      for (const record of batch) {
        const { line, fields } = record;
        if (this.columns === undefined) {
          this.header = fields;
          this.columns = locateColumns(fields, options.fields, options.columns, { filePath: this.filePath, configPath: options.configPath }, (m) => options.refuse(m));
          width = fields.length;
          cardAt = this.columns[options.fields[0]!];
          continue;
        }
        // Every row has a card number: a look at it spares the whole row's for all but blank ones.
        if (fields[cardAt]?.trim() === '' && fields.every((f) => f.trim() === '')) continue;
        tail.record(line);
        this.total++;
        if (this.total % PROGRESS_EVERY === 0) this.progress('reading');
        if (fields.length !== width && !(fields.length > width && fields.slice(width).every((f) => f.trim() === ''))) {
          this.reject(line, `has ${fields.length} fields where the header has ${width}`);
          continue;
        }
        rows.push(record);
      }
      yield rows;
    }
    if (overlong !== undefined) throw overlong;
  }

  /** After the last record: refuses a file with no header, one cut short, or (`needRows`) one with no data rows. */
  finish(needRows: boolean): void {
    const { filePath, options } = this;
    if (this.columns === undefined) throw options.refuse(`${filePath}: the file has no header and no rows: nothing changed`);
    const cut = this.tail.problem(filePath);
    if (cut !== undefined) throw options.refuse(cut, this.sortedRejected());
    if (needRows && this.total === 0) throw options.refuse(`${filePath}: the file has a header but no member rows: nothing changed`);
  }

  /** Refuses the file when more than `maxFraction` of its rows were rejected. */
  checkRejected(maxFraction: number): void {
    const { rejectedCount, total } = this;
    if (rejectedCount <= total * maxFraction) return;
    const percent = ((rejectedCount / total) * 100).toFixed(1);
    throw this.options.refuse(
      `${this.filePath}: ${rejectedCount} of ${total} rows rejected (${percent}%, more than the ${maxFraction * 100}% allowed): nothing changed`,
      this.sortedRejected(),
    );
  }

  sortedRejected(): RejectedRow[] {
    return this.rejected.sort((a, b) => a.line - b.line);
  }

  /** An error met while reading, as the caller's refusal; one that is not about the file (a database's) as it is. */
  refusal(error: unknown): unknown {
    const { filePath, options } = this;
    if (error instanceof InvalidUtf8Error) return options.refuse(error.describe(filePath));
    if (error instanceof CsvError) return options.refuse(`${filePath}: line ${csvLine(error)}: ${csvProblem(error)}: nothing changed`);
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && !code.startsWith('SQLITE')) return options.refuse(`${filePath}: cannot read the file (${code}): nothing changed`);
    return error;
  }

  close(): void {
    for (const stream of this.streams) stream.destroy();
  }

  /** The caller's refusal of the file (a reader in another thread refused it). */
  refuse(message: string, rejected?: readonly RejectedRow[]): Error {
    return this.options.refuse(message, rejected);
  }

  /** What was counted of the rows so far, to hand to a reader of the same file in another thread. */
  counts(): ReaderCounts {
    return { rejected: this.sortedRejected(), rejectedCount: this.rejectedCount, total: this.total, bytesRead: this.bytesRead };
  }

  /** Takes over the counts of the reader that read the file in another thread. */
  adopt(counts: ReaderCounts): void {
    this.rejected.length = 0;
    this.rejected.push(...counts.rejected);
    this.rejectedCount = counts.rejectedCount;
    this.total = counts.total;
    this.bytesRead = counts.bytesRead;
  }
}

export interface ReaderCounts {
  rejected: RejectedRow[];
  rejectedCount: number;
  total: number;
  bytesRead: number;
}

function readableSize(filePath: string, refuse: FileRefusal, emptyHint: string | undefined): number {
  let size: number;
  try {
    const stat = statSync(filePath);
    if (stat.isDirectory()) throw refuse(`${filePath}: is a folder, not a file: nothing changed`);
    if (!stat.isFile()) throw refuse(`${filePath}: not a file: nothing changed`);
    size = stat.size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw refuse(`${filePath}: cannot read the file (${code}): nothing changed`);
  }
  if (size === 0) throw refuse(`${filePath}: the file is empty${emptyHint === undefined ? '' : ` (${emptyHint})`}: nothing changed`);
  const tooLarge = csvFileTooLarge(filePath, size);
  if (tooLarge !== undefined) throw refuse(tooLarge);
  return size;
}
