// Secrets named by the channels' config (SMTP password, webhook key and URL, SMS token), read once at start:
// bounded, strict UTF-8, a trailing newline dropped, an empty file refused. The error names the field and the path,
// never the content.
import { readTextFile } from '../../../kit/read-bounded.js';

const MAX_SECRET_BYTES = 4 * 1024;

export type SecretResult = { ok: true; value: string } | { ok: false; error: string };

/** `field` is where the path was given (`channels.mail.passwordFile`). */
export function readSecretFile(path: string, field: string, options: { minLength?: number } = {}): SecretResult {
  const what = `${field} (${path})`;
  const read = readTextFile(path, { what, maxBytes: MAX_SECRET_BYTES });
  if (!read.ok) return read;
  const value = read.text.replace(/\r?\n$/, '');
  if (value.trim() === '') return { ok: false, error: `${what}: is empty` };
  if (/[\r\n]/.test(value)) return { ok: false, error: `${what}: must hold one line` };
  const min = options.minLength ?? 1;
  if (value.length < min) return { ok: false, error: `${what}: too short (at least ${min} characters)` };
  return { ok: true, value };
}
