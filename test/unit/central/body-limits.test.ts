// Central's API on bodies it must not take: too large, not UTF-8, or carrying U+FFFD from a lenient decoder
// somewhere before. A clear 4xx JSON answer, nothing published, nothing stored.
import { describe, expect, it } from 'vitest';
import { centralAppPerTest, type CentralApp } from './helpers.js';

const centralApp = centralAppPerTest();

const POLICY = {
  version: 1,
  site: 'town',
  name: 'Town Central',
  schedule: { weekly: { mon: [{ from: '09:00', to: '17:00', mode: 'staffed' }] } },
};

function put(api: CentralApp['api'], payload: string | Buffer) {
  return api({ method: 'PUT', url: '/api/sites/town/policy', headers: { 'content-type': 'application/json' }, payload });
}

describe('central API bodies', () => {
  it('refuses a body over 256 KiB with 413 and a JSON answer naming the limit', async () => {
    const current = await centralApp();
    const huge = JSON.stringify({ ...POLICY, name: 'x'.repeat(300 * 1024) });
    const res = await put(current.api, huge);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: 'Payload Too Large', message: 'the body is larger than the 256 KiB allowed' });
    expect(current.link.policies).toEqual([]);
  });

  it('refuses a body that is not UTF-8 with 400 naming the byte, instead of storing U+FFFD', async () => {
    const current = await centralApp();
    const text = JSON.stringify(POLICY);
    const at = text.indexOf('Central');
    const bytes = Buffer.from(text);
    bytes[at] = 0xc3; // a lead byte followed by "e": no character
    const res = await put(current.api, bytes);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'Bad Request', message: `body: not valid UTF-8 at byte ${at} (line 1)` });
    expect(current.link.policies).toEqual([]);
    expect(current.store.policy('town')).toBeNull();
  });

  it('refuses U+FFFD in a policy name, and still takes a good policy', async () => {
    const current = await centralApp();
    const bad = await put(current.api, JSON.stringify({ ...POLICY, name: 'Town Centr\uFFFDl' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.stringMatching(/^name: contains U\+FFFD/)]);
    const good = await put(current.api, JSON.stringify(POLICY));
    expect(good.statusCode).toBe(202);
    expect(current.link.policies).toHaveLength(1);
  });
});
