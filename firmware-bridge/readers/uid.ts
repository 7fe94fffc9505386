// One spelling of a card UID everywhere (hex, upper case, no separators), so that the same card always
// hashes to the same member whichever reader or tool saw it.

const SEPARATORS = /[\s:.-]/g;
const MAX_UID_CHARS = 64;

export class InvalidUidError extends RangeError {
  constructor(reason: string) {
    // The value itself stays out of the message: it is a card number, and messages end up in logs.
    super(`card UID ${reason}`);
    this.name = 'InvalidUidError';
  }
}

/**
 * `04:a2:b3:c4`, `04 A2 B3 C4`, `04-a2-b3-c4` and the bytes 04 A2 B3 C4 all become `04A2B3C4`.
 * Throws InvalidUidError for anything that is not 1–64 hex digits once separators are removed.
 */
export function normaliseUid(raw: string | Uint8Array): string {
  if (typeof raw !== 'string') {
    if (raw.length === 0) throw new InvalidUidError('is empty');
    if (raw.length * 2 > MAX_UID_CHARS) throw new InvalidUidError(`is longer than ${MAX_UID_CHARS / 2} bytes`);
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex').toUpperCase();
  }
  const compact = raw.replace(SEPARATORS, '');
  if (compact.length === 0) throw new InvalidUidError('is empty');
  if (compact.length > MAX_UID_CHARS) throw new InvalidUidError(`is longer than ${MAX_UID_CHARS} hex digits`);
  if (!/^[0-9a-fA-F]+$/.test(compact)) throw new InvalidUidError('must be hexadecimal digits (separators : - . and spaces allowed)');
  return compact.toUpperCase();
}

/** A signed phone token (QR: docs/phone-credential.md) is passed on as typed; the gateway checks it. */
const SIGNED_TEXT = /^OAG1\.[A-Za-z0-9_.-]{1,507}$/;

/**
 * What a reader hands on for a line it read: a phone token's text unchanged, anything else as a card UID
 * (normaliseUid, which throws InvalidUidError for what is neither).
 */
export function readerText(raw: string): string {
  return SIGNED_TEXT.test(raw) ? raw : normaliseUid(raw);
}
