// The door screen's display token (`http.displayTokenFile`): read by the local API at start and by `oag check-config`,
// so that a placeholder is refused before it is deployed rather than when the screen goes blank.
import { readTextFile } from '../../kit/read-bounded.js';

/** A display token shorter than this is a placeholder, not a secret. */
const MIN_TOKEN_CHARS = 16;

/** The display token from its file: one line, at least MIN_TOKEN_CHARS; an error names the setting and the file. */
export function readDisplayToken(path: string): string {
  const read = readTextFile(path, { what: `http.displayTokenFile (${path})`, maxBytes: 4096 });
  if (!read.ok) throw new Error(read.error);
  const token = read.text.trim();
  if (token.length < MIN_TOKEN_CHARS || /\s/.test(token)) {
    throw new Error(`http.displayTokenFile (${path}): must hold one token of at least ${MIN_TOKEN_CHARS} characters and no spaces (make one with \`openssl rand -hex 32\`)`);
  }
  return token;
}
