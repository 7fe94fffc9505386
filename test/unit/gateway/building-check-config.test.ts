// A policy's switched outputs are the gateway's (`hardware.switched`): a policy naming one the branch lacks is refused
// at start (the branch runs closed with policy-refused) and by `oag check-config`, on the policy file or on a policy
// given with `--policy`; an `intruderAlarm` section where no panel is wired is a warning, not an error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../../gateway/config.js';
import { startGateway } from '../../../gateway/main.js';
import { runCheckConfig } from '../../../scripts/commands/check-config.js';

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

async function check(file: string, options: { policy?: string } = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCheckConfig(file, { out: (line: string) => void out.push(line), err: (line: string) => void err.push(line) }, options);
  return { code, out, err };
}

describe('a policy naming a switched output the branch does not have', () => {
  it('leaves the branch closed at start with policy-refused naming the path and the outputs there are', async () => {
    const dir = branchDir(KIOSK);
    const config = parseGatewayConfig({
      site: 'town-central',
      policyFile: join(dir, 'policy.yaml'),
      store: { path: join(dir, 's.sqlite') },
      http: { enabled: false },
      log: { level: 'silent' },
      hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }], switched: [{ id: 'pcs' }] },
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

  it('fails oag check-config on the gateway config whose policy file names it, with the same line', async () => {
    const dir = branchDir(KIOSK);
    expect(await check(join(dir, 'gateway.yaml'))).toMatchObject({ code: 1, err: [`policyFile: ${ERROR}\n`] });
  });

  it('fails oag check-config --policy: a policy about to be sent, checked against this branch instead of its file', async () => {
    const dir = branchDir(policy([]));
    writeFileSync(join(dir, 'from-central.yaml'), KIOSK);
    expect(await check(join(dir, 'gateway.yaml'))).toMatchObject({ code: 0 });
    expect(await check(join(dir, 'gateway.yaml'), { policy: join(dir, 'from-central.yaml') })).toMatchObject({ code: 1, err: [`policy: ${ERROR}\n`] });
  });
});

describe('an intruderAlarm section for a branch with no panel wired', () => {
  it('passes oag check-config with a warning saying the section does nothing there', async () => {
    const dir = branchDir(PANEL);
    const result = await check(join(dir, 'gateway.yaml'));
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe('warning: policyFile: intruderAlarm: this gateway has no hardware.intruderAlarm wired, so the section does nothing here\n');
  });
});
