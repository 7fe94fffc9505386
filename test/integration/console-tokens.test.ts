// `oag users token add|list|revoke` on a running gateway's store: the token is printed once, works at once against
// the local API, shows in the list with its role, expiry and last use, and stops working when revoked. Bad input
// is refused by name and changes nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { runTokenAdd, runTokenList, runTokenRevoke } from '../../scripts/commands/users.js';
import type { UsersIo } from '../../scripts/commands/users.js';
import { startConsole, tokenSecret } from '../helpers/console.js';
import type { ConsoleHarness } from '../helpers/console.js';

let c: ConsoleHarness | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

function io(): UsersIo & { text: { out: string; err: string } } {
  const text = { out: '', err: '' };
  return {
    text,
    out: (s: string) => (text.out += s),
    err: (s: string) => (text.err += s),
    readStdin: async () => '',
    askHidden: undefined,
  };
}

describe('oag users token', () => {
  it('makes a token that the local API takes at once, lists it, and revokes it', async () => {
    c = await startConsole();
    const store = c.harness.running.store.path;
    const added = io();
    expect(await runTokenAdd({ store, name: 'monitoring', role: 'staff', expiresDays: '90' }, added)).toBe(0);
    const token = added.text.out.trim();
    expect(token).toMatch(/^oag_[a-z0-9]{12}_[\w-]{43}$/);
    const id = token.split('_')[1]!;
    expect(added.text.err).toMatch(new RegExp(`API token ${id} "monitoring" \\(staff\\) until \\d{4}-.*shown this once`));

    const state = () => c!.app.inject({ method: 'GET', url: '/api/state', headers: { authorization: `Bearer ${token}` } });
    expect((await state()).statusCode).toBe(200);

    const listed = io();
    expect(await runTokenList({ store }, listed)).toBe(0);
    expect(listed.text.out).toMatch(new RegExp(`^id\\s+name\\s+role\\s+state\\s+expires\\s+last used\\n${id} monitoring\\s+staff\\s+live\\s+\\S+\\s+\\d{4}-\\S+\\n$`));
    // The list never shows the token again.
    expect(listed.text.out).not.toContain(tokenSecret(token));
    const json = io();
    expect(await runTokenList({ store, json: true }, json)).toBe(0);
    expect(JSON.parse(json.text.out)).toEqual([expect.objectContaining({ id, name: 'monitoring', role: 'staff', revokedAt: null })]);

    const revoked = io();
    expect(await runTokenRevoke({ store, id }, revoked)).toBe(0);
    expect(revoked.text.out).toContain(`API token ${id} "monitoring" revoked`);
    const refused = await state();
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toMatch(/was revoked at/);
    const again = io();
    expect(await runTokenRevoke({ store, id }, again)).toBe(1);
    expect(again.text.err).toMatch(new RegExp(`API token "${id}" was already revoked at`));
  });

  it('refuses bad input by name and makes nothing', async () => {
    c = await startConsole();
    const store = c.harness.running.store.path;
    const cases: Array<[Parameters<typeof runTokenAdd>[0], RegExp]> = [
      [{ store, name: 'x', role: 'staff', expiresDays: '30' }, /^name: must be 2 to 40 letters/],
      [{ store, name: 'monitoring', role: 'admin', expiresDays: '30' }, /^role: must be one of "staff", "manager"/],
      [{ store, name: 'monitoring', role: 'staff', expiresDays: '0' }, /^expires-days: must be a whole number of days from 1 to 365 \(got "0"\)/],
      [{ store, name: 'monitoring', role: 'staff', expiresDays: '400' }, /^expires-days: .* \(got "400"\)/],
      [{ store, name: 'monitoring', role: 'staff', expiresDays: 'forever' }, /^expires-days: .* \(got "forever"\)/],
      [{ name: 'monitoring', role: 'staff', expiresDays: '30' }, /--store PATH/],
    ];
    for (const [options, error] of cases) {
      const out = io();
      expect(await runTokenAdd(options, out), JSON.stringify(options)).toBe(2);
      expect(out.text.err).toMatch(error);
      expect(out.text.out).toBe('');
    }
    expect(c.tokens.list()).toEqual([]);
    const badId = io();
    expect(await runTokenRevoke({ store, id: 'oag_123' }, badId)).toBe(2);
    expect(badId.text.err).toMatch(/^id: must be a token id of 12 letters and digits/);
    const noSuch = io();
    expect(await runTokenRevoke({ store, id: 'abcdefabcdef' }, noSuch)).toBe(1);
    expect(noSuch.text.err).toBe('no API token "abcdefabcdef" (oag users token list shows them)\n');
  });
});
