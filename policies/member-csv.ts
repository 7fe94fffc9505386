// Reading a member export (CSV) into line-numbered records, shared by the branch's `oag members import` and
// central's LMS import: one parser, one way of naming a bad file. No I/O here: callers bring the byte stream.
import { Transform } from 'node:stream';
import { CsvError, Parser, type Options } from 'csv-parse';
import { MAX_MEMBER_CSV_BYTES, tooLarge, Utf8Validator } from './input-text.js';

export { CsvError, MAX_MEMBER_CSV_BYTES };

/** Records handed on per await (one await per few hundred rows, not per row). */
export const PARSE_BATCH = 500;
/** The longest record (a row, quoted line breaks included); a longer one is rejected as not valid CSV. */
export const MAX_RECORD_BYTES = 64 * 1024;

/** Why a file of `size` bytes is not read at all, or undefined. */
export function csvFileTooLarge(filePath: string, size: number): string | undefined {
  return size > MAX_MEMBER_CSV_BYTES ? `${tooLarge(filePath, MAX_MEMBER_CSV_BYTES, size)}: nothing changed` : undefined;
}

/** The export has a byte that is not UTF-8: csv-parse would read it as U+FFFD and import whatever that gives. */
export class InvalidUtf8Error extends Error {
  constructor(
    readonly offset: number,
    readonly line: number,
    readonly utf16: boolean,
  ) {
    super(`not valid UTF-8 at byte ${offset} (line ${line})`);
    this.name = 'InvalidUtf8Error';
  }

  describe(filePath: string): string {
    const hint = this.utf16 ? 'it looks like UTF-16: export it as UTF-8' : 'export it as UTF-8';
    return `${filePath}: ${this.message}; ${hint}: nothing changed`;
  }
}

/** Passes the bytes on unchanged, and fails the stream with InvalidUtf8Error at the first bad one. */
export function utf8Checked(): Transform {
  const validator = new Utf8Validator();
  let line = 1;
  let read = 0;
  let first = true;
  const linesIn = (chunk: Buffer, end: number): number => {
    let n = 0;
    for (let at = chunk.indexOf(0x0a); at >= 0 && at < end; at = chunk.indexOf(0x0a, at + 1)) n++;
    return n;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const utf16 = first && chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff));
      first = false;
      const start = read;
      read += chunk.length;
      const bad = validator.push(chunk);
      if (bad >= 0) {
        callback(new InvalidUtf8Error(bad, line + linesIn(chunk, Math.max(0, bad - start)), utf16));
        return;
      }
      line += linesIn(chunk, chunk.length);
      callback(null, chunk);
    },
    flush(callback) {
      const bad = validator.end();
      callback(bad >= 0 ? new InvalidUtf8Error(bad, line, false) : null);
    },
  });
}

/**
 * Watches how a file ends, to refuse an export that was cut off in the middle of writing or copying: its last line
 * has no line break and is a broken row, or it ends inside a quoted field. Such a file would otherwise import as
 * "the rows up to the cut", and every member after it would be removed.
 */
export class TruncationCheck {
  private lastLine = 0;
  private lastRejected = false;
  private unclosedQuote = false;
  private lastByte = -1;

  /** Every chunk of bytes read, in order. */
  bytes(chunk: Uint8Array): void {
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!;
  }

  /** A record was read at this line (its last line, for a record with quoted line breaks). */
  record(line: number): void {
    if (line >= this.lastLine) {
      this.lastLine = line;
      this.lastRejected = false;
    }
  }

  rejected(line: number): void {
    if (line >= this.lastLine) {
      this.lastLine = line;
      this.lastRejected = true;
    }
  }

  /** csv-parse skipped a record it could not parse. */
  skipped(error: CsvError | undefined): void {
    if (error?.code === 'CSV_QUOTE_NOT_CLOSED') this.unclosedQuote = true;
    this.rejected(csvLine(error));
  }

  /** Why the file looks cut short, or undefined. */
  problem(filePath: string): string | undefined {
    if (this.unclosedQuote) return `${filePath}: the file ends inside a quoted field (a quote is never closed): a cut-short export? nothing changed`;
    const endsLine = this.lastByte === 0x0a || this.lastByte === 0x0d;
    if (!endsLine && this.lastRejected) {
      return `${filePath}: the last line (${this.lastLine}) stops in the middle of a row, without a line break: a cut-short export? nothing changed`;
    }
    return undefined;
  }
}

const CSV_PROBLEMS: Record<string, string> = {
  CSV_INVALID_CLOSING_QUOTE: 'a quote inside a field that is not quoted as a whole',
  INVALID_OPENING_QUOTE: 'a quote inside a field that is not quoted as a whole',
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed',
  CSV_MAX_RECORD_SIZE: `a record longer than ${MAX_RECORD_BYTES} bytes`,
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'characters after a closing quote',
};

/** csv-parse's own messages quote field contents; ours give the line and the kind of problem only. */
export function csvProblem(error: CsvError): string {
  return `not valid CSV: ${CSV_PROBLEMS[error.code] ?? error.code}`;
}

export function csvLine(error: CsvError | undefined): number {
  const lines = error?.lines;
  return typeof lines === 'number' ? lines : 0;
}

export interface ParsedRecord {
  line: number;
  fields: string[];
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
/** A line longer than this is left to csv-parse, which knows how it counts a record's size. */
const FAST_LINE_BYTES = 4096;

/** UTF-8's byte-order mark, EF BB BF. */
const startsWithBom = (buf: Buffer): boolean => buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;

/**
 * Hands records on in arrays, each with its line number taken as it is parsed (the stream's own counter runs
 * ahead of the consumer).
 *
 * Most exports have no quotes at all, and csv-parse costs ~2.5 µs a row, seconds of a million-row import. So
 * lines are split here, byte for byte as csv-parse would, until the first line that is not plain (a quote, a
 * carriage return that is not the line break, a long line, a line break other than the first one's): from that
 * line on, csv-parse reads the rest, its line numbers and errors moved on by the lines read here.
 */
export class BatchingParser extends Parser {
  private batch: ParsedRecord[] = [];
  /** Whether lines are still split here. */
  private fast: boolean;
  private readonly separator: string;
  /** Line break: unknown until the first one is read, then `\n` or `\r\n` (csv-parse keeps the first it sees). */
  private crlf: boolean | undefined;
  private started = false;
  private pending: Buffer | null = null;
  /** Lines read here (before csv-parse took over). */
  private linesRead = 0;

  constructor(options: Options) {
    super({
      ...options,
      on_skip: (error: CsvError | undefined, chunk?: string) => {
        if (error !== undefined && typeof error.lines === 'number') error.lines += this.linesRead;
        this.emit('skip', error, chunk);
      },
    });
    const { delimiter = ',', bom, relax_column_count, skip_empty_lines, skip_records_with_error, max_record_size, ...other } = options;
    this.separator = typeof delimiter === 'string' ? delimiter : '';
    this.fast =
      this.separator.length === 1 &&
      this.separator !== '"' &&
      bom === true &&
      relax_column_count === true &&
      skip_empty_lines === true &&
      skip_records_with_error === true &&
      Number(max_record_size ?? 0) >= FAST_LINE_BYTES &&
      Object.keys(other).length === 0;
  }

  override push(record: unknown): boolean {
    if (record === null) {
      if (this.batch.length > 0) super.push(this.batch);
      this.batch = [];
      return super.push(null);
    }
    this.add(this.info.lines + this.linesRead, record as string[]);
    return true;
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.fast) {
      super._transform(chunk, encoding, this.moved(callback));
      return;
    }
    let buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    if (!this.started) {
      if (buf.length < 3) {
        this.pending = buf;
        callback();
        return;
      }
      this.started = true;
      if (startsWithBom(buf)) buf = buf.subarray(3);
    }
    this.splitLines(buf, encoding, callback, false);
  }

  override _flush(callback: (error?: Error | null) => void): void {
    if (!this.fast) {
      super._flush(this.moved(callback));
      return;
    }
    let rest = this.pending ?? Buffer.alloc(0);
    this.pending = null;
    if (!this.started && startsWithBom(rest)) rest = rest.subarray(3);
    this.started = true;
    this.splitLines(rest, 'utf8', callback, true);
  }

  /** The whole lines of `buf`; at the end of the file (`last`) the line without a break too, then the end. */
  private splitLines(buf: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void, last: boolean): void {
    let start = this.splitBlock(buf);
    for (let nl = buf.indexOf(LF, start); nl >= 0; nl = buf.indexOf(LF, start)) {
      if (!this.splitLine(buf, start, nl, true)) {
        this.handOver(buf.subarray(start), encoding, callback, last);
        return;
      }
      start = nl + 1;
    }
    if (!last) {
      if (start < buf.length) this.pending = Buffer.from(buf.subarray(start));
      this.flushBatch();
      callback();
      return;
    }
    if (start < buf.length && !this.splitLine(buf, start, buf.length, false)) {
      this.handOver(buf.subarray(start), encoding, callback, last);
      return;
    }
    this.push(null);
    callback();
  }

  /**
   * The whole lines at the start of `buf` at once, when none of them has a quote or a carriage return other than a
   * CRLF's and none is long: decoded as one text and split there (a line's own decoding and checks cost more than
   * its fields). Returns where it stopped: 0 when the lines are left to splitLine, one at a time.
   */
  private splitBlock(buf: Buffer): number {
    const end = buf.lastIndexOf(LF) + 1;
    if (end === 0) return 0;
    const block = buf.subarray(0, end);
    if (block.indexOf(QUOTE) >= 0) return 0;
    const crlf = block.indexOf(CR) >= 0;
    if (this.crlf !== undefined && this.crlf !== crlf) return 0;
    const lines = block.toString('utf8').split(crlf ? '\r\n' : '\n');
    // The block ends with its line break: the last piece is empty. A CRLF file's lines hold no other break.
    if (lines[lines.length - 1] !== '') return 0;
    const count = lines.length - 1;
    for (let i = 0; i < count; i++) {
      const line = lines[i]!;
      // A UTF-16 unit is at most 3 bytes of UTF-8.
      if (line.length * 3 > FAST_LINE_BYTES && Buffer.byteLength(line, 'utf8') > FAST_LINE_BYTES) return 0;
      if (crlf && (line.includes('\n') || line.includes('\r'))) return 0;
    }
    this.crlf = crlf;
    const separator = this.separator;
    for (let i = 0; i < count; i++) {
      this.linesRead++;
      const line = lines[i]!;
      if (line !== '') this.add(this.linesRead, line.split(separator));
    }
    return end;
  }

  /** Splits the line [start, end) (end at its LF, or the end of the file); false when it is not plain. */
  private splitLine(buf: Buffer, start: number, end: number, hasBreak: boolean): boolean {
    const cr = hasBreak && end > start && buf[end - 1] === CR;
    if (hasBreak && this.crlf !== undefined && this.crlf !== cr) return false;
    const stop = cr ? end - 1 : end;
    if (stop - start > FAST_LINE_BYTES) return false;
    const line = buf.subarray(start, stop);
    if (line.indexOf(QUOTE) >= 0 || line.indexOf(CR) >= 0) return false;
    if (hasBreak) this.crlf = cr;
    this.linesRead++;
    if (stop > start) this.add(this.linesRead, line.toString('utf8').split(this.separator));
    return true;
  }

  /** csv-parse reads from here on, keeping the line break already seen. */
  private handOver(rest: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void, last: boolean): void {
    this.fast = false;
    const state = (this as unknown as { state: { bomSkipped: boolean; recordDelimiterMaxLength: number } }).state;
    // The file's start, and its byte-order mark, were read here: `rest` starts in its middle.
    if (this.started) state.bomSkipped = true;
    this.started = true;
    if (this.crlf !== undefined) {
      // As csv-parse does when it finds the first line break itself.
      const lineBreak = Buffer.from(this.crlf ? '\r\n' : '\n');
      (this.options as unknown as { record_delimiter: Buffer[] }).record_delimiter.push(lineBreak);
      state.recordDelimiterMaxLength = lineBreak.length;
    }
    if (!last) {
      super._transform(rest, encoding, this.moved(callback));
      return;
    }
    super._transform(rest, encoding, (error) => {
      if (error) this.moved(callback)(error);
      else super._flush(this.moved(callback));
    });
  }

  /** csv-parse's errors name its own line; the lines read here come before it. */
  private moved(callback: (error?: Error | null) => void): (error?: Error | null) => void {
    return (error) => {
      if (error instanceof CsvError && typeof error.lines === 'number') error.lines += this.linesRead;
      callback(error);
    };
  }

  private add(line: number, fields: string[]): void {
    this.batch.push({ line, fields });
    if (this.batch.length >= PARSE_BATCH) this.flushBatch();
  }

  private flushBatch(): void {
    if (this.batch.length === 0) return;
    const full = this.batch;
    this.batch = [];
    super.push(full);
  }
}

/**
 * Column index per mapped field (-1 = not mapped), or the error `fail` makes naming what is missing.
 * `configPath` says where in the config the mapping lives, for the message.
 */
export function locateColumns<F extends string>(
  header: readonly string[],
  fields: readonly F[],
  columns: Partial<Record<F, string>>,
  where: { filePath: string; configPath: string },
  fail: (message: string) => Error,
): Record<F, number> {
  const names = header.map((h) => h.trim().toLowerCase());
  const index = {} as Record<F, number>;
  const missing: string[] = [];
  for (const field of fields) {
    const column = columns[field];
    if (column === undefined) {
      index[field] = -1;
      continue;
    }
    const key = column.toLowerCase();
    const at = names.indexOf(key);
    if (at < 0) missing.push(column);
    else if (names.indexOf(key, at + 1) >= 0) throw fail(`${where.filePath}: the header has column "${column}" twice: nothing changed`);
    index[field] = at;
  }
  if (missing.length > 0) {
    // If the file has no header, its first line is a member's row: never quote it.
    const looksLikeData = header.some((h) => /\d{4,}/.test(h));
    const found = looksLikeData ? 'the first line does not look like a header' : `the header has ${header.map((h) => `"${h.trim()}"`).join(', ')}`;
    throw fail(
      `${where.filePath}: missing column${missing.length === 1 ? '' : 's'} ${missing.map((c) => `"${c}"`).join(', ')} (${found}); ` +
        `check ${where.configPath} in the config: nothing changed`,
    );
  }
  return index;
}

/** A header line again (two exports concatenated): reported as such rather than as nine bad fields. */
export function isHeader(fields: readonly string[], header: readonly string[]): boolean {
  return fields.length === header.length && fields.every((f, i) => f.trim().toLowerCase() === header[i]!.trim().toLowerCase());
}

/** Withholds any part of a message that would repeat the row's card number (a misaligned row, say). */
export function withhold(message: string, rawCard: string): string {
  const card = rawCard.trim();
  if (card.length < 4 || !message.includes(card)) return message;
  return message.split(card).join('(withheld)');
}
