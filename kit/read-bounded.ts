// Reading the files a service is given (its config, a policy, a column mapping, a key file): never more than a
// limit, strict UTF-8. A file's size is not trusted: a FIFO or a device (`/dev/zero`) reports none and never ends,
// so the read itself stops one byte past the limit.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { decodeUtf8, tooLarge, type TextResult } from '../policies/input-text.js';

const READ_CHUNK = 64 * 1024;

export type BytesResult = { ok: true; bytes: Uint8Array } | { ok: false; error: string };

/** At most `maxBytes` of a file; `what` names it in the error (`(file)`, or the path). */
export function readFileBytes(path: string, options: { what: string; maxBytes: number }): BytesResult {
  const { what, maxBytes } = options;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    return { ok: false, error: `${what}: cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  try {
    // A regular file says its size: name it. Anything else is read until it passes the limit.
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > maxBytes) return { ok: false, error: tooLarge(what, maxBytes, stat.size) };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) return { ok: false, error: tooLarge(what, maxBytes) };
    }
    return { ok: true, bytes: Buffer.concat(chunks, total) };
  } catch (error) {
    // EISDIR: a folder opens, and fails on the first read.
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, error: `${what}: ${code === 'EISDIR' ? 'is a folder, not a file' : `cannot read: ${code ?? (error as Error).message}`}` };
  } finally {
    closeSync(fd);
  }
}

/** A text file from outside: at most `maxBytes`, strict UTF-8 (the offset of the first bad byte otherwise). */
export function readTextFile(path: string, options: { what: string; maxBytes: number }): TextResult {
  const read = readFileBytes(path, options);
  return read.ok ? decodeUtf8(read.bytes, options) : read;
}
