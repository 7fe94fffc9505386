// The phone token's text and its check (policies/phone-token.ts), and the branch's memory of used tokens and its
// clock rule (gateway/core/phone-tokens.ts).
import { randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PhoneTokens } from '../../../gateway/core/phone-tokens.js';
import { canonicalJson } from '../../../policies/contract/signing.js';
import { checkPhoneToken, issuePhoneToken } from '../../../policies/phone-token.js';
import { testSigningKey } from '../../helpers/signing-keys.js';

const central = testSigningKey();
const cardHash = randomBytes(32);
const at = new Date('2026-12-02T10:00:00Z');
const keys = [central.central];

/** A token central's key signed over any payload: what a check must not believe before its own rules. */
function signedPayload(payload: Record<string, unknown>): string {
  const body = Buffer.from(canonicalJson(payload)).toString('base64url');
  return `OAG1.${body}.${sign(null, Buffer.from(`oag-token-v1\n${body}`), central.privateKey).toString('base64url')}`;
}

describe('phone token text', () => {
  it('names the card hash, and is valid from issue to expiry, at the site it names or any', () => {
    const { token, payload } = issuePhoneToken(central.privateKey, { cardHash, site: 'town', now: at, minutes: 15 });
    const ok = checkPhoneToken(token, { keys, site: 'town', now: new Date(at.getTime() + 14 * 60_000) });
    expect(ok).toMatchObject({ ok: true, payload: { jti: payload.jti, site: 'town' } });
    expect(ok.ok && ok.cardHash.equals(cardHash)).toBe(true);
    expect(checkPhoneToken(token, { keys, site: 'town', now: new Date(at.getTime() + 15 * 60_000) })).toMatchObject({ ok: false, reason: 'token-expired' });
    expect(checkPhoneToken(token, { keys, site: 'village', now: at })).toMatchObject({ ok: false, reason: 'token-other-site' });
    const anywhere = issuePhoneToken(central.privateKey, { cardHash, site: null, now: at, minutes: 15 }).token;
    expect(checkPhoneToken(anywhere, { keys, site: 'village', now: at }).ok).toBe(true);
  });

  it('is taken with either key during a rollover, and not with a key the branch does not hold', () => {
    const next = testSigningKey('new');
    const token = issuePhoneToken(next.privateKey, { cardHash, site: null, now: at, minutes: 5 }).token;
    expect(checkPhoneToken(token, { keys: [central.central, next.central], site: 'town', now: at }).ok).toBe(true);
    expect(checkPhoneToken(token, { keys, site: 'town', now: at })).toMatchObject({ ok: false, reason: 'bad-token' });
  });

  it('refuses signed payloads central never issues: too long a life, issued in the future, a wrong shape', () => {
    const base = { v: 1, site: null, card: cardHash.toString('base64url'), iat: at.getTime() / 1000, exp: at.getTime() / 1000 + 600, jti: 'abcdefghijkl' };
    expect(checkPhoneToken(signedPayload(base), { keys, site: 'town', now: at }).ok).toBe(true);
    for (const payload of [{ ...base, exp: base.iat + 25 * 3600 }, { ...base, iat: base.iat + 3600, exp: base.iat + 4000 }, { ...base, card: 'short' }, { ...base, v: 2 }]) {
      expect(checkPhoneToken(signedPayload(payload), { keys, site: 'town', now: at })).toMatchObject({ ok: false, reason: 'bad-token' });
    }
  });

  it('refuses text that is not a token without reading it, and a lifetime outside 1 to 1440 minutes is not issued', () => {
    for (const text of ['OAG1.', 'OAG1.abc', `OAG1.${'A'.repeat(600)}.x`, 'OAG1.a.b.c']) {
      expect(checkPhoneToken(text, { keys, site: 'town', now: at })).toMatchObject({ ok: false, reason: 'bad-token' });
    }
    expect(() => issuePhoneToken(central.privateKey, { cardHash, site: null, now: at, minutes: 1441 })).toThrow(/minutes/);
    expect(() => issuePhoneToken(central.privateKey, { cardHash, site: null, now: at, minutes: 0 })).toThrow(/minutes/);
  });
});

describe("the branch's check", () => {
  const clock = { now: () => now };
  let now = at;
  let trusted = true;
  const tokens = new PhoneTokens({ keys, site: 'town', clock, clockTrusted: () => trusted });

  it('takes a token once until it expires, and none while the clock is untrusted', () => {
    const { token } = issuePhoneToken(central.privateKey, { cardHash, site: 'town', now: at, minutes: 10 });
    const first = tokens.check(token);
    expect(first.ok).toBe(true);
    if (first.ok) tokens.markUsed(first.payload);
    expect(tokens.check(token)).toMatchObject({ ok: false, reason: 'token-replayed' });
    trusted = false;
    const other = issuePhoneToken(central.privateKey, { cardHash, site: 'town', now: at, minutes: 10 }).token;
    expect(tokens.check(other)).toMatchObject({ ok: false, reason: 'clock-untrusted' });
    trusted = true;
    now = new Date(at.getTime() + 10 * 60_000);
    expect(tokens.check(token)).toMatchObject({ ok: false, reason: 'token-expired' });
  });

  it('refuses every token on a branch that holds no central key', () => {
    const none = new PhoneTokens({ keys: [], site: 'town', clock, clockTrusted: () => true });
    const { token } = issuePhoneToken(central.privateKey, { cardHash, site: 'town', now, minutes: 10 });
    expect(none.check(token)).toMatchObject({ ok: false, reason: 'bad-token' });
  });
});
