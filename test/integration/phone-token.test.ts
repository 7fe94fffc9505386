// The phone credential end to end (docs/phone-credential.md): a library's app asks central's API for a member's
// token with an API token, the member's phone shows it, a 2D scanner at the door types it: the branch checks it
// offline with central's public key and decides from the member list. Expired, another branch's, forged, altered
// and replayed tokens are refused with their reason, and a member blocked in the list is refused with a good token.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCentral } from '../../central/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { issuePhoneToken } from '../../policies/phone-token.js';
import { generateMembersCsv } from '../../scripts/bench/import.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { stopBranchAndCentral } from '../helpers/branch-and-central.js';
import { hashCard, startBranch, startTestCentral, tap, tempDir, until } from '../unit/members-sync/helpers.js';

let dir: string;
let central: RunningCentral;
let town: RunningGateway;
let cards: { valid: string[]; other: string[] };

async function api(path: string, body: unknown, role: 'viewer' | 'operator' = 'operator'): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL(path, central.httpUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await centralHeaders(central, role)) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function issue(body: Record<string, unknown>): Promise<string> {
  const response = await api('/api/phone-tokens', body);
  expect(response.status).toBe(200);
  return String(response.body.token);
}

beforeAll(async () => {
  dir = tempDir('phone-token');
  central = await startTestCentral(dir, { config: { members: { branchList: 'registered' } } });
  cards = (await generateMembersCsv(join(dir, 'export.csv'), 60, 3, { keepCards: 10 })).cards;
  await central.members!.importFile(join(dir, 'export.csv'));
  town = await startBranch(dir, 'town', central);
  await until(async () => town.store.members.stats().version === (await central.members!.store.current())!.version, 'town to hold the list');
});

afterAll(() => stopBranchAndCentral({ branch: town, central, dir }));

describe('phone token: issued by central, checked offline at the door', () => {
  it('opens the door once for a token issued through the API, then refuses it as replayed', async () => {
    const response = await api('/api/phone-tokens', { cardNumber: cards.valid[0], site: 'town' });
    expect(response.status).toBe(200);
    const { token, expiresAt } = response.body as { token: string; expiresAt: string };
    expect(token).toMatch(/^OAG1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
    expect(token.length).toBeLessThanOrEqual(512);
    // 15 minutes by default.
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);
    // Decided as the member's card is.
    const byCard = tap(town, cards.valid[0]!);
    expect(byCard.decision).toBe('granted');
    expect(tap(town, token)).toEqual(byCard);
    // The same screenshot on a friend's phone.
    expect(tap(town, token)).toEqual({ decision: 'refused', reason: 'token-replayed' });
    // Neither database holds the token; central's audit names the member's pseudonym and the token's id only.
    const signature = token.slice(token.lastIndexOf('.') + 1);
    for (const file of ['central.sqlite', 'central.sqlite-wal', 'town.sqlite', 'town.sqlite-wal']) {
      const bytes = existsSync(join(dir, file)) ? readFileSync(join(dir, file)) : Buffer.alloc(0);
      expect(bytes.includes(Buffer.from(signature)), file).toBe(false);
      expect(bytes.includes(Buffer.from(cards.valid[0]!)), file).toBe(false);
    }
    const audit = (await central.auth.audit.query({ limit: 5 })).rows.find((r) => r.action === 'phone-token-issue');
    expect(audit?.detail).toMatch(/^member [0-9a-f]{8}: token [A-Za-z0-9_-]+, 15 min, until /);
  });

  it("refuses another branch's token, an expired one, a forged one and an altered one, with the reason", async () => {
    expect(tap(town, await issue({ cardNumber: cards.valid[1], site: 'village' }))).toEqual({ decision: 'refused', reason: 'token-other-site' });
    // Signed with central's own key, but issued two hours ago for an hour.
    const cardHash = hashCard(cards.valid[1]!);
    const expired = issuePhoneToken(testSigningKey().privateKey, { cardHash, site: null, now: new Date(Date.now() - 2 * 3600_000), minutes: 60 }).token;
    expect(tap(town, expired)).toEqual({ decision: 'refused', reason: 'token-expired' });
    const forged = issuePhoneToken(testSigningKey('attacker').privateKey, { cardHash, site: null, now: new Date(), minutes: 15 }).token;
    expect(tap(town, forged)).toEqual({ decision: 'refused', reason: 'bad-token' });
    // One character of the payload changed on the way: the signature no longer matches.
    const good = await issue({ cardNumber: cards.valid[1] });
    const flipAt = 10;
    const altered = `${good.slice(0, flipAt)}${good[flipAt] === 'A' ? 'B' : 'A'}${good.slice(flipAt + 1)}`;
    expect(tap(town, altered)).toEqual({ decision: 'refused', reason: 'bad-token' });
    // None of them used the good token up.
    expect(tap(town, good)).toEqual({ decision: 'granted', reason: 'member' });
  });

  it('refuses a good token of a member blocked in the list', async () => {
    const card = cards.valid[2]!;
    const token = await issue({ cardNumber: card, site: 'town' });
    const before = town.store.members.stats().version ?? 0;
    const response = await fetch(new URL('/api/members', central.httpUrl), {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...(await centralHeaders(central)) },
      body: JSON.stringify({ cardNumber: card, blocked: true }),
    });
    expect(response.status).toBe(200);
    await until(() => (town.store.members.stats().version ?? 0) > before, 'town to apply the block');
    expect(tap(town, token)).toEqual({ decision: 'refused', reason: 'blocked' });
  });

  it('issues only to an operator, for a member central knows and the branches list, with one line per bad field', async () => {
    expect((await api('/api/phone-tokens', { cardNumber: cards.valid[3] }, 'viewer')).status).toBe(403);
    expect((await api('/api/phone-tokens', { cardNumber: '21999999999999' })).status).toBe(404);
    // Not registered for open access: a token would be refused at every door.
    expect((await api('/api/phone-tokens', { cardNumber: cards.other.find((c) => c !== undefined) })).status).toBe(409);
    const bad = await api('/api/phone-tokens', { cardNumber: cards.valid[3], minutes: 100_000, site: 'Town/1' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual(expect.arrayContaining([expect.stringMatching(/^minutes: /), expect.stringMatching(/^site: /)]));
  });
});
