import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CentralConfigError, loadCentralConfig } from '../../../central/config.js';
import { ConfigError, loadDeploymentKey, loadGatewayConfig } from '../../../gateway/config.js';
import { readPolicyFile } from '../../../gateway/policy-file.js';
import { aliasBomb } from '../../helpers/hostile-input.js';

const dir = mkdtempSync(join(tmpdir(), 'oag-config-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CentralConfigError) return error.errors;
    throw error;
  }
  throw new Error('expected a config error');
}

const GOOD = 'site: town-central\npolicyFile: policy.yaml\n';
const town = readFileSync(new URL('../../../policies/examples/town.yaml', import.meta.url));

describe('the gateway config file', () => {
  it('refuses an alias bomb with one line, not a stack trace', () => {
    expect(errorsOf(() => loadGatewayConfig(file('bomb.yaml', aliasBomb())))).toEqual(['(file): not valid YAML: too many YAML aliases (limit 100)']);
  });

  it('refuses more than 256 KiB, also from a device that never ends', () => {
    expect(errorsOf(() => loadGatewayConfig(file('big.yaml', `${GOOD}# ${'x'.repeat(300_000)}\n`)))).toEqual(['(file): too large (300,046 bytes; the limit is 256 KiB)']);
    expect(errorsOf(() => loadGatewayConfig('/dev/zero'))).toEqual(['(file): too large (more than 256 KiB; the limit is 256 KiB)']);
  });

  it('refuses bytes that are not UTF-8, naming the offset', () => {
    const bytes = Buffer.concat([Buffer.from(`${GOOD}# caf`), Buffer.from([0xe9]), Buffer.from('\n')]);
    expect(errorsOf(() => loadGatewayConfig(file('latin1.yaml', bytes)))).toEqual([`(file): not valid UTF-8 at byte ${GOOD.length + 5} (line 3)`]);
  });

  it('says so when given a folder', () => {
    mkdirSync(join(dir, 'folder.yaml'), { recursive: true });
    expect(errorsOf(() => loadGatewayConfig(join(dir, 'folder.yaml')))).toEqual(['(file): is a folder, not a file']);
  });

  it('reads at most a few KiB of a key file', () => {
    expect(errorsOf(() => loadDeploymentKey({ deploymentKeyFile: '/dev/zero' }, {}))).toEqual(['deploymentKeyFile (/dev/zero): too large (more than 4 KiB; the limit is 4 KiB)']);
  });
});

describe('the central config file', () => {
  it('refuses an alias bomb, a huge file and bad UTF-8 with one line each', () => {
    expect(errorsOf(() => loadCentralConfig(file('c-bomb.yaml', aliasBomb().replace(/^(version|site):.*\n/gm, ''))))).toEqual([
      '(file): not valid YAML: too many YAML aliases (limit 100)',
    ]);
    expect(errorsOf(() => loadCentralConfig('/dev/zero'))).toEqual(['(file): too large (more than 256 KiB; the limit is 256 KiB)']);
    expect(errorsOf(() => loadCentralConfig(file('c.yaml', Buffer.from([0x68, 0x74, 0x74, 0x70, 0x3a, 0x20, 0xc3, 0x28]))))).toEqual([
      '(file): not valid UTF-8 at byte 6 (line 1)',
    ]);
  });
});

describe('readPolicyFile (the gateway reading its policy file)', () => {
  it('reads a good policy', () => {
    expect(readPolicyFile(file('town.yaml', town))).toMatchObject({ ok: true, policy: { site: 'town-central' } });
  });

  it('refuses a 10 MB policy, invalid UTF-8 and an alias bomb, each with one error naming the file', () => {
    const big = file('big-policy.yaml', Buffer.concat([town, Buffer.from(`# ${'x'.repeat(10 * 1024 * 1024)}\n`)]));
    expect(readPolicyFile(big)).toEqual({ ok: false, errors: [expect.stringMatching(new RegExp(`^${big}: too large \\(10,4\\d\\d,\\d{3} bytes; the limit is 256 KiB\\)$`))] });
    const bad = Buffer.from(town);
    bad[bad.indexOf('Town Central')] = 0xc0;
    const latin = file('latin1-policy.yaml', bad);
    expect(readPolicyFile(latin)).toEqual({ ok: false, errors: [expect.stringMatching(new RegExp(`^${latin}: not valid UTF-8 at byte \\d+ \\(line 6\\)$`))] });
    const bomb = file('bomb-policy.yaml', aliasBomb());
    expect(readPolicyFile(bomb)).toEqual({ ok: false, errors: [`${bomb}: too many YAML aliases (limit 100)`] });
  });

  it('names a missing file', () => {
    expect(readPolicyFile(join(dir, 'missing.yaml'))).toEqual({ ok: false, errors: [`${join(dir, 'missing.yaml')}: cannot read: ENOENT`] });
  });
});
