// The member exports' reader splits plain lines itself and leaves the rest of the file to csv-parse from the first
// line that is not plain: what it hands on (records, their line numbers, the rows csv-parse skips and why, the error
// that ends a file) must be what csv-parse alone gives, for any file and however the file arrives in chunks.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BatchingParser, MAX_RECORD_BYTES, type ParsedRecord } from '../../../policies/member-csv.js';

const OPTIONS = { bom: true, delimiter: ',', relax_column_count: true, skip_empty_lines: true, skip_records_with_error: true, max_record_size: MAX_RECORD_BYTES } as const;

interface Read {
  records: string[];
  skipped: string[];
  error: string | null;
}

async function read(bytes: Buffer, chunkSizes: number[], csvParseOnly: boolean, delimiter = ','): Promise<Read> {
  // Naming the default quote is csv-parse's own reading exactly, and turns the line splitting off.
  const parser = new BatchingParser(csvParseOnly ? { ...OPTIONS, delimiter, quote: '"' } : { ...OPTIONS, delimiter });
  const skipped: string[] = [];
  parser.on('skip', (error: { code?: string; lines?: number } | undefined) => skipped.push(`${error?.code}@${error?.lines}`));
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = Math.max(1, chunkSizes[i % chunkSizes.length]!);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  Readable.from(chunks).pipe(parser);
  const records: string[] = [];
  let error: string | null = null;
  try {
    for await (const batch of parser as AsyncIterable<ParsedRecord[]>) for (const r of batch) records.push(`${r.line}:${JSON.stringify(r.fields)}`);
  } catch (e) {
    const err = e as { code?: string; lines?: number };
    error = `${err.code}@${err.lines}`;
  }
  return { records, skipped, error };
}

/** A small deterministic generator, so that a failure names its seed. */
function random(seed: number): () => number {
  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const PIECES = ['a', 'b1', '2026-01-31', ',', ',', ',', ';', ' ', 'é', '\n', '\n', '\r\n', '"', '""', '\r', '\uFEFF'];

function file(r: () => number, lines: number, crlf: boolean): Buffer {
  const plain = (): string => Array.from({ length: 1 + Math.floor(r() * 5) }, () => ['a', 'b1', '', ' x ', 'é'][Math.floor(r() * 5)]).join(',');
  let text = r() < 0.3 ? '\uFEFF' : '';
  for (let i = 0; i < lines; i++) {
    // Mostly plain lines, now and then one of anything (quotes, stray carriage returns, blank lines).
    text += r() < 0.85 ? plain() : Array.from({ length: 1 + Math.floor(r() * 6) }, () => PIECES[Math.floor(r() * PIECES.length)]).join('');
    if (i < lines - 1 || r() < 0.7) text += crlf ? '\r\n' : '\n';
  }
  return Buffer.from(text);
}

describe('member CSV reader', () => {
  it('reads 600 generated files as csv-parse alone does, in chunks of any size', async () => {
    let differentPaths = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const r = random(seed);
      const bytes = file(r, 1 + Math.floor(r() * 12), r() < 0.3);
      const chunks = [1 + Math.floor(r() * 7), 1 + Math.floor(r() * 40), 64 * 1024];
      const expected = await read(bytes, [64 * 1024], true);
      const actual = await read(bytes, chunks, false);
      expect({ seed, ...actual }).toEqual({ seed, ...expected });
      if (expected.skipped.length > 0 || expected.error !== null) differentPaths++;
    }
    // Some files had rows csv-parse refuses, so the hand-over was exercised on them.
    expect(differentPaths).toBeGreaterThan(20);
  });

  it('reads a plain export the same with each delimiter', async () => {
    for (const delimiter of [',', ';', '\t', '|']) {
      const bytes = Buffer.from(`card${delimiter}name\n1234${delimiter}Ann\n\n5678${delimiter}\n9012`);
      expect(await read(bytes, [5], false, delimiter)).toEqual(await read(bytes, [64 * 1024], true, delimiter));
    }
  });

  it('leaves a line too long for a record to csv-parse, which refuses it, in a chunk of plain lines', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `${1000 + i},x`);
    lines[150] = `1,${'y'.repeat(MAX_RECORD_BYTES + 10)}`;
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    // One chunk: what csv-parse reads after a record that long depends on how the file arrives.
    const expected = await read(bytes, [1 << 20], true);
    expect(expected.skipped).toEqual(['CSV_MAX_RECORD_SIZE@151']);
    expect(await read(bytes, [1 << 20], false)).toEqual(expected);
  });

  it('names the line of a bad row after many plain ones', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `${1000 + i},x`);
    lines[2500] = '1,"broken';
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    const actual = await read(bytes, [1000], false);
    // The quote is never closed: csv-parse names it at the end of the file, and the rows before it are read.
    expect(actual.skipped).toEqual(['CSV_QUOTE_NOT_CLOSED@3000']);
    expect(actual.records.at(-1)).toBe(`2500:${JSON.stringify(['3499', 'x'])}`);
    expect(actual).toEqual(await read(bytes, [64 * 1024], true));
  });
});
