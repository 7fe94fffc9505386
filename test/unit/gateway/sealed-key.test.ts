// The deployment key sealed with a device key that is not on the SD card: what opens it, what does not, and how
// the command standing in for `rpi-otp-private-key` fails in one line.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadDeploymentKey } from '../../../gateway/config.js';
import { readKek } from '../../../gateway/members/kek-command.js';
import { SEALED_PREFIX, SealedKeyError, sealKey, unsealKey } from '../../../gateway/members/sealed-key.js';

const DEVICE = Buffer.from('5e'.repeat(32), 'hex');
const OTHER_DEVICE = Buffer.from('a7'.repeat(32), 'hex');
const PLAIN = Buffer.from('6f61672d746573742d6b65792d6f6e6c792d666f722d74657374732d2d2d2d21', 'hex');
const dir = mkdtempSync(join(tmpdir(), 'oag-sealed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A script standing in for rpi-otp-private-key: prints `out` on stdout, `err` on stderr, exits with `code`. */
function fakeOtpTool(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.errors.join('\n');
    return (error as Error).message;
  }
  throw new Error('expected it to throw');
};

describe('sealing the deployment key', () => {
  it('opens with the device key that sealed it, to the same key, and never shows the key in the sealed text', () => {
    const sealed = sealKey(PLAIN, DEVICE);
    expect(sealed.startsWith(SEALED_PREFIX)).toBe(true);
    expect(sealed).not.toContain(PLAIN.toString('hex'));
    expect(sealed).not.toContain(PLAIN.toString('base64url'));
    expect(unsealKey(`${sealed}\n`, DEVICE).equals(PLAIN)).toBe(true);
    // A fresh nonce each time: the same key sealed twice is two different files.
    expect(sealKey(PLAIN, DEVICE)).not.toBe(sealed);
  });

  it('refuses another device key, and an altered file, with one clear line', () => {
    const sealed = sealKey(PLAIN, DEVICE);
    expect(() => unsealKey(sealed, OTHER_DEVICE)).toThrow(new SealedKeyError('cannot unseal it: it was sealed with another device key, or it has been altered'));
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
    raw[20] = raw[20]! ^ 1;
    expect(() => unsealKey(`${SEALED_PREFIX}${raw.toString('base64url')}`, DEVICE)).toThrow(/sealed with another device key, or it has been altered/);
    expect(() => unsealKey(PLAIN.toString('hex'), DEVICE)).toThrow(/not a sealed key \(it does not start with oag-sealed-v1:\)/);
    expect(() => unsealKey(`${SEALED_PREFIX}abc`, DEVICE)).toThrow(/too short/);
    expect(() => unsealKey(`${SEALED_PREFIX}a+b/`, DEVICE)).toThrow(/not base64url/);
  });
});

describe('the command that prints the device key', () => {
  it('reads 64 hex digits from it', () => {
    const tool = fakeOtpTool('otp-ok', `echo ${DEVICE.toString('hex')}`);
    expect(readKek({ command: [tool], timeoutMs: 5000 }).equals(DEVICE)).toBe(true);
  });

  it('fails in one line naming the command, without echoing what it printed', () => {
    const failing = fakeOtpTool('otp-fail', 'echo "Failed to read the current key from OTP" >&2; exit 1');
    expect(messageOf(() => readKek({ command: [failing], timeoutMs: 5000 }))).toBe(`deploymentKeyUnseal.command (${failing}): exited with 1: Failed to read the current key from OTP`);
    const unset = fakeOtpTool('otp-unset', `echo ${'0'.repeat(64)}`);
    expect(messageOf(() => readKek({ command: [unset], timeoutMs: 5000 }))).toMatch(/the device key is not set \(all zeros\)$/);
    const chatty = fakeOtpTool('otp-chatty', 'echo "key: 1234"');
    const said = messageOf(() => readKek({ command: [chatty], timeoutMs: 5000 }));
    expect(said).toMatch(/did not print a 32-byte key as 64 hex digits$/);
    expect(said).not.toContain('1234');
    expect(messageOf(() => readKek({ command: [join(dir, 'no-such-tool')], timeoutMs: 5000 }))).toMatch(/no-such-tool: not found$/);
    const hung = fakeOtpTool('otp-hung', 'sleep 30');
    expect(messageOf(() => readKek({ command: [hung], timeoutMs: 300 }))).toMatch(/no answer within 300 ms$/);
    const flood = fakeOtpTool('otp-flood', 'head -c 100000 /dev/zero | tr "\\0" "a"');
    expect(messageOf(() => readKek({ command: [flood], timeoutMs: 5000 }))).toMatch(/printed more than 4096 bytes$/);
  });
});

describe('the gateway loading a sealed key', () => {
  const tool = fakeOtpTool('otp-device', `echo ${DEVICE.toString('hex')}`);
  const unseal = { command: [tool], timeoutMs: 5000 };

  it('unseals a sealed key file, and a sealed OAG_DEPLOYMENT_KEY, with the device key', () => {
    const file = join(dir, 'deployment.sealed');
    writeFileSync(file, `${sealKey(PLAIN, DEVICE)}\n`);
    expect(loadDeploymentKey({ deploymentKeyFile: file, deploymentKeyUnseal: unseal }, {}).equals(PLAIN)).toBe(true);
    expect(loadDeploymentKey({ deploymentKeyUnseal: unseal }, { OAG_DEPLOYMENT_KEY: sealKey(PLAIN, DEVICE) }).equals(PLAIN)).toBe(true);
  });

  it('refuses a key sealed on another device, a sealed key without the command, and a clear key when sealing is asked for', () => {
    const foreign = join(dir, 'foreign.sealed');
    writeFileSync(foreign, sealKey(PLAIN, OTHER_DEVICE));
    expect(messageOf(() => loadDeploymentKey({ deploymentKeyFile: foreign, deploymentKeyUnseal: unseal }, {}))).toBe(
      `${foreign}: cannot unseal it: it was sealed with another device key, or it has been altered`,
    );
    expect(messageOf(() => loadDeploymentKey({ deploymentKeyFile: foreign }, {}))).toBe(`${foreign}: a sealed key, but the config has no deploymentKeyUnseal to unseal it`);
    const clear = join(dir, 'clear.key');
    writeFileSync(clear, PLAIN.toString('hex'));
    expect(messageOf(() => loadDeploymentKey({ deploymentKeyFile: clear, deploymentKeyUnseal: unseal }, {}))).toMatch(/^.*clear\.key: not sealed, but deploymentKeyUnseal is set: seal it with `oag seal-key`/);
    expect(messageOf(() => loadDeploymentKey({ deploymentKeyUnseal: unseal }, { OAG_DEPLOYMENT_KEY: PLAIN.toString('hex') }))).toMatch(/^OAG_DEPLOYMENT_KEY: not sealed/);
  });
});
