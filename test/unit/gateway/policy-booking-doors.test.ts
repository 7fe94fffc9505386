// A booking's doors are the gateway's door ids: a policy file naming a door the branch does not have is refused at
// start (the branch runs closed with policy-refused, as for any unusable file) and by `oag check-config` beforehand.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfig, startOnPolicyFile } from '../../helpers/policy-against-branch.js';

const POLICY = [
  'version: 1',
  'site: town-central',
  'schedule: { weekly: {} }',
  'bookings:',
  '  - { group: chess-club, weekly: { day: mon, from: "20:00", to: "22:00" }, doors: [meeting-room] }',
  '',
].join('\n');
const ERROR = 'bookings[0].doors[0]: no door "meeting-room" at this branch (doors: main)';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function policyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oag-doors-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  return dir;
}

describe('a policy file whose booking names a door the branch does not have', () => {
  it('leaves the branch closed with policy-refused naming the booking, the door and the doors there are', async () => {
    const dir = policyDir();
    const started = await startOnPolicyFile(dir, { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }] });
    expect(started.version).toBe(0);
    expect(started.refused).toContain(ERROR);
  });

  it('fails oag check-config on the gateway config that names it, with the same line', async () => {
    const dir = policyDir();
    writeFileSync(join(dir, 'gateway.yaml'), 'site: town-central\npolicyFile: policy.yaml\nhardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }\n');
    expect(await checkConfig(join(dir, 'gateway.yaml'))).toMatchObject({ code: 1, err: [`policyFile: ${ERROR}\n`] });
  });
});
