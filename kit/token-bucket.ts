// One token bucket: up to `burst` at once after a quiet spell, `perMinute` on average. The clock is handed in (ms),
// so tests need no real time; a clock that steps back refills nothing rather than going negative.

export interface BucketRate {
  /** Tokens added each minute, on average. */
  perMinute: number;
  /** Tokens held at most: how many may be taken at once after a quiet spell. */
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: BucketRate,
    private readonly nowMs: () => number,
  ) {
    if (!(rate.perMinute > 0) || !(rate.burst >= 1)) throw new Error('a token bucket needs perMinute > 0 and burst >= 1');
    this.tokens = rate.burst;
    this.at = nowMs();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0: one is there now), for a "try again in" answer. */
  retryInMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 60_000) / this.rate.perMinute);
  }

  private refill(): void {
    const now = this.nowMs();
    this.tokens = Math.min(this.rate.burst, this.tokens + (Math.max(0, now - this.at) * this.rate.perMinute) / 60_000);
    this.at = now;
  }
}
