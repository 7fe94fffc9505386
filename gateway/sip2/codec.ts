// SIP2 (3M Standard Interchange Protocol v2.00) framing: a message is a two-digit code, fixed-length fields,
// then variable fields `XXvalue|`, then (error detection on) `AY<n>` and `AZxxxx`, ended by a carriage return.
//
// Bytes, not characters: the checksum is over the bytes as sent, and ACSs send names in whatever code page they
// use. Frames are decoded as latin1 (one character per byte), so the checksum is verified over exactly the bytes
// received and the fields we read (flags, dates, codes) come out unchanged whatever the code page was.
//
// Nothing here puts a message's text into an error: requests carry a card number (AA) and logins a password (CO).

export const TERMINATOR = 0x0d;

/** Length of the fixed part after the two-digit code, per message (the spec's layouts). */
export const FIXED_LENGTH: Readonly<Record<string, number>> = {
  '93': 2, // UID algorithm, PWD algorithm
  '94': 1, // ok
  '99': 8, // status code, max print width (3), protocol version (4)
  '98': 34, // online, checkin, checkout, renewal policy, status update, offline (6), timeout (3), retries (3), date (18), version (4)
  '23': 21, // language (3), transaction date (18)
  '24': 35, // patron status (14), language (3), transaction date (18)
  '63': 31, // language (3), transaction date (18), summary (10)
  '64': 59, // patron status (14), language (3), transaction date (18), six counts (4 each)
  '96': 0,
  '97': 0,
};

export interface Sip2Field {
  id: string;
  value: string;
}

export interface Sip2Message {
  code: string;
  /** The fixed-length part after the code (may be shorter than the spec's when an ACS sends less). */
  fixed: string;
  /** Variable fields in the order received; unknown and repeated fields are kept. */
  fields: Sip2Field[];
  /** `AY`: 0–9; undefined when absent (97 carries none). */
  sequence?: number | undefined;
}

export type DecodeResult =
  | { ok: true; message: Sip2Message }
  | { ok: false; problem: 'checksum' | 'no-checksum' | 'malformed'; code: string | undefined };

export interface EncodeOptions {
  /** `AY`; omitted for 97 (the spec says a resend request carries no sequence number). */
  sequence?: number | undefined;
}

/** Two's complement of the 16-bit sum of the bytes, as four upper-case hex digits. */
export function checksum(bytes: Uint8Array, end = bytes.length): string {
  let sum = 0;
  for (let i = 0; i < end; i++) sum += bytes[i]!;
  return ((-sum) & 0xffff).toString(16).toUpperCase().padStart(4, '0');
}

export function field(id: string, value: string | number): string {
  return `${id}${value}|`;
}

/** A frame ready for the wire: body, `AY<n>` (unless a 97), `AZ` + checksum, `\r`. Body text as UTF-8. */
export function encode(body: string, options: EncodeOptions = {}): Buffer {
  if (/[\r\n]/.test(body)) throw new TypeError('a SIP2 message body cannot contain a line break');
  const head = options.sequence === undefined ? `${body}AZ` : `${body}AY${options.sequence % 10}AZ`;
  const bytes = Buffer.from(head, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length + 5);
  bytes.copy(out, 0);
  out.write(checksum(bytes), bytes.length, 'latin1');
  out[out.length - 1] = TERMINATOR;
  return out;
}

const TRAILER = /AZ([0-9A-Fa-f]{4})$/;
const SEQUENCE = /AY([0-9])$/;

/** Decode one frame (without its `\r`). Error detection is on: a frame without a valid `AZ` checksum is refused. */
export function decode(frame: Uint8Array): DecodeResult {
  let start = 0;
  let end = frame.length;
  // Some ACSs send `\r\n`; the `\n` then leads the next frame. Stray NULs are noise from the same kind of server.
  while (start < end && (frame[start] === 0x0a || frame[start] === 0x00)) start++;
  while (end > start && (frame[end - 1] === 0x0a || frame[end - 1] === 0x0d)) end--;
  const text = Buffer.from(frame.buffer, frame.byteOffset + start, end - start).toString('latin1');
  const code = /^[0-9]{2}/.test(text) ? text.slice(0, 2) : undefined;
  if (code === undefined) return { ok: false, problem: 'malformed', code };
  const trailer = TRAILER.exec(text);
  if (trailer === null) return { ok: false, problem: 'no-checksum', code };
  const summed = text.length - 4;
  if (checksum(Buffer.from(text.slice(0, summed), 'latin1')) !== trailer[1]!.toUpperCase()) {
    return { ok: false, problem: 'checksum', code };
  }
  let body = text.slice(0, summed - 2);
  let sequence: number | undefined;
  const seq = SEQUENCE.exec(body);
  if (seq !== null) {
    sequence = Number(seq[1]);
    body = body.slice(0, -3);
  }
  return { ok: true, message: parseBody(code, body, sequence) };
}

/** The body (code, fixed part, variable fields) of a message whose trailer is already off. */
export function parseBody(code: string, body: string, sequence?: number): Sip2Message {
  const fixedLength = FIXED_LENGTH[code] ?? 0;
  const fixed = body.slice(2, 2 + fixedLength);
  const fields: Sip2Field[] = [];
  const rest = body.slice(2 + fixedLength);
  for (const piece of rest.split('|')) {
    // Field ids are two upper-case letters; a piece without one (a stray pipe, a short fixed part's spill-over)
    // is kept under its first two characters rather than dropped, so nothing silently disappears.
    if (piece.length < 2) continue;
    fields.push({ id: piece.slice(0, 2), value: piece.slice(2) });
  }
  return { code, fixed, fields, sequence };
}

/** The first value of a field, or undefined. */
export function fieldValue(message: Sip2Message, id: string): string | undefined {
  for (const f of message.fields) if (f.id === id) return f.value;
  return undefined;
}

/** Every value of a field (AF, AS, … repeat). */
export function fieldValues(message: Sip2Message, id: string): string[] {
  const values: string[] = [];
  for (const f of message.fields) if (f.id === id) values.push(f.value);
  return values;
}

/**
 * Splits a byte stream into frames at `\r`. Bounded: a peer that never sends a terminator cannot make the
 * gateway hold more than `maxFrameBytes`.
 */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes = 64 * 1024) {}

  /** Frames completed by this chunk; throws RangeError when a frame grows past the bound. */
  push(chunk: Buffer): Buffer[] {
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    let from = 0;
    for (let i = data.indexOf(TERMINATOR); i !== -1; i = data.indexOf(TERMINATOR, from)) {
      if (i > from) frames.push(data.subarray(from, i));
      from = i + 1;
    }
    this.pending = from === 0 ? data : data.subarray(from);
    if (this.pending.length > this.maxFrameBytes) {
      this.pending = Buffer.alloc(0);
      throw new RangeError(`a SIP2 message longer than ${this.maxFrameBytes} bytes`);
    }
    return frames;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
  }
}

/** `YYYYMMDDZZZZHHMMSS` in local time (ZZZZ blank): the form every ACS accepts. */
export function sipDateTime(at: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(at.getFullYear(), 4)}${p(at.getMonth() + 1)}${p(at.getDate())}    ${p(at.getHours())}${p(at.getMinutes())}${p(at.getSeconds())}`;
}
