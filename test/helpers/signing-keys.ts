// Central's signing keys for tests: made once per process (Ed25519 is cheap, but every test needs the same pair
// for central and its branches), written to a temp folder as a branch and central read them from install.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signMessage, signingKeyId, type CentralPublicKey } from '../../policies/contract/signing.js';

export interface TestSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  kid: string;
  /** PKCS8 PEM, 0600: central's `signing.keyFile`. */
  privateFile: string;
  /** SPKI PEM: one entry of a gateway's `mqtt.centralKeys`. */
  publicFile: string;
  /** As a gateway holds it. */
  central: CentralPublicKey;
}

const made = new Map<string, TestSigningKey>();
let dir: string | null = null;

/** A key pair by name ('central' for the one every test shares; 'old'/'new' for a rollover; 'attacker'). */
export function testSigningKey(name = 'central'): TestSigningKey {
  const known = made.get(name);
  if (known !== undefined) return known;
  dir ??= mkdtempSync(join(tmpdir(), 'oag-signing-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateFile = join(dir, `${name}.key`);
  const publicFile = join(dir, `${name}.pub`);
  writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }));
  const kid = signingKeyId(publicKey);
  const key: TestSigningKey = { privateKey, publicKey, kid, privateFile, publicFile, central: { kid, key: publicKey } };
  made.set(name, key);
  return key;
}

/** A message as central sends it: signed for `topic` with the test key (or `key`), as JSON bytes. */
export function signedJson(topic: string, message: object, key: TestSigningKey = testSigningKey()): Buffer {
  return Buffer.from(JSON.stringify(signMessage(key.privateKey, topic, message)));
}

/** A member-list sync's `central`: the test key and the topics of `site` under `prefix`. */
export function centralFor(site: string, prefix = 'oa/v1'): { keys: CentralPublicKey[]; announcementTopic: string; transferTopic: string } {
  return { keys: [testSigningKey().central], announcementTopic: `${prefix}/members/current`, transferTopic: `${prefix}/sites/${site}/members/chunk` };
}
