// The sign-in limit (branch console and central), per account and per client address. Behind a proxy every member of staff may come from one
// address, so a limit on the address alone lets ten wrong passwords for one account lock everybody out; a limit on
// the account alone lets one machine try a few passwords on every account. Both are counted: wrong passwords for
// an account limit that account, from wherever they come; many wrong passwords from one address (whichever
// accounts) limit that address, with room for a whole branch's staff mistyping behind one proxy.
// Only failures count, in a sliding window; the account's failures are forgotten when it signs in. Kept in memory:
// a restart forgets them, which a guesser cannot make happen from outside.
import { createHash } from 'node:crypto';

export interface LoginLimit {
  /** Wrong passwords for one account within the window, then 429 for that account. */
  perAccount: number;
  /** Wrong passwords from one client address within the window (any accounts), then 429 for that address. */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { perAccount: 10, perAddress: 30, windowMs: 5 * 60_000 };

/** Past this many accounts and addresses tracked, the least recently failed are forgotten (memory is bounded). */
const MAX_KEYS = 10_000;

export type LimitAnswer = { ok: true } | { ok: false; by: 'account' | 'address'; retryAfterMs: number };

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly limit: LoginLimit,
    private readonly clock: { now(): Date },
  ) {}

  /** Whether a sign-in for `account` from `address` may be tried now (before any password is hashed). */
  check(account: string, address: string): LimitAnswer {
    const now = this.clock.now().getTime();
    return limitAnswer(this.limit, this.recent(accountKey(account), now), this.recent(addressKey(address), now), now);
  }

  /** A wrong password (or no such account): counted against both. */
  failed(account: string, address: string): void {
    const now = this.clock.now().getTime();
    this.add(accountKey(account), this.limit.perAccount, now);
    this.add(addressKey(address), this.limit.perAddress, now);
  }

  /** The account's own failures end with a sign-in; the address's stay (one known password must not reset them). */
  succeeded(account: string): void {
    this.failures.delete(accountKey(account));
  }


  private add(key: string, max: number, now: number): void {
    const times = this.recent(key, now);
    times.push(now);
    // Only the last `max` failures decide when the next attempt is allowed.
    if (times.length > max) times.splice(0, times.length - max);
    // Re-inserted, so the map's order is that of the last failure: the oldest go first when it is full.
    this.failures.delete(key);
    this.failures.set(key, times);
    if (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(key: string, now: number): number[] {
    const times = this.failures.get(key);
    if (times === undefined) return [];
    const live = times.filter((t) => now - t < this.limit.windowMs);
    if (live.length === 0) this.failures.delete(key);
    return live;
  }
}

/**
 * How long until one more attempt is allowed under `max` failures a window, 0 when it is allowed now. `times`: the
 * failures within the window, oldest first (in milliseconds).
 */
export function limitWait(times: readonly number[], max: number, windowMs: number, now: number): number {
  if (times.length < max) return 0;
  return times[times.length - max]! + windowMs - now;
}

/** The answer for an account and an address, from the failures in the window of each (oldest first). */
export function limitAnswer(limit: LoginLimit, byAccount: readonly number[], byAddress: readonly number[], now: number): LimitAnswer {
  const accountWait = limitWait(byAccount, limit.perAccount, limit.windowMs, now);
  if (accountWait > 0) return { ok: false, by: 'account', retryAfterMs: accountWait };
  const addressWait = limitWait(byAddress, limit.perAddress, limit.windowMs, now);
  if (addressWait > 0) return { ok: false, by: 'address', retryAfterMs: addressWait };
  return { ok: true };
}

/** What the failures of one account are kept under: the name hashed, never as typed. */
export function accountKey(account: string): string {
  // Hashed: what was typed as a username may be a password typed into the wrong box.
  return `account:${createHash('sha256').update(account.trim().toLowerCase()).digest('base64')}`;
}

export function addressKey(address: string): string {
  return `address:${address}`;
}

/** "try again in 4 minutes" from a wait in milliseconds. */
export function retryText(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
