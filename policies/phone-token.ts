// The phone credential (docs/phone-credential.md): a short-lived token central signs with its Ed25519 key, shown as a
// QR code on the member's phone and typed by a 2D scanner at the door. The branch checks it offline with central's
// public key; the token only names the member's card hash, so the member list still decides (blocked, expired, not
// registered are refused as for the card). Pure: keys come in as KeyObjects, the time as an argument.
//
// Text: "OAG1." + base64url(canonical JSON payload) + "." + base64url(signature), only characters a keyboard-wedge
// scanner types without a layout question. Signed: "oag-token-v1\n" + the payload's base64url text, a context no
// MQTT message (oag-sig-v1) can be mistaken for.
import { randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson, type CentralPublicKey } from './contract/signing.js';
import { isSiteId } from './contract/topics.js';

export const PHONE_TOKEN_PREFIX = 'OAG1.';
const CONTEXT = 'oag-token-v1\n';
/** A token's whole text is never longer: anything longer is refused unread. */
export const MAX_PHONE_TOKEN_CHARS = 512;
/** The longest lifetime central issues and a branch accepts: a token is a bearer credential. */
export const MAX_PHONE_TOKEN_MINUTES = 24 * 60;
export const DEFAULT_PHONE_TOKEN_MINUTES = 15;
/** A clock a little ahead at central must not make a fresh token "not yet valid" at the branch. */
const ISSUED_SKEW_SECONDS = 120;

export interface PhoneTokenPayload {
  v: 1;
  /** The one branch it opens; null: any branch. */
  site: string | null;
  /** The member's card hash (HMAC with the deployment key), base64url: what the branch looks up. */
  card: string;
  /** Issued and expiry, Unix seconds. */
  iat: number;
  exp: number;
  /** Its id: a branch takes each once (a shared screenshot works once). */
  jti: string;
}

export type PhoneTokenRefusal = 'bad-token' | 'token-expired' | 'token-other-site';
export type PhoneTokenCheck = { ok: true; payload: PhoneTokenPayload; cardHash: Buffer } | { ok: false; reason: PhoneTokenRefusal; detail: string };

export function isPhoneTokenText(text: string): boolean {
  return text.startsWith(PHONE_TOKEN_PREFIX);
}

/** A new token for `cardHash`, valid `minutes` from `now` (1 to MAX_PHONE_TOKEN_MINUTES). */
export function issuePhoneToken(privateKey: KeyObject, input: { cardHash: Buffer; site: string | null; now: Date; minutes: number }): { token: string; payload: PhoneTokenPayload } {
  if (!Number.isInteger(input.minutes) || input.minutes < 1 || input.minutes > MAX_PHONE_TOKEN_MINUTES) {
    throw new RangeError(`minutes: must be a whole number from 1 to ${MAX_PHONE_TOKEN_MINUTES}`);
  }
  const iat = Math.floor(input.now.getTime() / 1000);
  const payload: PhoneTokenPayload = { v: 1, site: input.site, card: input.cardHash.toString('base64url'), iat, exp: iat + input.minutes * 60, jti: randomBytes(12).toString('base64url') };
  const body = Buffer.from(canonicalJson(payload), 'utf8').toString('base64url');
  const signature = sign(null, Buffer.from(CONTEXT + body, 'utf8'), privateKey).toString('base64url');
  return { token: `${PHONE_TOKEN_PREFIX}${body}.${signature}`, payload };
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Whether `text` is a token central signed, still valid at `now`, for `site`. The signature is checked before
 * anything in the payload is believed. Replay is the caller's (it needs memory).
 */
export function checkPhoneToken(text: string, options: { keys: readonly CentralPublicKey[]; site: string; now: Date }): PhoneTokenCheck {
  const bad = (detail: string): PhoneTokenCheck => ({ ok: false, reason: 'bad-token', detail });
  if (text.length > MAX_PHONE_TOKEN_CHARS) return bad(`longer than ${MAX_PHONE_TOKEN_CHARS} characters`);
  if (!isPhoneTokenText(text)) return bad(`does not start with ${PHONE_TOKEN_PREFIX}`);
  const parts = text.slice(PHONE_TOKEN_PREFIX.length).split('.');
  const [body, signature] = parts;
  if (parts.length !== 2 || body === undefined || signature === undefined || !B64URL.test(body) || !/^[A-Za-z0-9_-]{86}$/.test(signature)) {
    return bad('not payload.signature in base64url');
  }
  const signed = Buffer.from(CONTEXT + body, 'utf8');
  const signatureBytes = Buffer.from(signature, 'base64url');
  // No key id in the token (it is typed by a scanner: shorter is better); a branch holds one key, two in a rollover.
  if (!options.keys.some((k) => verify(null, signed, k.key, signatureBytes))) return bad('bad signature (forged, altered, or signed by another key)');
  const payload = parsePayload(Buffer.from(body, 'base64url').toString('utf8'));
  if (payload === undefined) return bad('signed payload of an unknown shape');
  const nowSeconds = Math.floor(options.now.getTime() / 1000);
  if (payload.exp - payload.iat > MAX_PHONE_TOKEN_MINUTES * 60) return bad('lifetime longer than the most central issues');
  if (nowSeconds >= payload.exp) return { ok: false, reason: 'token-expired', detail: `expired ${nowSeconds - payload.exp} s ago` };
  if (payload.iat > nowSeconds + ISSUED_SKEW_SECONDS) return bad('issued in the future (a clock is wrong)');
  if (payload.site !== null && payload.site !== options.site) return { ok: false, reason: 'token-other-site', detail: `for site ${payload.site}` };
  return { ok: true, payload, cardHash: Buffer.from(payload.card, 'base64url') };
}

function parsePayload(json: string): PhoneTokenPayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const p = value as Record<string, unknown>;
  const seconds = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (p.v !== 1 || !seconds(p.iat) || !seconds(p.exp) || p.exp <= p.iat) return undefined;
  if (typeof p.card !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(p.card)) return undefined;
  if (typeof p.jti !== 'string' || !/^[A-Za-z0-9_-]{8,32}$/.test(p.jti)) return undefined;
  if (p.site !== null && (typeof p.site !== 'string' || !isSiteId(p.site))) return undefined;
  return { v: 1, site: p.site as string | null, card: p.card, iat: p.iat, exp: p.exp, jti: p.jti };
}
