// Console sessions: kit/auth/sessions.ts on the console's own tables (migration `console` of the gateway's store).
import { hashSessionToken, SessionStore, DEFAULT_SESSION_LIMITS } from '../../kit/auth/sessions.js';
import type { Session as KitSession, SessionLimits } from '../../kit/auth/sessions.js';
import type { ConsoleDb } from './db.js';
import type { Role } from './users.js';

export { DEFAULT_SESSION_LIMITS };
export type { SessionLimits };

export type Session = KitSession<Role>;

export const hashToken = hashSessionToken;

export class ConsoleSessions extends SessionStore<Role> {
  constructor(db: ConsoleDb, clock: { now(): Date }, limits: SessionLimits = DEFAULT_SESSION_LIMITS) {
    super(db, clock, { sessions: 'console_sessions', users: 'console_users' }, limits);
  }
}
