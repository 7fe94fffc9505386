// API tokens for scripts, monitoring and a library's own systems: `oag_<id>_<secret>`. The id finds the row; only the
// SHA-256 of the whole token is stored (the secret is 32 random bytes, so a fast hash is enough: nothing to guess).
// The token is shown once, when it is made. Each service keeps its tokens in its own store, with a role, an
// expiry and a revocation; this module is only the token's shape.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

const TOKEN = /^oag_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
/** A header longer than this is not one of ours: refused before it is hashed. */
const MAX_HEADER_CHARS = 200;

export interface NewApiToken {
  id: string;
  /** Shown once to whoever made it; never stored. */
  token: string;
  hash: Buffer;
}

export function hashApiToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export function newApiToken(): NewApiToken {
  const id = randomBytes(8).toString('hex').slice(0, 12);
  const token = `oag_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, token, hash: hashApiToken(token) };
}

/** The id and hash of a well-formed token, or undefined (the caller answers 401 without looking anything up). */
export function parseApiToken(token: string): { id: string; hash: Buffer } | undefined {
  const match = TOKEN.exec(token);
  return match === null ? undefined : { id: match[1]!, hash: hashApiToken(token) };
}

/**
 * The token in `Authorization: Bearer …`: undefined when there is no such header, `malformed` when there is one
 * that is not a token of ours (the answer is 401 either way; the log says which).
 */
export function bearerToken(request: FastifyRequest): { id: string; hash: Buffer } | 'malformed' | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  if (header.length > MAX_HEADER_CHARS) return 'malformed';
  const match = /^Bearer (\S+)$/i.exec(header);
  return (match && parseApiToken(match[1]!)) ?? 'malformed';
}
