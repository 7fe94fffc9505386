// Reading a member export (CSV) into line-numbered records, shared by the branch's `oag members import` and
// central's LMS import: one parser, one way of naming a bad file. No I/O here: callers bring the byte stream.
import { Transform } from 'node:stream';
import { CsvError, Parser } from 'csv-parse';
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

/**
 * Hands records on in arrays, each with its line number taken as it is parsed (the stream's own counter runs
 * ahead of the consumer).
 */
export class BatchingParser extends Parser {
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
