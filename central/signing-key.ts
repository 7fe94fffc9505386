// Central's Ed25519 signing key (docs/central.md, *Signing*): read once at start, so that an unusable key stops
// central with the reason instead of sending branches messages they would all refuse. Also makes a key pair for
// `oag central signing-key`.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readFileBytes } from '../kit/read-bounded.js';
import { signMessage, signingKeyId } from '../policies/contract/signing.js';
import { MAX_KEY_FILE_BYTES } from '../policies/input-text.js';

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

export interface CentralSigningKey {
  privateKey: KeyObject;
  /** Its key id: what branches see in `sig.kid`, and what `oag central signing-key` printed. */
  kid: string;
}

const MAKE_ONE = 'make one with `oag central signing-key FILE` and give each branch its public key (mqtt.centralKeys)';

/** The key `signing.keyFile` names; throws a one-line SigningKeyError naming the setting when there is none or it is unusable. */
export function loadSigningKey(config: { signing?: { keyFile: string } | undefined }): CentralSigningKey {
  if (config.signing === undefined) {
    throw new SigningKeyError(`signing.keyFile: required: central signs every command, policy and member list it sends, and branches act on nothing unsigned; ${MAKE_ONE}`);
  }
  return readSigningKey(config.signing.keyFile, `signing.keyFile (${config.signing.keyFile})`);
}

/** A private key file (PKCS8 PEM, Ed25519); `what` names it in the error. */
export function readSigningKey(path: string, what: string): CentralSigningKey {
  // Bounded: a path that is a FIFO or /dev/zero must fail, not hang the start.
  const read = readFileBytes(path, { what, maxBytes: MAX_KEY_FILE_BYTES });
  if (!read.ok) throw new SigningKeyError(read.error);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(read.bytes), format: 'pem' });
  } catch {
    throw new SigningKeyError(`${what}: not a PEM private key; ${MAKE_ONE}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`${what}: an ${privateKey.asymmetricKeyType ?? 'unknown'} key; central signs with Ed25519 (${MAKE_ONE})`);
  }
  return { privateKey, kid: signingKeyId(privateKey) };
}

/** The public key of a signing key, as PEM: what each branch is given from install. */
export function publicKeyPem(key: CentralSigningKey): string {
  return createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }).toString();
}

/** Makes a key pair and writes the private key to `path` (0600, never over an existing file). */
export function generateSigningKey(path: string): CentralSigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let fd: number;
  try {
    // 'wx': an existing key is never overwritten (it would cut every branch off); 0600 from the first byte.
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SigningKeyError(code === 'EEXIST' ? `${path}: already exists; a signing key is never overwritten (choose another file)` : `${path}: cannot write: ${code ?? (error as Error).message}`);
  }
  try {
    writeSync(fd, pem);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600); // whatever the umask made of the mode
  return { privateKey, kid: signingKeyId(privateKey) };
}

/** What central publishes to a branch: the message with its signature for `topic`, as JSON. */
export function signedPayload(key: CentralSigningKey, topic: string, message: object): Buffer {
  return Buffer.from(JSON.stringify(signMessage(key.privateKey, topic, message)));
}

/**
 * A new key pair in `dir` (the demo's and the benchmarks' temp folder): central's private key, and the public key
 * file each of their branches names in `mqtt.centralKeys`.
 */
export function makeSigningKeyFiles(dir: string): { keyFile: string; publicFile: string } {
  const keyFile = join(dir, 'central-signing.key');
  const publicFile = join(dir, 'central-signing.pub');
  writeFileSync(publicFile, publicKeyPem(generateSigningKey(keyFile)));
  return { keyFile, publicFile };
}
