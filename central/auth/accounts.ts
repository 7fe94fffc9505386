// Central's accounts: local ones with a password (scrypt), and the people single sign-on has let in (no password;
// their role comes from the provider's claims at each sign-in). Administrators manage them; there is always at
// least one administrator once one exists, so nobody locks central out of itself from the dashboard.
import { randomBytes } from 'node:crypto';
import { HashSlots } from '../../kit/auth/hash-slots.js';
import { hashPassword, spendVerifyTime, verifyPassword, type ScryptParams } from '../../kit/auth/passwords.js';
import { UsernameTakenError, type AuthStore, type UserRow, type UserSource } from './auth-store-types.js';
import type { Role } from './identity.js';

export interface CentralUser {
  username: string;
  role: Role;
  source: UserSource;
  createdAt: string;
  passwordChangedAt: string | null;
  lastLoginAt: string | null;
}

export class AccountError extends Error {
  constructor(
    message: string,
    /** 404: no such account; 409: refused because of the accounts there are. */
    readonly status: 404 | 409,
  ) {
    super(message);
    this.name = 'AccountError';
  }
}

function publicUser(row: UserRow): CentralUser {
  return { username: row.username, role: row.role, source: row.source, createdAt: row.createdAt, passwordChangedAt: row.passwordChangedAt, lastLoginAt: row.lastLoginAt };
}

/** 20 characters from a 32-letter alphabet: 100 bits, readable aloud (no 0/O, 1/l). */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  return [...randomBytes(20)].map((b) => alphabet[b % alphabet.length]).join('');
}

export class CentralAccounts {
  constructor(
    private readonly store: AuthStore,
    private readonly clock: { now(): Date },
    /** Password hashing, bounded: a flood of sign-ins queues a few and refuses the rest (kit/auth/hash-slots.ts). */
    private readonly slots: HashSlots = new HashSlots({ concurrent: 2, queued: 16 }),
    private readonly scrypt?: ScryptParams,
  ) {}

  async list(): Promise<CentralUser[]> {
    return (await this.store.users()).map(publicUser);
  }

  async get(username: string): Promise<CentralUser | undefined> {
    const row = await this.store.user(username);
    return row === undefined ? undefined : publicUser(row);
  }

  async add(username: string, role: Role, password: string): Promise<CentralUser> {
    if ((await this.store.user(username)) !== undefined) throw new AccountError(`username: "${username}" already has an account`, 409);
    const hash = await this.hash(password);
    try {
      await this.store.insertUser({ username, role, source: 'local', passwordHash: hash, at: this.clock.now() });
    } catch (error) {
      // Added by someone else (another instance, say) while the password was being hashed.
      if (error instanceof UsernameTakenError) throw new AccountError(error.message, 409);
      throw error;
    }
    return (await this.get(username))!;
  }

  async setPassword(username: string, password: string): Promise<void> {
    const user = await this.store.user(username);
    if (user === undefined) throw new AccountError(`no account "${username}"`, 404);
    if (user.source !== 'local') throw new AccountError(`${username} signs in with single sign-on and has no password here`, 409);
    await this.store.setPassword(username, await this.hash(password), this.clock.now());
  }

  /** The old and the new role; the caller ends the account's sessions when the role went down. */
  async setRole(username: string, role: Role): Promise<{ before: Role; user: CentralUser }> {
    const changed = await this.store.changeRole(username, role);
    if (!changed.ok) {
      if (changed.refused === 'no-account') throw new AccountError(`no account "${username}"`, 404);
      throw new AccountError(`role: ${username} is the only administrator; make someone else an administrator first`, 409);
    }
    const user = await this.get(username);
    if (user === undefined) throw new AccountError(`no account "${username}"`, 404);
    return { before: changed.before, user };
  }

  /** Removes the account and ends its sessions at once. */
  async remove(username: string): Promise<void> {
    const removed = await this.store.removeUser(username);
    if (removed.ok) return;
    if (removed.refused === 'no-account') throw new AccountError(`no account "${username}"`, 404);
    throw new AccountError(`${username} is the only administrator and cannot be removed; make someone else an administrator first`, 409);
  }

  /**
   * The local account when the password is right; undefined otherwise, in about the same time either way (an
   * unknown name, or a single sign-on account, costs a hash too). HashingBusyError when the slots are full.
   */
  async verify(username: string | undefined, password: string): Promise<CentralUser | undefined> {
    return this.slots.run(async () => {
      const row = username === undefined ? undefined : await this.store.user(username);
      if (row === undefined || row.passwordHash === null) {
        await spendVerifyTime(password);
        return undefined;
      }
      if (!(await verifyPassword(password, row.passwordHash))) return undefined;
      // Read again: the account may have been removed or changed while the hash was computed.
      const now = await this.store.user(row.username);
      return now === undefined || now.passwordHash !== row.passwordHash ? undefined : publicUser(now);
    });
  }

  /**
   * Someone the OpenID provider vouched for, with the role its claims give: their account is made or brought up to
   * date. A local account of the same name is never taken over by a provider's claim.
   */
  async fromProvider(username: string, role: Role): Promise<CentralUser> {
    const made = await this.store.providerUser(username, role, this.clock.now());
    if (!made.ok) throw new AccountError(`"${username}" is a local account at central: single sign-on cannot sign in as it`, 409);
    const user = await this.get(username);
    if (user === undefined) throw new AccountError(`no account "${username}"`, 404);
    return user;
  }

  recordLogin(username: string): Promise<void> {
    return this.store.recordLogin(username, this.clock.now());
  }

  private hash(password: string): Promise<string> {
    return this.slots.run(() => hashPassword(password, this.scrypt));
  }
}
