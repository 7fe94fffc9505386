// Reading text that came from outside (files, MQTT payloads, HTTP bodies) before anything parses it: a size limit
// checked first, strict UTF-8 with the offset of the first bad byte, and YAML that cannot blow up. The decoders of
// Node and of the libraries are lenient on purpose (a bad byte becomes U+FFFD, an alias bomb a stack trace);
// here a bad input is refused with a message that says what to fix, and nothing downstream sees it.
// Pure: callers bring the bytes.
import { parseDocument } from 'yaml';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** A policy file or payload: a large branch's year of exceptions and bookings is a few tens of KiB. */
export const MAX_POLICY_BYTES = 256 * KiB;
/** A gateway or central config file, or a column mapping. */
export const MAX_CONFIG_BYTES = 256 * KiB;
/** A deployment key file: 32 bytes written as hex or base64 and a newline; anything bigger is not a key. */
export const MAX_KEY_FILE_BYTES = 4 * KiB;
/** An HTTP request body (the largest is a policy). */
export const MAX_HTTP_BODY_BYTES = 256 * KiB;
/**
 * A member export (CSV). Ten million members at ~100 bytes a row; the import streams, so this bounds the time an
 * import may take rather than memory.
 */
export const MAX_MEMBER_CSV_BYTES = 1 * GiB;
/** Aliases (`*weekday`) a YAML document may resolve; the examples use 6. */
export const MAX_YAML_ALIASES = 100;

export type TextResult = { ok: true; text: string } | { ok: false; error: string };

/** `256 KiB`, `1 GiB`, `20.3 MiB`: limits and sizes as people read them. */
export function formatBytes(n: number): string {
  const units: [number, string][] = [
    [GiB, 'GiB'],
    [MiB, 'MiB'],
    [KiB, 'KiB'],
  ];
  for (const [size, unit] of units) {
    if (n >= size) {
      const value = n / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
  }
  return `${n} bytes`;
}

/** The refusal for an input over its limit; `size` when it is known (a stream may stop counting at the limit). */
export function tooLarge(what: string, maxBytes: number, size?: number): string {
  const got = size === undefined ? `more than ${formatBytes(maxBytes)}` : `${size.toLocaleString('en-GB')} bytes`;
  return `${what}: too large (${got}; the limit is ${formatBytes(maxBytes)})`;
}

/**
 * Checks UTF-8 as it streams by, for inputs too large to hold (a member export). `push` returns the absolute offset
 * of the first byte of the first bad sequence, or -1; `end` reports a sequence cut off by the end of the input.
 */
export class Utf8Validator {
  private offset = 0;
  /** Continuation bytes still expected, and the range the next one must fall in (RFC 3629 table 3-7). */
  private need = 0;
  private lower = 0x80;
  private upper = 0xbf;
  private start = 0;

  push(bytes: Uint8Array): number {
    const base = this.offset;
    this.offset += bytes.length;
    let need = this.need;
    let i = 0;
    // Most exports are ASCII: skip runs of it without the state machine.
    if (need === 0) while (i < bytes.length && bytes[i]! < 0x80) i++;
    for (; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (need === 0) {
        if (b < 0x80) continue;
        this.start = base + i;
        this.lower = 0x80;
        this.upper = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) need = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          if (b === 0xe0) this.lower = 0xa0; // overlong
          if (b === 0xed) this.upper = 0x9f; // UTF-16 surrogates
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          if (b === 0xf0) this.lower = 0x90; // overlong
          if (b === 0xf4) this.upper = 0x8f; // beyond U+10FFFF
        } else {
          this.need = 0;
          return base + i;
        }
        continue;
      }
      if (b < this.lower || b > this.upper) {
        this.need = 0;
        return this.start;
      }
      this.lower = 0x80;
      this.upper = 0xbf;
      need--;
    }
    this.need = need;
    return -1;
  }

  end(): number {
    return this.need > 0 ? this.start : -1;
  }
}

/** Where a bad sequence starts, or -1 when all of `bytes` is UTF-8. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  const validator = new Utf8Validator();
  const at = validator.push(bytes);
  return at >= 0 ? at : validator.end();
}

/** The message for a bad byte: its offset, its line (people open the file in an editor), and a hint for UTF-16. */
export function invalidUtf8(what: string, offset: number, bytes?: Uint8Array): string {
  let where = `byte ${offset}`;
  if (bytes !== undefined) {
    let line = 1;
    for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
    where += ` (line ${line})`;
  }
  const utf16 = bytes !== undefined && bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  return `${what}: not valid UTF-8 at ${where}${utf16 ? '; it looks like UTF-16: save it as UTF-8' : ''}`;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes from outside → text, or why not: over `maxBytes`, or not UTF-8 (with the offset of the first bad byte).
 * A leading byte-order mark is dropped (Windows editors write one).
 */
export function decodeUtf8(bytes: Uint8Array, options: { what: string; maxBytes: number }): TextResult {
  const { what, maxBytes } = options;
  if (bytes.length > maxBytes) return { ok: false, error: tooLarge(what, maxBytes, bytes.length) };
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, error: invalidUtf8(what, Math.max(0, invalidUtf8Offset(bytes)), bytes) };
  }
  return { ok: true, text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
}

/** The UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The size check for text that arrived already decoded (a string payload, a caller's own read). */
export function checkTextSize(text: string, options: { what: string; maxBytes: number }): TextResult {
  const { what, maxBytes } = options;
  // A UTF-16 unit is at least one UTF-8 byte and at most three: count only when it could matter.
  if (text.length * 3 <= maxBytes) return { ok: true, text };
  const size = utf8Length(text);
  if (size > maxBytes) return { ok: false, error: tooLarge(what, maxBytes, size) };
  return { ok: true, text };
}

/** One problem with a YAML document; line and column when the parser knows them. */
export interface YamlProblem {
  message: string;
  line?: number | undefined;
  col?: number | undefined;
}

const MAX_YAML_ERRORS_SHOWN = 20;

export type YamlParse = { ok: true; value: unknown } | { ok: false; errors: string[]; problems: YamlProblem[] };

function failed(what: string, problems: YamlProblem[]): YamlParse {
  return {
    ok: false,
    problems,
    errors: problems.map((p) => `${what}${p.line === undefined ? '' : `:${p.line}:${p.col ?? 1}`}: ${p.message}`),
  };
}

/**
 * YAML text → plain data, or `what:line:col: message` lines; never throws. YAML 1.2 (`08:00` stays a string),
 * duplicate keys are errors, and at most MAX_YAML_ALIASES aliases are resolved: each alias copies its anchor's
 * content, so a few lines of nested aliases ("billion laughs") would otherwise expand to gigabytes.
 */
export function parseYamlDocument(text: string, what: string, options: { maxAliasCount?: number } = {}): YamlParse {
  const maxAliasCount = options.maxAliasCount ?? MAX_YAML_ALIASES;
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { version: '1.2', uniqueKeys: true, prettyErrors: true });
  } catch (error) {
    // The parser reports its own errors, deep nesting included; this is for the one that would still escape.
    return failed(what, [{ message: `cannot be read as YAML (${(error as Error).message})` }]);
  }
  if (doc.errors.length > 0) {
    // An unclosed bracket early on makes the parser report every line after it: the first ones say enough.
    const shown = doc.errors.slice(0, MAX_YAML_ERRORS_SHOWN).map((e): YamlProblem => {
      const pos = e.linePos?.[0];
      const message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
      return { message, line: pos?.line, col: pos?.col };
    });
    const more = doc.errors.length - shown.length;
    return failed(what, more > 0 ? [...shown, { message: `… and ${more} more YAML errors` }] : shown);
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount }) as unknown };
  } catch (error) {
    const message = (error as Error).message;
    if (/alias count/i.test(message)) return failed(what, [{ message: `too many YAML aliases (limit ${maxAliasCount})` }]);
    return failed(what, [{ message: `cannot be read as YAML (${message.split('\n')[0]})` }]);
  }
}

type ParseDone = (error: Error | null, value?: unknown) => void;

/**
 * An HTTP JSON body parser (fastify's `addContentTypeParser` with `parseAs: 'buffer'`) that decodes the bytes as
 * strict UTF-8 before `parseJson` (fastify's default JSON parser) sees them: a bad byte is a 400 naming its offset,
 * not a name quietly stored with U+FFFD in it. Typed loosely so that this module needs no HTTP framework.
 */
export function strictJsonBody<R>(maxBytes: number, parseJson: (request: R, text: string, done: ParseDone) => void, what = '(body)') {
  return (request: R, body: string | Buffer, done: ParseDone): void => {
    const text = decodeUtf8(typeof body === 'string' ? Buffer.from(body) : body, { what, maxBytes });
    if (!text.ok) {
      done(Object.assign(new Error(text.error), { statusCode: 400 }), undefined);
      return;
    }
    parseJson(request, text.text, done);
  };
}
