// The config and the policy as doctor reads them: a config the gateway would not start with stops the checks there;
// one it would run without an optional section goes on with what the service takes; a policy for another branch.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkConfig, checkPolicy } from '../../../gateway/doctor/config-checks.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'oag-doctor-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(config: Record<string, unknown>): string {
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, stringify({ site: 'town-central', policyFile: 'policy.yaml', hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }] }, ...config }));
  return path;
}

describe('doctor: config and policy', () => {
  it('stops at a config the gateway would not start with, naming the field', () => {
    const path = write({ hardware: { gpio: { driver: 'simulated' }, readers: [] } });
    const checked = checkConfig(path, {});
    expect(checked.config).toBeUndefined();
    expect(checked.findings).toEqual([
      expect.objectContaining({ id: 'config.valid', status: 'fail', found: `${path} is invalid: hardware.readers: configure at least one reader (the gateway does not start with it)`, fix: `correct it in ${path}, then check with: oag check-config ${path}` }),
    ]);
  });

  it('says which config could not be read, and how to name the right one', () => {
    const path = join(dir, 'no-such.yaml');
    expect(checkConfig(path, {}).findings).toEqual([
      { id: 'config.valid', area: 'config', status: 'fail', found: `the config ${path} cannot be read: ENOENT`, fix: "name the gateway's config, readable by this user: oag doctor --config /etc/oag/gateway.yaml" },
    ]);
  });

  it('goes on without an invalid optional section, as the service would, and says so', () => {
    const checked = checkConfig(write({ mqtt: { url: 'http://nope' } }), {});
    expect(checked.config?.mqtt).toBeUndefined();
    expect(checked.findings[0]).toMatchObject({ status: 'fail', found: expect.stringContaining('(the gateway runs without mqtt: the config-invalid alarm)') });
  });

  it("fails a policy file for another branch", () => {
    const path = write({});
    writeFileSync(join(dir, 'policy.yaml'), stringify({ version: 3, site: 'village', schedule: { weekly: { mon: [{ from: '09:00', to: '17:00', mode: 'open-access' }] } } }));
    expect(checkPolicy(checkConfig(path, {}).config!)).toEqual([
      { id: 'policy.valid', area: 'policy', status: 'fail', found: `the policy file ${join(dir, 'policy.yaml')} is for site "village", and this gateway is "town-central"`, fix: `put this branch's policy in ${join(dir, 'policy.yaml')} (its site: town-central)` },
    ]);
  });
});
