import { afterEach, describe, expect, it } from 'vitest';
import { buildLocalApi } from '../../gateway/http/server.js';
import { removeDir, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const OPEN_ALL_DAY = {
  version: 1,
  site: 'town-central',
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
};

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  if (harness) removeDir(harness.dir);
  harness = undefined;
});

describe('local API', () => {
  it('plays a card on the simulated reader and answers with the decision', async () => {
    harness = await startHarness({ policy: OPEN_ALL_DAY, members: { '04A1B2C3D4': {}, '0411111111': { blocked: true } } });
    const app = buildLocalApi({ gateway: harness.running.gateway, hardware: harness.running.hardware });
    const granted = await app.inject({ method: 'POST', url: '/api/simulate/tap', payload: { uid: '04:A1:B2:C3:D4' } });
    expect(granted.statusCode).toBe(200);
    expect(granted.json()).toMatchObject({ result: 'granted', reason: 'member', mode: 'open-access' });
    const refused = await app.inject({ method: 'POST', url: '/api/simulate/tap', payload: { uid: '0411111111' } });
    expect(refused.json()).toMatchObject({ result: 'refused', reason: 'blocked' });
    expect(harness.running.gateway.state).toMatchObject({ site: 'town-central', mode: 'open-access', door: 'unlocked' });
  });

  it('refuses bad bodies with a 400 that names the field, and taps nothing', async () => {
    harness = await startHarness({ policy: OPEN_ALL_DAY, members: { '04A1B2C3D4': {} } });
    const app = buildLocalApi({ gateway: harness.running.gateway, hardware: harness.running.hardware });
    const missing = await app.inject({ method: 'POST', url: '/api/simulate/tap', payload: { card: '04A1B2C3D4' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors.join('\n')).toMatch(/uid/);
    const garbage = await app.inject({ method: 'POST', url: '/api/simulate/tap', payload: { uid: 'not a card!' } });
    expect(garbage.statusCode).toBe(400);
    expect(garbage.json().errors[0]).toMatch(/^uid: /);
    const reader = await app.inject({ method: 'POST', url: '/api/simulate/tap', payload: { uid: '04A1B2C3D4', reader: 'side-door' } });
    expect(reader.statusCode).toBe(400);
    expect(reader.json().errors[0]).toMatch(/^reader: /);
    // A card number with a byte that is not UTF-8: named, never read as U+FFFD.
    const bytes = Buffer.concat([Buffer.from('{"uid":"04A1'), Buffer.from([0xc3, 0x28]), Buffer.from('B2C3D4"}')]);
    const notUtf8 = await app.inject({ method: 'POST', url: '/api/simulate/tap', headers: { 'content-type': 'application/json' }, payload: bytes });
    expect(notUtf8.statusCode).toBe(400);
    expect(JSON.stringify(notUtf8.json())).toMatch(/not valid UTF-8 at byte 12/);
    expect(harness.events.filter((e) => e.type === 'access')).toEqual([]);
  });
});
