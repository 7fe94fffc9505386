// Console accounts: a username, a role and a scrypt hash. Managers set schedules and manage accounts; staff run
// the building and read the log. There is always at least one manager once one exists (the last cannot go).
// Every hash (a sign-in's check, a new password) takes a slot of the console's HashSlots: a flood of sign-ins
// queues for one slot, or is turned away before any hashing, instead of taking the cores the door runs on.
import type { ConsoleDb } from './db.js';
import { HashSlots } from '../../kit/auth/hash-slots.js';
import { hashPassword, spendVerifyTime, verifyPassword } from '../../kit/auth/passwords.js';
import type { ScryptParams } from '../../kit/auth/passwords.js';

export const ROLES = ['staff', 'manager'] as const;
export type Role = (typeof ROLES)[number];

export interface ConsoleUser {
  username: string;
  role: Role;
  createdAt: string;
  passwordChangedAt: string;
  lastLoginAt: string | null;
}

interface UserRow extends ConsoleUser {
  passwordHash: string;
}

export class UserError extends Error {
  constructor(
    message: string,
    /** 404: no such account; 409: refused because of the accounts there are. */
    readonly status: 404 | 409,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

const SELECT = 'username, role, password_hash AS passwordHash, created_at AS createdAt, password_changed_at AS passwordChangedAt, last_login_at AS lastLoginAt';

function publicUser(row: UserRow): ConsoleUser {
  return { username: row.username, role: row.role, createdAt: row.createdAt, passwordChangedAt: row.passwordChangedAt, lastLoginAt: row.lastLoginAt };
}

export class ConsoleUsers {
  private readonly getStmt;
  private readonly listStmt;
  private readonly insertStmt;
  private readonly passwordStmt;
  private readonly roleStmt;
  private readonly deleteStmt;
  private readonly loginStmt;
  private readonly managersStmt;
  private readonly countStmt;

  constructor(
    private readonly db: ConsoleDb,
    private readonly clock: { now(): Date },
    private readonly scrypt?: ScryptParams,
    private readonly slots: HashSlots = new HashSlots(),
  ) {
    this.getStmt = db.prepare<[string], UserRow>(`SELECT ${SELECT} FROM console_users WHERE username = ?`);
    this.listStmt = db.prepare<[], UserRow>(`SELECT ${SELECT} FROM console_users ORDER BY username`);
    this.insertStmt = db.prepare<[string, string, string, string, string]>(
      'INSERT INTO console_users (username, role, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.passwordStmt = db.prepare<[string, string, string]>('UPDATE console_users SET password_hash = ?, password_changed_at = ? WHERE username = ?');
    this.roleStmt = db.prepare<[string, string]>('UPDATE console_users SET role = ? WHERE username = ?');
    this.deleteStmt = db.prepare<[string]>('DELETE FROM console_users WHERE username = ?');
    this.loginStmt = db.prepare<[string, string]>('UPDATE console_users SET last_login_at = ? WHERE username = ?');
    this.countStmt = db.prepare<[], number>('SELECT count(*) FROM console_users').pluck();
    this.managersStmt = db.prepare<[], number>("SELECT count(*) FROM console_users WHERE role = 'manager'").pluck();
  }

  list(): ConsoleUser[] {
    return this.listStmt.all().map(publicUser);
  }

  get(username: string): ConsoleUser | undefined {
    const row = this.getStmt.get(username);
    return row === undefined ? undefined : publicUser(row);
  }

  count(): number {
    return this.countStmt.get()!;
  }

  async add(username: string, role: Role, password: string): Promise<ConsoleUser> {
    if (this.getStmt.get(username) !== undefined) throw new UserError(`username: "${username}" already has an account`, 409);
    const hash = await this.hashing(() => hashPassword(password, this.scrypt));
    const at = this.clock.now().toISOString();
    try {
      this.insertStmt.run(username, role, hash, at, at);
    } catch (error) {
      // Added by someone else while the password was being hashed.
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new UserError(`username: "${username}" already has an account`, 409);
      throw error;
    }
    return this.get(username)!;
  }

  async setPassword(username: string, password: string): Promise<void> {
    if (this.getStmt.get(username) === undefined) throw new UserError(`no account "${username}"`, 404);
    const hash = await this.hashing(() => hashPassword(password, this.scrypt));
    this.passwordStmt.run(hash, this.clock.now().toISOString(), username);
  }

  setRole(username: string, role: Role): ConsoleUser {
    return this.db.transaction(() => {
      const user = this.getStmt.get(username);
      if (user === undefined) throw new UserError(`no account "${username}"`, 404);
      if (user.role === 'manager' && role !== 'manager' && this.managersStmt.get()! <= 1) {
        throw new UserError(`role: ${username} is the only manager; make someone else a manager first`, 409);
      }
      this.roleStmt.run(role, username);
      return this.get(username)!;
    })();
  }

  remove(username: string): void {
    this.db.transaction(() => {
      const user = this.getStmt.get(username);
      if (user === undefined) throw new UserError(`no account "${username}"`, 404);
      if (user.role === 'manager' && this.managersStmt.get()! <= 1) {
        throw new UserError(`${username} is the only manager and cannot be removed; make someone else a manager first`, 409);
      }
      this.deleteStmt.run(username);
    })();
  }

  /**
   * The account when the password is right; undefined otherwise, in about the same time either way.
   * Throws HashingBusyError, before hashing anything, when the slots and their queue are full.
   */
  async verify(username: string, password: string): Promise<ConsoleUser | undefined> {
    const row = this.getStmt.get(username);
    if (row === undefined) {
      await this.hashing(() => spendVerifyTime(password));
      return undefined;
    }
    if (!(await this.hashing(() => verifyPassword(password, row.passwordHash)))) return undefined;
    // Read again: the account may have been removed or changed while the hash was computed.
    const now = this.getStmt.get(username);
    return now === undefined || now.passwordHash !== row.passwordHash ? undefined : publicUser(now);
  }

  recordLogin(username: string): void {
    this.loginStmt.run(this.clock.now().toISOString(), username);
  }

  private hashing<T>(work: () => Promise<T>): Promise<T> {
    return this.slots.run(work);
  }
}
