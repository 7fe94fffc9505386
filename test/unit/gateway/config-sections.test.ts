// A bad optional section keeps the door running without it; a bad door section is still refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadGatewayConfig, loadGatewayConfigForService } from '../../../gateway/config.js';
import { startGateway } from '../../../gateway/main.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const allDay = [{ from: '00:00', to: '24:00', mode: 'staffed' }];
const allWeekStaffed = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => [day, allDay]));

function writeConfig(extra: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'oag-sections-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'policy.yaml'), stringify({ version: 1, site: 'town-central', schedule: { weekly: allWeekStaffed } }));
  const path = join(dir, 'gateway.yaml');
  writeFileSync(
    path,
    stringify({
      site: 'town-central',
      policyFile: 'policy.yaml',
      store: { path: 'gateway.sqlite' },
      log: { level: 'silent' },
      hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
      ...extra,
    }),
  );
  return path;
}

describe('the service config', () => {
  it('leaves out an invalid mqtt section and an invalid http section (no console then), naming each error', () => {
    const path = writeConfig({ mqtt: { url: 'http://broker.example' }, http: { port: 99999 } });
    expect(() => loadGatewayConfig(path)).toThrow(ConfigError);
    const { config, dropped } = loadGatewayConfigForService(path);
    expect(config.mqtt).toBeUndefined();
    expect(config.http.enabled).toBe(false);
    expect(dropped.map((d) => d.section).sort()).toEqual(['http', 'mqtt']);
    expect(dropped.find((d) => d.section === 'mqtt')?.errors[0]).toMatch(/^mqtt\.url: must be an mqtt:\/\//);
  });

  it('still refuses a config whose door sections are wrong', () => {
    const path = writeConfig({ lock: { unlockMs: 500 }, mqtt: { url: 'http://broker.example' } });
    expect(() => loadGatewayConfigForService(path)).toThrow(/lock\.unlockMs: must be at least 3000/);
  });

  it('runs the door and raises config-invalid with the section and its error', async () => {
    const path = writeConfig({ sip2: { host: '' } });
    const { config, dropped } = loadGatewayConfigForService(path);
    const running = await startGateway(config, { droppedSections: dropped, logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: 'ab'.repeat(32) } });
    try {
      expect(running.gateway.state.alarms).toContain('config-invalid');
      expect(running.gateway.mode).toBe('staffed');
      const alarm = running.store.events.query({ types: ['alarm'], limit: 20 }).find((e) => e.data.alarm === 'config-invalid');
      expect(String(alarm?.data.detail)).toMatch(/^sip2: left out \(sip2\./);
    } finally {
      await running.stop();
    }
  });
});
