// The deployment key at rest, sealed with a key that is not on the SD card (docs/privacy.md, "A stolen branch").
// A sealed key is `oag-sealed-v1:` and base64url of nonce (12 bytes) | AES-256-GCM ciphertext | tag (16 bytes). The
// key-encryption key (KEK) is derived with HKDF from a device secret, on a Raspberry Pi 4/5 or CM4 the customer OTP
// key that `rpi-otp-private-key` prints, so that a copy of the card alone does not give the deployment key back.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export const SEALED_PREFIX = 'oag-sealed-v1:';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
// The OTP key may serve other purposes too (it is an ECDSA key for the firmware's own services): derive, never use raw.
const HKDF_INFO = 'oag deployment key seal v1';

export class SealedKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedKeyError';
  }
}

/** Whether a key file's text (trimmed) is a sealed key rather than a plain one. */
export function isSealedKey(text: string): boolean {
  return text.startsWith(SEALED_PREFIX);
}

function kekFrom(deviceSecret: Buffer): Buffer {
  if (deviceSecret.length !== 32) throw new SealedKeyError(`the key-encryption key must be 32 bytes (got ${deviceSecret.length})`);
  return Buffer.from(hkdfSync('sha256', deviceSecret, Buffer.alloc(0), HKDF_INFO, 32));
}

export function sealKey(plain: Buffer, deviceSecret: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kekFrom(deviceSecret), nonce);
  // The prefix is authenticated too: a blob cannot be passed off as another format's.
  cipher.setAAD(Buffer.from(SEALED_PREFIX));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return `${SEALED_PREFIX}${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
}

/** The plain key, or SealedKeyError when the text is not a sealed key, or another KEK sealed it, or it was altered. */
export function unsealKey(text: string, deviceSecret: Buffer): Buffer {
  const trimmed = text.trim();
  if (!isSealedKey(trimmed)) throw new SealedKeyError(`not a sealed key (it does not start with ${SEALED_PREFIX})`);
  const encoded = trimmed.slice(SEALED_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) throw new SealedKeyError('not a sealed key (not base64url after the prefix)');
  const raw = Buffer.from(encoded, 'base64url');
  if (raw.length <= NONCE_BYTES + TAG_BYTES) throw new SealedKeyError('not a sealed key (too short)');
  const decipher = createDecipheriv('aes-256-gcm', kekFrom(deviceSecret), raw.subarray(0, NONCE_BYTES));
  decipher.setAAD(Buffer.from(SEALED_PREFIX));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
  } catch {
    // GCM cannot tell the two apart, and neither should the message: both mean this device cannot use this file.
    throw new SealedKeyError('cannot unseal it: it was sealed with another device key, or it has been altered');
  }
}
