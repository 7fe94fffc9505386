// `oag central mqtt-acl`, run as a user runs it (bin/oag.js): the file Mosquitto is given is the ACL the embedded
// broker applies, under the prefix asked for; a bad prefix is one line and exit 2.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderMosquittoAcl } from '../../../policies/contract/index.js';
import { STACK_LINE } from '../../helpers/hostile-input.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function oag(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/oag.js', ...args], { cwd: ROOT, env: { ...process.env, OAG_DEBUG: '' }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

describe('oag central mqtt-acl', () => {
  it('prints the ACL for oa/v1 by default, and for the prefix given', async () => {
    const byDefault = await oag(['central', 'mqtt-acl']);
    expect(byDefault).toEqual({ code: 0, stdout: renderMosquittoAcl('oa/v1'), stderr: '' });
    expect(byDefault.stdout).toContain('pattern write oa/v1/sites/%u/events\n');

    const county = await oag(['central', 'mqtt-acl', '--prefix', 'county/v1']);
    expect(county.code).toBe(0);
    expect(county.stdout).toContain('user central\ntopic readwrite county/v1/#\n');
    expect(county.stdout).not.toContain('oa/v1');
  });

  it('refuses a prefix with a wildcard in one line, exit 2, and prints no ACL', async () => {
    const bad = await oag(['central', 'mqtt-acl', '--prefix', 'oa/#']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).not.toMatch(STACK_LINE);
    expect(bad.stderr.trim().split('\n')).toEqual(['--prefix: MQTT topic prefix "oa/#" must be non-empty, without wildcards or a leading/trailing slash']);
  });
});
