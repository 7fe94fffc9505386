// A policy's switched outputs are the gateway's (`hardware.switched`): a policy naming one the branch lacks is refused
// at start (the branch runs closed with policy-refused) and by `oag check-config`, on the policy file or on a policy
// given with `--policy`; an `intruderAlarm` section where no panel is wired is a warning, not an error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfig, startOnPolicyFile } from '../../helpers/policy-against-branch.js';

const policy = (extra: string[]): string =>
  ['version: 1', 'site: town-central', 'schedule: { weekly: { mon: [{ from: "08:00", to: "20:00", mode: open-access }] } }', ...extra, ''].join('\n');
const KIOSK = policy(['outputs:', '  kiosk: [{ during: [open-access] }]']);
const PANEL = policy(['intruderAlarm: { unsetMinutesBefore: 15 }']);
const ERROR = 'outputs.kiosk: no switched output "kiosk" at this branch (outputs: pcs)';
const HARDWARE = 'hardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }], switched: [{ id: pcs }] }';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function branchDir(policyText: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'oag-outputs-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'policy.yaml'), policyText);
  writeFileSync(join(dir, 'gateway.yaml'), `site: town-central\npolicyFile: policy.yaml\n${HARDWARE}\n`);
  return dir;
}

describe('a policy naming a switched output the branch does not have', () => {
  it('leaves the branch closed at start with policy-refused naming the path and the outputs there are', async () => {
    const dir = branchDir(KIOSK);
    const started = await startOnPolicyFile(dir, { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }], switched: [{ id: 'pcs' }] });
    expect(started.version).toBe(0);
    expect(started.refused).toContain(ERROR);
  });

  it('fails oag check-config on the gateway config whose policy file names it, with the same line', async () => {
    const dir = branchDir(KIOSK);
    expect(await checkConfig(join(dir, 'gateway.yaml'))).toMatchObject({ code: 1, err: [`policyFile: ${ERROR}\n`] });
  });

  it('fails oag check-config --policy: a policy about to be sent, checked against this branch instead of its file', async () => {
    const dir = branchDir(policy([]));
    writeFileSync(join(dir, 'from-central.yaml'), KIOSK);
    expect(await checkConfig(join(dir, 'gateway.yaml'))).toMatchObject({ code: 0 });
    expect(await checkConfig(join(dir, 'gateway.yaml'), { policy: join(dir, 'from-central.yaml') })).toMatchObject({ code: 1, err: [`policy: ${ERROR}\n`] });
  });
});

describe('an intruderAlarm section for a branch with no panel wired', () => {
  it('passes oag check-config with a warning saying the section does nothing there', async () => {
    const dir = branchDir(PANEL);
    const result = await checkConfig(join(dir, 'gateway.yaml'));
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe('warning: policyFile: intruderAlarm: this gateway has no hardware.intruderAlarm wired, so the section does nothing here\n');
  });
});
