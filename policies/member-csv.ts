// Reading a member export (CSV) into line-numbered records, shared by the branch's `oag members import` and
// central's LMS import: one parser, one way of naming a bad file. No I/O here: callers bring the byte stream.
import { CsvError, Parser } from 'csv-parse';

export { CsvError };

/** Records handed on per await (one await per few hundred rows, not per row). */
export const PARSE_BATCH = 500;
export const MAX_RECORD_BYTES = 64 * 1024;

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
