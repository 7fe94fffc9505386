import { describe, expect, it } from 'vitest';
import { canonicalJson, centralPublicKeyFromPem, signMessage, verifyMessage } from '../../../policies/contract/signing.js';
import { testSigningKey } from '../../helpers/signing-keys.js';
import { generateKeyPairSync } from 'node:crypto';

const TOPIC = 'oa/v1/sites/branch-a/command';
const command = { id: '5b0e6a2e-8a7c-4d7e-9a55-0c2b8e1f9a10', at: '2025-03-01T10:00:00.000Z', command: 'unlock', actor: 'olivia' };

/** As a gateway reads it: JSON off the wire. */
function wire(message: object): unknown {
  return JSON.parse(JSON.stringify(message)) as unknown;
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace, whatever order the sender used', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[2,{"y":null,"z":true}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });

  it('leaves out undefined fields as JSON does, and escapes strings as JSON does', () => {
    expect(canonicalJson({ a: undefined, b: 'line\n"quoted"' })).toBe('{"b":"line\\n\\"quoted\\""}');
  });
});

describe('signMessage / verifyMessage', () => {
  const central = testSigningKey();
  const keys = [central.central];

  it('a message central signed for this topic verifies, naming the key', () => {
    expect(verifyMessage(keys, TOPIC, wire(signMessage(central.privateKey, TOPIC, command)))).toEqual({ ok: true, kid: central.kid });
  });

  it('still verifies when the JSON comes with its keys in another order', () => {
    const signed = signMessage(central.privateKey, TOPIC, command);
    const reordered = { sig: signed.sig, actor: signed.actor, command: signed.command, at: signed.at, id: signed.id };
    expect(verifyMessage(keys, TOPIC, wire(reordered)).ok).toBe(true);
  });

  it('a changed field is refused', () => {
    const signed = signMessage(central.privateKey, TOPIC, { ...command, command: 'lock' });
    expect(verifyMessage(keys, TOPIC, wire({ ...signed, command: 'unlock' }))).toEqual({ ok: false, reason: expect.stringMatching(/^bad signature/) });
    expect(verifyMessage(keys, TOPIC, wire({ ...signed, extra: 1 })).ok).toBe(false);
  });

  it("a message signed for one branch's topic is refused on another's", () => {
    const signed = signMessage(central.privateKey, TOPIC, command);
    expect(verifyMessage(keys, 'oa/v1/sites/branch-b/command', wire(signed))).toMatchObject({ ok: false, reason: expect.stringMatching(/^bad signature/) });
  });

  it('a key the branch does not hold is refused by its id, and a forged value under the right id as a bad signature', () => {
    const attacker = testSigningKey('attacker');
    const forged = signMessage(attacker.privateKey, TOPIC, command);
    expect(verifyMessage(keys, TOPIC, wire(forged))).toEqual({ ok: false, reason: expect.stringContaining(`signed with key ${attacker.kid}, which this gateway does not hold`) });
    expect(verifyMessage(keys, TOPIC, wire({ ...forged, sig: { kid: central.kid, value: forged.sig.value } }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^bad signature/) });
  });

  it('unsigned, malformed, or not an object: refused with the reason', () => {
    expect(verifyMessage(keys, TOPIC, wire(command))).toEqual({ ok: false, reason: 'unsigned' });
    expect(verifyMessage(keys, TOPIC, wire({ ...command, sig: { kid: central.kid, value: 'abc' } }))).toEqual({ ok: false, reason: 'malformed signature' });
    expect(verifyMessage(keys, TOPIC, [1, 2])).toEqual({ ok: false, reason: 'not a JSON object' });
    expect(verifyMessage(keys, TOPIC, 'unlock')).toEqual({ ok: false, reason: 'not a JSON object' });
  });

  it('signing again replaces the old signature instead of signing it', () => {
    const once = signMessage(central.privateKey, TOPIC, command);
    const twice = signMessage(central.privateKey, TOPIC, once);
    expect(twice.sig).toEqual(once.sig);
  });

  it('during a rollover both keys verify; a branch holding only the new one refuses the old', () => {
    const oldKey = testSigningKey('old');
    const newKey = testSigningKey('new');
    const byOld = wire(signMessage(oldKey.privateKey, TOPIC, command));
    const byNew = wire(signMessage(newKey.privateKey, TOPIC, command));
    expect(verifyMessage([oldKey.central, newKey.central], TOPIC, byOld).ok).toBe(true);
    expect(verifyMessage([oldKey.central, newKey.central], TOPIC, byNew).ok).toBe(true);
    expect(verifyMessage([newKey.central], TOPIC, byOld).ok).toBe(false);
  });
});

describe('centralPublicKeyFromPem', () => {
  it('takes an Ed25519 public key and gives its id', () => {
    const central = testSigningKey();
    const pem = central.publicKey.export({ type: 'spki', format: 'pem' });
    expect(centralPublicKeyFromPem(pem, 'mqtt.centralKeys[0]')).toMatchObject({ ok: true, value: { kid: central.kid } });
  });

  it('refuses another kind of key, or text that is no key, naming the setting', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    expect(centralPublicKeyFromPem(ec, 'mqtt.centralKeys[0]')).toEqual({ ok: false, error: 'mqtt.centralKeys[0]: an ec key; central signs with Ed25519' });
    expect(centralPublicKeyFromPem('hello', 'mqtt.centralKeys[1]')).toEqual({ ok: false, error: 'mqtt.centralKeys[1]: not a PEM public key' });
  });
});
