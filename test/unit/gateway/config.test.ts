import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, checkGatewayConfigText, loadDeploymentKey, loadGatewayConfig, parseGatewayConfig } from '../../../gateway/config.js';
import { startGateway } from '../../../gateway/main.js';

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.errors;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const BENCH = { gpio: { driver: 'simulated' as const }, readers: [{ id: 'entry', driver: 'simulated' as const }] };

describe('gateway config', () => {
  it('fills a minimal file with safe defaults', () => {
    const config = checkGatewayConfigText('site: town-central\npolicyFile: policy.yaml\nhardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated }] }\n', 'gw.yaml', '/etc/oag');
    expect(config.lock).toEqual({ type: 'fail-secure', unlockMs: 5000, heldOpenSeconds: 30, exitGraceMs: 10_000 });
    expect(config.policyFile).toBe('/etc/oag/policy.yaml');
    expect(config.hardware.gpio.driver).toBe('simulated');
    expect(config.clock.trust).toBe('auto');
  });

  it('refuses a file with no hardware section: it would run a door controller that drives no door', () => {
    expect(errorsOf(() => checkGatewayConfigText('site: town-central\npolicyFile: policy.yaml\n', 'gw.yaml', '/etc/oag'))).toEqual([
      "hardware: required: the door's drivers and pins (gpio.driver: sysfs and the readers on a Raspberry Pi; docs/hardware.md); simulated drivers are never a default: name them (`driver: simulated`) for a test bench or the demo",
    ]);
  });

  it('names every bad path at once', () => {
    const errors = errorsOf(() =>
      parseGatewayConfig({ site: 'Town Central', policyFile: 'p.yaml', lock: { type: 'magnetic', unlockMs: 1000 }, stroe: {} }),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^site: /),
        expect.stringMatching(/^lock\.type: /),
        expect.stringMatching(/^lock\.unlockMs: must be at least 3000/),
        expect.stringMatching(/stroe/),
      ]),
    );
  });

  it('reports a file that is not YAML, or not there', () => {
    expect(errorsOf(() => checkGatewayConfigText('site: [unclosed', 'gw.yaml'))[0]).toMatch(/not valid YAML/);
    expect(errorsOf(() => loadGatewayConfig('/nonexistent/gw.yaml'))[0]).toMatch(/cannot read: ENOENT/);
  });

  it('takes the deployment key from the environment and refuses a short or missing one', () => {
    expect(loadDeploymentKey({}, { OAG_DEPLOYMENT_KEY: 'ab'.repeat(32) })).toHaveLength(32);
    expect(errorsOf(() => loadDeploymentKey({}, { OAG_DEPLOYMENT_KEY: 'abcd' }))[0]).toMatch(/at least 32 bytes/);
    expect(errorsOf(() => loadDeploymentKey({}, {}))[0]).toMatch(/^OAG_DEPLOYMENT_KEY: not set/);
  });

  it('runs closed on a policy for another site rather than not at all, and says why in the policy-refused alarm', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-cfg-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nsite: village\nschedule: { weekly: {} }\n');
    const config = parseGatewayConfig({ site: 'town-central', policyFile: join(dir, 'policy.yaml'), store: { path: join(dir, 's.sqlite') }, http: { enabled: false }, log: { level: 'silent' }, hardware: BENCH });
    const running = await startGateway(config, { env: { OAG_DEPLOYMENT_KEY: 'ab'.repeat(32) }, logger: pino({ level: 'silent' }) });
    try {
      expect(running.gateway.mode).toBe('closed');
      expect(running.gateway.state.alarms).toContain('policy-refused');
      const alarm = running.store.events.query({ types: ['alarm'], limit: 10 }).find((e) => e.data.alarm === 'policy-refused');
      expect(String(alarm?.data.detail)).toMatch(/site: "village" does not match the gateway's site "town-central"; running closed/);
    } finally {
      await running.stop();
    }
  });

  it('runs closed on an invalid policy file, naming the path in it, until a valid policy arrives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oag-cfg-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nsite: town-central\nschedule:\n  weekly:\n    mon: [{ from: "10:00", to: "09:00", mode: staffed }]\n');
    const config = parseGatewayConfig({ site: 'town-central', policyFile: join(dir, 'policy.yaml'), store: { path: join(dir, 's.sqlite') }, http: { enabled: false }, log: { level: 'silent' }, hardware: BENCH });
    const running = await startGateway(config, { env: { OAG_DEPLOYMENT_KEY: 'ab'.repeat(32) }, logger: pino({ level: 'silent' }) });
    try {
      expect(running.gateway.policies.current.version).toBe(0);
      const alarm = running.store.events.query({ types: ['alarm'], limit: 10 }).find((e) => e.data.alarm === 'policy-refused');
      expect(String(alarm?.data.detail)).toMatch(/schedule\.weekly\.mon\[0\]\.to: must be after from/);
      const offered = running.gateway.offerPolicy({ version: 1, site: 'town-central', schedule: { weekly: { mon: [{ from: '00:00', to: '24:00', mode: 'staffed' }] } } }, 'central');
      expect(offered).toMatchObject({ ok: true, version: 1 });
      expect(running.gateway.policies.current.version).toBe(1);
    } finally {
      await running.stop();
    }
  });
});
