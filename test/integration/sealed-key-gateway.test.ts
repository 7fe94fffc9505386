// A branch whose deployment key is sealed (`oag seal-key`) with a device key from a command standing in for
// `rpi-otp-private-key`: it starts, and decides taps with the unsealed key; without the device key it does not
// start, and says why in one line, as with a missing key.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, parseGatewayConfig } from '../../gateway/config.js';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { startGateway } from '../../gateway/main.js';
import { runSealKey } from '../../scripts/commands/seal-key.js';
import { TEST_KEY_HEX, adult, defaultConfig } from '../helpers/gateway-harness.js';
import { alwaysOpen } from '../unit/members-sync/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'oag-sealed-gw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tool(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const device = tool('otp', `echo ${'3c'.repeat(32)}`);
const otherDevice = tool('otp-other', `echo ${'c3'.repeat(32)}`);
const CARD = '21000000012345';

function io() {
  const said = { out: '', err: '' };
  return { said, io: { out: (t: string) => void (said.out += t), err: (t: string) => void (said.err += t) } };
}

function config(kekTool: string) {
  writeFileSync(join(dir, 'policy.yaml'), stringify(alwaysOpen('town-central')));
  return parseGatewayConfig(defaultConfig(dir, { deploymentKeyFile: join(dir, 'deployment.sealed'), deploymentKeyUnseal: { command: [kekTool] } }));
}

describe('a branch with a sealed deployment key', () => {
  it('seals the key with oag seal-key, starts with it and lets a member in', async () => {
    writeFileSync(join(dir, 'plain.key'), `${TEST_KEY_HEX}\n`);
    const sealing = io();
    expect(await runSealKey({ kekCommand: [device], in: join(dir, 'plain.key'), out: join(dir, 'deployment.sealed'), timeoutMs: '5000' }, sealing.io)).toBe(0);
    expect(sealing.said.err).toMatch(/^sealed deployment key [0-9a-f]{16} with the device key from .*otp; keep a copy of the clear key off this device\n$/);
    expect(readFileSync(join(dir, 'deployment.sealed'), 'utf8')).not.toContain(TEST_KEY_HEX);
    // Never over an existing file: it may be the only copy of a key.
    const again = io();
    expect(await runSealKey({ kekCommand: [device], in: join(dir, 'plain.key'), out: join(dir, 'deployment.sealed'), timeoutMs: '5000' }, again.io)).toBe(2);
    expect(again.said.err).toMatch(/deployment\.sealed: cannot write it \(EEXIST\): nothing written/);

    const running = await startGateway(config(device), { logger: pino({ level: 'silent' }), env: {}, power: { platformRoot: join(dir, 'no-sys') } });
    try {
      // The list as central makes it: hashed with the clear key, which the branch now holds only sealed.
      const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
      running.store.members.replaceAll([{ cardHash: hash(normaliseCardId(CARD)), ...adult }], { version: 1, source: 'test' });
      running.hardware.simulated!.reader!.tap(CARD);
      expect(running.store.events.query({ limit: 1, types: ['access'] })[0]).toMatchObject({ reason: 'member', data: { decision: 'granted' } });
      running.hardware.simulated!.reader!.tap('21000000099999');
      expect(running.store.events.query({ limit: 1, types: ['access'] })[0]).toMatchObject({ reason: 'unknown-card' });
    } finally {
      await running.stop();
    }
  });

  it('does not start on another device, and says why in one line', async () => {
    const attempt = startGateway(config(otherDevice), { logger: pino({ level: 'silent' }), env: {}, power: { platformRoot: join(dir, 'no-sys') } });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toMatchObject({ errors: [`${join(dir, 'deployment.sealed')}: cannot unseal it: it was sealed with another device key, or it has been altered`] });
  });
});
