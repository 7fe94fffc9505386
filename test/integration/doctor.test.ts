// `oag doctor` against a simulated branch: one that works (its gateway running with central's embedded broker) and
// one broken in every way a technician meets (a bad policy, a store path through a file, a wrong broker password,
// central's key missing, nobody on the console's port, an output's sysfs pin gone), run as a user runs it.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { loadGatewayConfig } from '../../gateway/config.js';
import type { Finding } from '../../gateway/doctor/findings.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { freePort } from '../helpers/free-port.js';
import { seedMembers, openAllDayPolicy, TEST_KEY_HEX } from '../helpers/gateway-process.js';
import { mqttCredentials, type MqttCredentials } from '../helpers/mqtt-credentials.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { PI4_KERNEL_66, sysfsLayout } from '../unit/firmware-bridge/fakes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SITE = 'town-central';

function oag(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/oag.js', ...args], { cwd: ROOT, env: { ...process.env, OAG_DEBUG: '' }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

let dir: string;
let mqtt: MqttCredentials;
let central: RunningCentral;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-doctor-'));
  mqtt = await mqttCredentials([SITE], dir);
  central = await startCentral(
    parseCentralConfig({ embedded: { port: 0, passwordFile: mqtt.passwordFile }, http: { port: 0 }, store: { path: join(dir, 'central.sqlite') }, signing: { keyFile: testSigningKey().privateFile }, log: { level: 'silent' } }),
    { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) },
  );
});

afterAll(async () => {
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A branch's folder with its policy and config; `config` is merged over a working one. */
function branch(name: string, config: (folder: string) => Record<string, unknown>): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  writeFileSync(join(folder, 'policy.yaml'), stringify(openAllDayPolicy(SITE)));
  writeFileSync(join(folder, 'mqtt-password'), `${mqtt.login(SITE).password}\n`);
  const path = join(folder, 'gateway.yaml');
  writeFileSync(
    path,
    stringify({
      site: SITE,
      policyFile: 'policy.yaml',
      store: { path: 'var/gateway.sqlite' },
      clock: { trust: 'trusted' },
      log: { level: 'silent' },
      hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
      mqtt: { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, username: SITE, passwordFile: join(folder, 'mqtt-password'), centralKeys: [testSigningKey().publicFile] },
      ...config(folder),
    }),
  );
  return path;
}

describe('oag doctor', () => {
  it('finds nothing wrong with a working branch while its gateway runs: exit 0, and --json parses', async () => {
    const port = await freePort();
    const path = branch('working', () => ({ http: { port } }));
    const config = loadGatewayConfig(path);
    seedMembers(config.store.path, 3);
    let gateway: RunningGateway | undefined;
    try {
      gateway = await startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX }, power: { platformRoot: join(dir, 'no-sys') } });
      const run = await oag(['doctor', '--config', path, '--json']);
      const findings = JSON.parse(run.stdout) as Finding[];
      expect(findings.filter((f) => f.status !== 'ok'), run.stdout).toEqual([]);
      expect(run.code).toBe(0);
      // Each area of the issue is looked at, not skipped.
      expect(new Set(findings.map((f) => f.area))).toEqual(new Set(['config', 'policy', 'store', 'members', 'clock', 'gpio', 'readers', 'keypad', 'sound', 'mqtt', 'central-key', 'console']));
      expect(findings.find((f) => f.id === 'mqtt.acl')?.found).toContain(`is refused oa/v1/sites/+/command`);
      expect(findings.find((f) => f.id === 'members.age')?.found).toContain('3 members');
    } finally {
      await gateway?.stop();
    }
  });

  it('reports each fault of a broken branch with its fix, and exits 1', async () => {
    const sysfs = sysfsLayout(PI4_KERNEL_66);
    try {
      // Every output exported at its safe level but the door relay's (BCM 17, gpio529), whose files are gone.
      for (const gpio of [539, 534, 517, 518]) {
        mkdirSync(join(sysfs.root, `gpio${gpio}`));
        writeFileSync(join(sysfs.root, `gpio${gpio}`, 'direction'), 'out');
        writeFileSync(join(sysfs.root, `gpio${gpio}`, 'value'), gpio === 539 ? '1' : '0');
      }
      const nobody = await freePort();
      const path = branch('broken', (folder) => {
        writeFileSync(join(folder, 'policy.yaml'), 'version: 1\nsite: town-central\nschedule:\n  weekly:\n    mon: [{ from: "09:00", to: "08:00", mode: open-access }]\n');
        writeFileSync(join(folder, 'not-a-folder'), 'a file where the store folder should be');
        writeFileSync(join(folder, 'mqtt-password'), 'not-the-password\n');
        return {
          store: { path: 'not-a-folder/gateway.sqlite' },
          http: { port: nobody },
          hardware: {
            gpio: { driver: 'sysfs', sysfsRoot: sysfs.root },
            outputs: { door: { pin: 17 }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } },
            readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
          },
          mqtt: { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, username: SITE, passwordFile: join(folder, 'mqtt-password'), centralKeys: [join(folder, 'central.pub')] },
        };
      });
      const run = await oag(['doctor', '--config', path]);
      expect(run.code, run.stdout + run.stderr).toBe(1);
      const failed = (text: string): string => {
        const lines = run.stdout.split('\n');
        const at = lines.findIndex((line) => line.includes('✗') && line.includes(text));
        expect(at, `no failure "${text}" in:\n${run.stdout}`).toBeGreaterThanOrEqual(0);
        expect(lines[at + 1], `no fix under "${text}"`).toMatch(/^ {6}fix: /);
        return lines[at + 1]!;
      };
      expect(failed('policy.yaml is unusable')).toContain('oag check-config');
      expect(failed('not-a-folder is a file')).toContain('sudo mkdir -p');
      expect(failed("refuses town-central's password")).toContain('oag central mqtt-passwd');
      expect(failed("central's public key cannot be used")).toContain('signing-key');
      expect(failed(`nothing answers at http://127.0.0.1:${nobody}/api/health`)).toContain('systemctl status oag-gateway');
      expect(failed('door (BCM 17, gpio529) cannot be read')).toContain('oag outputs-safe --config');
      // The pins that are there read fine: only the broken one is reported.
      expect(run.stdout).toMatch(/✓ lights \(BCM 27, gpio539\) reads active, its safe level/);
      expect(run.stdout + run.stderr).not.toMatch(/^\s+at /m);
    } finally {
      sysfs.cleanup();
    }
  });
});
