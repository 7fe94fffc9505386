// Central's word, signed (docs/central.md, *Signing*). Commands, policies, member-list announcements and chunks carry
// `sig`: an Ed25519 signature by central's key over the topic and the message, so a branch acts only on what central
// itself sent, even when the broker lets anyone publish. Pure: keys come in as KeyObjects, no file is read here.
//
// What is signed: "oag-sig-v1\n" + topic + "\n" + the canonical JSON of the message without `sig`. The topic is in
// it, so a message signed for one branch is refused on another's topic; every field is in it, so changing any one
// (a command's `at`, one card of a chunk) breaks it. The receiver checks the JSON exactly as it came, before its
// schema drops names it does not know, so a newer central's additions are covered too.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

const CONTEXT = 'oag-sig-v1';

/** Names the key a signature was made with: the first 16 hex characters of the SHA-256 of its SPKI DER. */
export const SigningKeyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, { error: 'must be a key id (16 lower-case hex characters)' });

/** 1.5: `sig` on commands, policies, member-list announcements, chunks and refusals from central. */
export const SignatureSchema = z
  .object({
    kid: SigningKeyIdSchema,
    /** Ed25519 signature (64 bytes), base64url without padding. */
    value: z.string().regex(/^[A-Za-z0-9_-]{86}$/, { error: 'must be an Ed25519 signature (86 base64url characters)' }),
  })
  .meta({ description: 'Central\'s Ed25519 signature over "oag-sig-v1\\n" + topic + "\\n" + the canonical JSON of the message without sig (1.5).' });
export type Signature = z.output<typeof SignatureSchema>;

/**
 * JSON with every object's keys sorted (by UTF-16 code unit, recursively) and no whitespace: the same bytes for the
 * same value, whichever order a sender wrote its keys in. Values as JSON.stringify writes them.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function signedBytes(topic: string, body: object): Buffer {
  return Buffer.from(`${CONTEXT}\n${topic}\n${canonicalJson(body)}`, 'utf8');
}

/** The key id of a public key (or of the public half of a private key). */
export function signingKeyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** `message` with central's signature for `topic` (a `sig` already there is replaced). */
export function signMessage<T extends object>(privateKey: KeyObject, topic: string, message: T): Omit<T, 'sig'> & { sig: Signature } {
  const { sig: _old, ...body } = message as T & { sig?: unknown };
  const value = sign(null, signedBytes(topic, body), privateKey).toString('base64url');
  return { ...(body as Omit<T, 'sig'>), sig: { kid: signingKeyId(privateKey), value } };
}

/** One of central's public keys a gateway holds from install. */
export interface CentralPublicKey {
  kid: string;
  key: KeyObject;
}

export type VerifyResult = { ok: true; kid: string } | { ok: false; reason: string };

/** Whether `message` (parsed JSON as it came) carries a valid signature for `topic` by one of `keys`. */
export function verifyMessage(keys: readonly CentralPublicKey[], topic: string, message: unknown): VerifyResult {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return { ok: false, reason: 'not a JSON object' };
  const { sig, ...body } = message as Record<string, unknown>;
  if (sig === undefined) return { ok: false, reason: 'unsigned' };
  const parsed = SignatureSchema.safeParse(sig);
  if (!parsed.success) return { ok: false, reason: 'malformed signature' };
  const { kid, value } = parsed.data;
  const key = keys.find((k) => k.kid === kid);
  if (key === undefined) return { ok: false, reason: `signed with key ${kid}, which this gateway does not hold (it holds ${keys.map((k) => k.kid).join(', ') || 'none'})` };
  let good: boolean;
  try {
    good = verify(null, signedBytes(topic, body), key.key, Buffer.from(value, 'base64url'));
  } catch {
    good = false;
  }
  return good ? { ok: true, kid } : { ok: false, reason: 'bad signature (forged, altered, or signed for another topic)' };
}

export type KeyResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** A public key from PEM (SPKI): Ed25519 only. `what` names it in the error. */
export function centralPublicKeyFromPem(pem: string | Uint8Array, what: string): KeyResult<CentralPublicKey> {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(pem), format: 'pem' });
  } catch {
    return { ok: false, error: `${what}: not a PEM public key` };
  }
  if (key.asymmetricKeyType !== 'ed25519') return { ok: false, error: `${what}: an ${key.asymmetricKeyType ?? 'unknown'} key; central signs with Ed25519` };
  return { ok: true, value: { kid: signingKeyId(key), key } };
}
