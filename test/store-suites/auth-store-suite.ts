// One behaviour for central's sign-in whatever the database: every AuthStore (SQLite, PostgreSQL) runs this suite
// (test/unit/central/auth-store-sqlite.test.ts, test/system/auth-store-postgres.test.ts), through the parts central
// builds on it (sessions, tokens, accounts, audit). Two store objects on one database stand for two central instances
// behind a load balancer: what one does, the other must see at once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountError, CentralAccounts } from '../../central/auth/accounts.js';
import { CentralAudit } from '../../central/auth/audit.js';
import type { AuthStore } from '../../central/auth/auth-store-types.js';
import type { Role } from '../../central/auth/identity.js';
import { CentralSessions } from '../../central/auth/sessions.js';
import { CentralTokens, TokenError } from '../../central/auth/tokens.js';
import { parseApiToken } from '../../kit/auth/api-tokens.js';
import { HashSlots } from '../../kit/auth/hash-slots.js';
import { TEST_SCRYPT } from '../helpers/central-auth.js';

export interface AuthStoreFixture {
  /** A store on a fresh, empty database. */
  store: AuthStore;
  /** Another store object on the same database: a second central instance. */
  another(): Promise<AuthStore>;
  /** Closes every store it opened and removes the database. */
  close(): Promise<void>;
}

const MINUTE = 60_000;
const LIMITS = { idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE };

/** Central's parts on one store, as one instance has them, on a clock the test moves. */
function instance(store: AuthStore, clock: { now(): Date }) {
  return {
    accounts: new CentralAccounts(store, clock, new HashSlots({ concurrent: 2, queued: 16 }), TEST_SCRYPT),
    sessions: new CentralSessions(store, clock, LIMITS),
    tokens: new CentralTokens(store, clock),
    audit: new CentralAudit(store, clock),
  };
}

export function authStoreSuite(engine: string, open: () => Promise<AuthStoreFixture>): void {
  describe(`AuthStore (${engine})`, () => {
    let fx: AuthStoreFixture;
    let now: number;
    const clock = { now: () => new Date(now) };
    const later = (ms: number): void => {
      now += ms;
    };
    let a: ReturnType<typeof instance>;
    let b: ReturnType<typeof instance>;
    beforeEach(async () => {
      now = Date.parse('2026-03-02T09:00:00.000Z');
      fx = await open();
      a = instance(fx.store, clock);
      b = instance(await fx.another(), clock);
    });
    afterEach(async () => {
      await fx.close();
    });

    const addUser = async (name: string, role: Role = 'operator'): Promise<void> => {
      await a.accounts.add(name, role, 'correct horse battery');
    };

    it('lets a session made on one instance in on another, with its CSRF token, role and sign-in kind', async () => {
      await addUser('alice');
      const { token, session } = await a.sessions.create('alice');
      const there = await b.sessions.find(token);
      expect(there).toMatchObject({ username: 'alice', role: 'operator', csrfToken: session.csrfToken, expiresAt: session.expiresAt, user: { source: 'local' } });
      expect(await b.sessions.find(token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')))).toBeUndefined();
    });

    it('ends a session everywhere when it signs out on one instance', async () => {
      await addUser('alice');
      const { token, session } = await a.sessions.create('alice');
      const other = await a.sessions.create('alice');
      await b.sessions.revoke(session.tokenHash);
      expect(await a.sessions.find(token)).toBeUndefined();
      expect(await b.sessions.find(token)).toBeUndefined();
      // the same account's other browser stays signed in
      expect(await a.sessions.find(other.token)).toBeDefined();
    });

    it('ends a session after the idle limit, kept alive by use; and after the absolute limit whatever the use', async () => {
      await addUser('alice');
      const idle = await a.sessions.create('alice');
      const used = await a.sessions.create('alice');
      const step = 29 * MINUTE;
      later(step);
      expect(await b.sessions.find(idle.token)).toBeDefined();
      expect(await b.sessions.find(used.token)).toBeDefined();
      // used every 29 minutes, on either instance, it stays; the other, last seen 58 minutes ago, has ended
      later(step);
      expect(await b.sessions.find(used.token)).toBeDefined();
      later(step);
      expect(await a.sessions.find(used.token)).toBeDefined();
      expect(await a.sessions.find(idle.token)).toBeUndefined();
      const created = Date.parse(used.session.createdAt);
      for (let i = 0; now + step < created + LIMITS.absoluteMs; i += 1) {
        later(step);
        expect(await (i % 2 === 0 ? b : a).sessions.find(used.token)).toBeDefined();
      }
      later(step);
      expect(await b.sessions.find(used.token)).toBeUndefined();
      expect(await a.sessions.find(used.token)).toBeUndefined();
    });

    it('lets a changed role count on every instance at once, and ends the sessions of a removed account', async () => {
      await addUser('root', 'administrator');
      await addUser('alice', 'administrator');
      const alice = await a.sessions.create('alice');
      expect(await b.accounts.setRole('alice', 'viewer')).toMatchObject({ before: 'administrator', user: { role: 'viewer' } });
      expect((await a.sessions.find(alice.token))?.role).toBe('viewer');
      await b.accounts.remove('alice');
      expect(await a.sessions.find(alice.token)).toBeUndefined();
      // a new account of the same name is not let in by the old account's cookie
      await addUser('alice');
      expect(await a.sessions.find(alice.token)).toBeUndefined();
    });

    it("ends all of an account's sessions (a password reset) but the one kept", async () => {
      await addUser('alice');
      const one = await a.sessions.create('alice');
      const two = await b.sessions.create('alice');
      const three = await a.sessions.create('alice');
      await b.sessions.revokeUser('alice', three.session.tokenHash);
      expect(await a.sessions.find(one.token)).toBeUndefined();
      expect(await a.sessions.find(two.token)).toBeUndefined();
      expect(await b.sessions.find(three.token)).toBeDefined();
    });

    it('takes a password set on one instance at a sign-in on another, and refuses the old one', async () => {
      await addUser('alice');
      later(MINUTE);
      await b.accounts.setPassword('alice', 'a new passphrase, long enough');
      expect(await a.accounts.verify('alice', 'correct horse battery')).toBeUndefined();
      expect(await a.accounts.verify('alice', 'a new passphrase, long enough')).toMatchObject({ username: 'alice', passwordChangedAt: new Date(now).toISOString() });
      await a.accounts.recordLogin('alice');
      expect((await b.accounts.get('alice'))?.lastLoginAt).toBe(new Date(now).toISOString());
    });

    it('refuses a user name that is taken, with a clear error, also when two instances add it at once', async () => {
      await addUser('alice');
      await expect(b.accounts.add('alice', 'viewer', 'another passphrase')).rejects.toThrow(new AccountError('username: "alice" already has an account', 409));
      const both = await Promise.allSettled([a.accounts.add('bob', 'viewer', 'passphrase one!'), b.accounts.add('bob', 'operator', 'passphrase two!')]);
      expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = both.find((r) => r.status === 'rejected');
      expect(refused?.reason).toEqual(new AccountError('username: "bob" already has an account', 409));
      expect((refused?.reason as AccountError).status).toBe(409);
      expect((await a.accounts.list()).map((u) => u.username)).toEqual(['alice', 'bob']);
    });

    it('keeps one administrator: the last cannot be demoted or removed, even by two instances at once', async () => {
      await addUser('root', 'administrator');
      await expect(a.accounts.setRole('root', 'operator')).rejects.toThrow(/root is the only administrator/);
      await expect(b.accounts.remove('root')).rejects.toThrow(/root is the only administrator and cannot be removed/);
      await expect(b.accounts.remove('nobody')).rejects.toThrow(new AccountError('no account "nobody"', 404));
      await addUser('ada', 'administrator');
      const both = await Promise.allSettled([a.accounts.setRole('root', 'viewer'), b.accounts.setRole('ada', 'viewer')]);
      expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((await a.accounts.list()).filter((u) => u.role === 'administrator')).toHaveLength(1);
    });

    it('makes a single sign-on account and brings its role up to date, never taking over a local account', async () => {
      expect(await a.accounts.fromProvider('olivia', 'viewer')).toMatchObject({ username: 'olivia', role: 'viewer', source: 'oidc' });
      expect(await b.accounts.fromProvider('olivia', 'operator')).toMatchObject({ role: 'operator' });
      const { token } = await b.sessions.create('olivia');
      expect((await a.sessions.find(token))?.user).toEqual({ source: 'oidc' });
      expect(await a.accounts.verify('olivia', '')).toBeUndefined();
      await addUser('alice');
      await expect(b.accounts.fromProvider('alice', 'administrator')).rejects.toThrow(/"alice" is a local account at central/);
      expect((await a.accounts.get('alice'))?.role).toBe('operator');
    });

    it('lets a token made on one instance in on another until it is revoked there or expires, and records its use', async () => {
      const made = await a.tokens.create({ name: 'nightly-export', role: 'viewer', expiresDays: 2 }, 'user:root');
      const parsed = parseApiToken(made.token)!;
      expect(await b.tokens.check(parsed)).toEqual({ ok: true, identity: { kind: 'token', name: 'nightly-export', role: 'viewer', via: 'token' } });
      expect((await a.tokens.list())[0]).toMatchObject({ name: 'nightly-export', status: 'active', lastUsedAt: new Date(now).toISOString() });
      // used again within the minute: not written again
      later(30_000);
      await b.tokens.check(parsed);
      expect((await a.tokens.list())[0]?.lastUsedAt).toBe(new Date(now - 30_000).toISOString());
      expect(await b.tokens.check({ ...parsed, hash: Buffer.alloc(32) })).toMatchObject({ ok: false, reason: 'unknown' });

      later(2 * 24 * 60 * MINUTE);
      expect(await a.tokens.check(parsed)).toEqual({ ok: false, reason: 'expired', message: `API token "nightly-export" expired at ${made.info.expiresAt}` });

      const live = await b.tokens.create({ name: 'wallboard', role: 'viewer', expiresDays: 30 }, 'user:root');
      const revoked = await a.tokens.revoke(live.info.id, 'user:ada');
      expect(revoked).toMatchObject({ status: 'revoked', revokedBy: 'user:ada', revokedAt: new Date(now).toISOString() });
      expect(await b.tokens.check(parseApiToken(live.token)!)).toMatchObject({ ok: false, reason: 'revoked' });
      await expect(b.tokens.revoke(live.info.id, 'user:root')).rejects.toThrow(new TokenError(`token "${live.info.id}" (wallboard) was already revoked`, 409));
      await expect(b.tokens.revoke('nope', 'user:root')).rejects.toThrow(new TokenError('no token "nope"', 404));
    });

    it('refuses a second live token of one name with a clear error; the name is free again once revoked', async () => {
      const first = await a.tokens.create({ name: 'kiosk', role: 'viewer', expiresDays: 30 }, 'user:root');
      await expect(b.tokens.create({ name: 'kiosk', role: 'operator', expiresDays: 30 }, 'user:root')).rejects.toThrow(
        new TokenError('name: a token named "kiosk" exists; revoke it first or choose another name', 409),
      );
      await b.tokens.revoke(first.info.id, 'user:root');
      later(1000);
      const second = await b.tokens.create({ name: 'kiosk', role: 'operator', expiresDays: 30 }, 'user:root');
      expect((await a.tokens.list()).map((t) => [t.id, t.status])).toEqual([
        [second.info.id, 'active'],
        [first.info.id, 'revoked'],
      ]);
    });

    it('keeps the audit of every instance in one list, newest first, filtered and paged; the purge takes only older rows', async () => {
      await a.audit.record('user:alice', 'sign-in', { detail: 'password, as operator, from 10.0.0.1' });
      later(MINUTE);
      await b.audit.record('user:alice', 'command', { site: 'town', detail: 'unlock main: ok' });
      later(MINUTE);
      await a.audit.record('token:nightly', 'policy-publish', { site: 'village', detail: 'version 4\nwith a line break' });
      later(MINUTE);
      await b.audit.record('user:bob', 'sign-out');

      const all = await a.audit.query({ limit: 10 });
      expect(all.rows.map((r) => [r.actor, r.action, r.site])).toEqual([
        ['user:bob', 'sign-out', null],
        ['token:nightly', 'policy-publish', 'village'],
        ['user:alice', 'command', 'town'],
        ['user:alice', 'sign-in', null],
      ]);
      expect(all.rows[1]).toMatchObject({ at: new Date(now - MINUTE).toISOString(), detail: 'version 4 with a line break' });
      expect(all.next).toBeNull();
      expect((await b.audit.query({ limit: 10, actor: 'user:alice' })).rows.map((r) => r.action)).toEqual(['command', 'sign-in']);
      expect((await b.audit.query({ limit: 10, site: 'town' })).rows.map((r) => r.action)).toEqual(['command']);
      const t0 = now - 3 * MINUTE;
      expect((await b.audit.query({ limit: 10, from: new Date(t0 + MINUTE), to: new Date(t0 + 2 * MINUTE + 1) })).rows.map((r) => r.action)).toEqual(['policy-publish', 'command']);

      const first = await b.audit.query({ limit: 3 });
      expect(first.rows).toHaveLength(3);
      const second = await a.audit.query({ limit: 3, before: first.next! });
      expect(second).toEqual({ rows: [all.rows[3]], next: null });

      await b.audit.purgeBefore(new Date(t0 + 2 * MINUTE));
      expect((await a.audit.query({ limit: 10 })).rows.map((r) => r.action)).toEqual(['sign-out', 'policy-publish']);
    });
  });
}
