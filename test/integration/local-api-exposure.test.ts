// Who can reach the local API: the simulated-tap route (no login, and a card played through it opens the door) only
// with a simulated reader and only on loopback; the console beyond loopback only over TLS, built in or a proxy's.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildLocalApi } from '../../gateway/http/server.js';
import { runCheckConfig } from '../../scripts/commands/check-config.js';
import { removeDir, startHarness } from '../helpers/gateway-harness.js';
import type { Harness, HarnessOptions } from '../helpers/gateway-harness.js';

const OPEN_ALL_DAY = {
  version: 1,
  site: 'town-central',
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
};
const FIXTURES = new URL('../unit/sip2/fixtures/', import.meta.url);

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  if (harness) removeDir(harness.dir);
  harness = undefined;
});

async function start(config: HarnessOptions['config'] = {}): Promise<Harness> {
  harness = await startHarness({ policy: OPEN_ALL_DAY, members: { '04A1B2C3D4': {} }, config, start: { extensionRetry: { firstMs: 60_000, maxMs: 60_000 } } });
  return harness;
}

const tap = { method: 'POST' as const, url: '/api/simulate/tap', payload: { uid: '04A1B2C3D4' } };

describe('the simulated-tap route', () => {
  it('is served on loopback only, and only when a reader is simulated', async () => {
    const h = await start();
    const { gateway, hardware } = h.running;
    for (const host of [undefined, '127.0.0.1', '127.0.1.1', '::1', '[::1]', 'localhost']) {
      const answer = await buildLocalApi({ gateway, hardware, host }).inject(tap);
      expect(answer.statusCode, String(host)).toBe(200);
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'gateway.branch.example']) {
      const app = buildLocalApi({ gateway, hardware, host });
      expect((await app.inject(tap)).statusCode, host).toBe(404);
      await app.ready();
      expect(Object.keys((app.swagger() as { paths: object }).paths)).not.toContain('/api/simulate/tap');
    }
    // sysfs GPIO and PC/SC readers: no simulated reader, no route, wherever it listens.
    const real = { ...hardware, simulated: { ...hardware.simulated!, reader: undefined } };
    expect((await buildLocalApi({ gateway, hardware: real, host: '127.0.0.1' }).inject(tap)).statusCode).toBe(404);
  });
});

describe('a console beyond loopback', () => {
  it('without TLS stays off, raises local-api-failed saying why, and the door runs', async () => {
    const h = await start({ http: { enabled: true, host: '0.0.0.0', port: 0 } });
    expect(h.running.api).toBeUndefined();
    expect(h.running.gateway.alarms.has('local-api-failed')).toBe(true);
    const part = h.running.extensions.status().find((p) => p.name === 'local-api');
    expect(part?.state).toBe('failed');
    expect(part?.error).toMatch(/^http\.host: 0\.0\.0\.0 is reachable from the network .* http\.tls .* http\.behindProxy: true/);
    h.tap('04A1B2C3D4');
    expect(h.reasons()).toEqual(['member']);
    expect(h.doorRelayActive()).toBe(true);
  });

  it('is refused by oag check-config', async () => {
    const h = await start();
    const file = join(h.dir, 'gateway.yaml');
    writeFileSync(
      file,
      stringify({
        site: 'town-central',
        policyFile: 'policy.yaml',
        http: { host: '0.0.0.0' },
        hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }] },
      }),
    );
    const out: string[] = [];
    const err: string[] = [];
    expect(await runCheckConfig(file, { out: (s) => out.push(s), err: (s) => err.push(s) })).toBe(1);
    expect(err.join('')).toMatch(/^http\.host: 0\.0\.0\.0 is reachable from the network/);
    writeFileSync(file, readFileSync(file, 'utf8').replace('host: 0.0.0.0', 'host: 0.0.0.0\n  behindProxy: true'));
    err.length = 0;
    expect(await runCheckConfig(file, { out: (s) => out.push(s), err: (s) => err.push(s) })).toBe(0);
  });

  it('behind a declared TLS proxy listens, without the tap route', async () => {
    const h = await start({ http: { enabled: true, host: '0.0.0.0', port: 0, behindProxy: true } });
    const api = h.running.api;
    expect(api).toBeDefined();
    const port = new URL(api!.url).port;
    const answer = await fetch(`http://127.0.0.1:${port}/api/simulate/tap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uid: '04A1B2C3D4' }) });
    expect(answer.status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
    expect(h.reasons()).toEqual([]);
  });

  it('with http.tls is served over https', async () => {
    const h = await start({
      http: { enabled: true, host: '0.0.0.0', port: 0, tls: { cert: new URL('acs-cert.pem', FIXTURES).pathname, key: new URL('acs-key.pem', FIXTURES).pathname } },
    });
    const api = h.running.api;
    expect(api?.url).toMatch(/^https:/);
    const port = Number(new URL(api!.url).port);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/health', rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    // Plain HTTP on the same port gets no API.
    await expect(fetch(`http://127.0.0.1:${port}/api/health`).then((r) => r.status)).rejects.toThrow();
  });

  it('with an unreadable http.tls file stays off and names the file', async () => {
    const h = await start({ http: { enabled: true, host: '0.0.0.0', port: 0, tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' } } });
    expect(h.running.api).toBeUndefined();
    expect(h.running.extensions.status().find((p) => p.name === 'local-api')?.error).toMatch(/http\.tls\.cert \(\/nonexistent\/cert\.pem\): cannot read: ENOENT/);
  });
});
