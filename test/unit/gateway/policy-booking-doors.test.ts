// A booking's doors are the gateway's door ids: a policy file naming a door the branch does not have is refused at
// start (the branch runs closed with policy-refused, as for any unusable file) and by `oag check-config` beforehand.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../../gateway/config.js';
import { startGateway } from '../../../gateway/main.js';
import { runCheckConfig } from '../../../scripts/commands/check-config.js';

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
    const config = parseGatewayConfig({
      site: 'town-central',
      policyFile: join(dir, 'policy.yaml'),
      store: { path: join(dir, 's.sqlite') },
      http: { enabled: false },
      log: { level: 'silent' },
      hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }] },
    });
    const running = await startGateway(config, { env: { OAG_DEPLOYMENT_KEY: 'ab'.repeat(32) }, logger: pino({ level: 'silent' }) });
    try {
      expect(running.gateway.policies.current.version).toBe(0);
      const alarm = running.store.events.query({ types: ['alarm'], limit: 10 }).find((e) => e.data.alarm === 'policy-refused');
      expect(String(alarm?.data.detail)).toContain(ERROR);
    } finally {
      await running.stop();
    }
  });

  it('fails oag check-config on the gateway config that names it, with the same line', async () => {
    const dir = policyDir();
    writeFileSync(join(dir, 'gateway.yaml'), 'site: town-central\npolicyFile: policy.yaml\nhardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }\n');
    const err: string[] = [];
    const io = { out: () => undefined, err: (line: string) => void err.push(line) };
    expect(await runCheckConfig(join(dir, 'gateway.yaml'), io)).toBe(1);
    expect(err).toEqual([`policyFile: ${ERROR}\n`]);
  });
});
