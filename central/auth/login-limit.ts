// How many wrong passwords central takes before it stops checking: per account (someone guessing one person's
// password) and per client address (someone trying many accounts). The per-address limit is the higher one, so
// that a guesser who locks one account out does not lock out the colleagues behind the same office address, and
// behind a proxy the address is the client's (http.trustProxy), not the proxy's. A refused attempt is refused
// before any hashing: a flood costs no CPU.
export interface LoginLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
}

/** Memory stays bounded whatever a flood invents: the oldest keys go first. */
const MAX_KEYS = 20_000;

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limits: LoginLimits,
    private readonly clock: { now(): Date },
  ) {}

  /** Seconds until another attempt is taken, or undefined when this one may go ahead. */
  retryAfter(account: string, address: string): { seconds: number; by: 'account' | 'address' } | undefined {
    const now = this.clock.now().getTime();
    const byAccount = this.wait(`a:${account}`, this.limits.perAccount, now);
    if (byAccount !== undefined) return { seconds: byAccount, by: 'account' };
    const byAddress = this.wait(`ip:${address}`, this.limits.perAddress, now);
    return byAddress === undefined ? undefined : { seconds: byAddress, by: 'address' };
  }

  failed(account: string, address: string): void {
    const now = this.clock.now().getTime();
    this.add(`a:${account}`, this.limits.perAccount, now);
    this.add(`ip:${address}`, this.limits.perAddress, now);
  }

  /** The right password ends the account's run of failures (the address's count stays). */
  succeeded(account: string): void {
    this.failures.delete(`a:${account}`);
  }

  private recent(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((at) => now - at < this.limits.windowMs);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  private wait(key: string, limit: number, now: number): number | undefined {
    const list = this.recent(key, now);
    if (list.length < limit) return undefined;
    return Math.max(1, Math.ceil((list[list.length - limit]! + this.limits.windowMs - now) / 1000));
  }

  private add(key: string, limit: number, now: number): void {
    const list = this.recent(key, now);
    list.push(now);
    // Only the last `limit` matter for the answer.
    if (list.length > limit) list.splice(0, list.length - limit);
    this.failures.delete(key);
    this.failures.set(key, list);
    while (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }
}
