// A schedule draft sent to the console that is not UTF-8, or larger than a policy may be: refused with a 4xx JSON
// answer, and the policy in force stays.
import { afterEach, describe, expect, it } from 'vitest';
import { startConsole } from '../helpers/console.js';
import type { ConsoleHarness, SignedIn } from '../helpers/console.js';

let c: ConsoleHarness | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

async function draftBody(h: ConsoleHarness, who: SignedIn): Promise<Record<string, unknown>> {
  const { revision, policy } = (await h.call(who, 'GET', '/api/console/policy')).json();
  const { version: _v, ...draft } = policy;
  return { baseRevision: revision, policy: { ...draft, name: 'Town Central' } };
}

function send(h: ConsoleHarness, who: SignedIn, payload: Buffer | string) {
  return h.app.inject({
    method: 'PUT',
    url: '/api/console/policy',
    headers: { cookie: who.cookie, 'x-csrf-token': who.csrf, 'content-type': 'application/json' },
    payload,
  });
}

describe('schedule drafts that are not what they claim', () => {
  it('refuses bytes that are not UTF-8 with 400 naming the byte, and keeps the policy in force', async () => {
    c = await startConsole();
    await c.addUser('mia', 'manager');
    const mia = await c.login('mia');
    const text = JSON.stringify(await draftBody(c, mia));
    const at = text.indexOf('Central');
    const bytes = Buffer.from(text);
    bytes[at] = 0xff;
    const res = await send(c, mia, bytes);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: `(body): not valid UTF-8 at byte ${at} (line 1)` });
    expect(c.harness.running.gateway.policies.source).toBe('file');
    // The same draft, well encoded, is saved.
    expect((await send(c, mia, text)).statusCode).toBe(200);
  });

  it('refuses a draft larger than a policy may be with 413', async () => {
    c = await startConsole();
    await c.addUser('mia', 'manager');
    const mia = await c.login('mia');
    const body = await draftBody(c, mia);
    const res = await send(c, mia, JSON.stringify({ ...body, policy: { ...(body.policy as object), name: 'x'.repeat(300 * 1024) } }));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: expect.any(String) });
    expect(c.harness.running.gateway.policies.source).toBe('file');
  });
});
