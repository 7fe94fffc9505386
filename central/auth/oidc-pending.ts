// Sign-ins on their way through the OpenID provider, kept at central: the PKCE verifier and the nonce never leave
// the server, and each is bound to the browser that started it (a random value in an http-only cookie, stored here
// only as its SHA-256). Each can be taken once, within 10 minutes; a flood of starts cannot grow it without bound.
import { createHash, randomBytes } from 'node:crypto';
import { sameToken } from '../../kit/auth/request-checks.js';

export const PENDING_TTL_MS = 10 * 60_000;
/** Far more than people sign in within 10 minutes; past it the oldest are dropped (they fail as "unknown"). */
export const MAX_PENDING = 10_000;

export interface PendingSignIn {
  codeVerifier: string;
  nonce: string;
  /** Where to go once signed in: a path on central. */
  next: string;
}

interface Entry extends PendingSignIn {
  browserHash: string;
  expiresAt: number;
}

export type TakeResult =
  | { ok: true; pending: PendingSignIn }
  | { ok: false; reason: 'unknown' | 'other-browser' | 'expired' };

export class PendingSignIns {
  private readonly byState = new Map<string, Entry>();

  constructor(private readonly clock: { now(): Date }) {}

  /** A new value for the browser cookie (when the browser has none yet). */
  static newBrowserKey(): string {
    return randomBytes(32).toString('base64url');
  }

  static isBrowserKey(value: string | undefined): value is string {
    return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value);
  }

  get size(): number {
    return this.byState.size;
  }

  add(state: string, browserKey: string, pending: PendingSignIn): void {
    const now = this.clock.now().getTime();
    this.dropExpired(now);
    while (this.byState.size >= MAX_PENDING) {
      const oldest = this.byState.keys().next().value;
      if (oldest === undefined) break;
      this.byState.delete(oldest);
    }
    this.byState.set(state, { ...pending, browserHash: hash(browserKey), expiresAt: now + PENDING_TTL_MS });
  }

  /** Removes the sign-in whatever the answer: a state is good for one callback only. */
  take(state: string, browserKey: string | undefined): TakeResult {
    const entry = this.byState.get(state);
    if (entry === undefined) return { ok: false, reason: 'unknown' };
    this.byState.delete(state);
    if (browserKey === undefined || !sameToken(hash(browserKey), entry.browserHash)) return { ok: false, reason: 'other-browser' };
    if (this.clock.now().getTime() >= entry.expiresAt) return { ok: false, reason: 'expired' };
    const { codeVerifier, nonce, next } = entry;
    return { ok: true, pending: { codeVerifier, nonce, next } };
  }

  private dropExpired(now: number): void {
    // Insertion order is expiry order: stop at the first one still alive.
    for (const [state, entry] of this.byState) {
      if (entry.expiresAt > now) break;
      this.byState.delete(state);
    }
  }
}

function hash(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
