// Per-client limits for the embedded broker: a token bucket of messages per client, and a summary of refusals so
// that a flood of refused messages (over the rate, too large, outside the ACL) costs a log line per client per
// minute, not one each: the flood must not become a disk-filling flood of its own.

/** Milliseconds, injected so tests need no real time. */
export type MonotonicClock = () => number;

export interface RateLimit {
  /** Messages a client may publish each second, on average. */
  perSecond: number;
  /** Messages it may publish at once after being quiet: a gateway's backlog after an outage goes out in bursts. */
  burst: number;
}

/**
 * A branch publishes a few messages a minute in normal running and at most `eventBatch` (50) unacknowledged
 * events at a time when it empties its outbox; 100 a second keeps a day's backlog to a minute or two.
 */
export const DEFAULT_CLIENT_RATE: RateLimit = { perSecond: 100, burst: 500 };

export type RateAnswer = { ok: true } | { ok: false; retryInMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class ClientRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit = DEFAULT_CLIENT_RATE,
    private readonly clock: MonotonicClock = () => performance.now(),
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new Error('a rate limit needs perSecond > 0 and burst >= 1');
  }

  /** Takes one message's token: ok, or how long until the client may publish again. */
  take(clientId: string): RateAnswer {
    const now = this.clock();
    const bucket = this.buckets.get(clientId) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) * this.limit.perSecond) / 1000);
    bucket.at = now;
    this.buckets.set(clientId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryInMs: Math.ceil(((1 - bucket.tokens) * 1000) / this.limit.perSecond) };
  }

  /** A client that disconnected: its bucket goes, so the map holds only connected clients. */
  forget(clientId: string): void {
    this.buckets.delete(clientId);
  }

  get clients(): number {
    return this.buckets.size;
  }
}

/** The part of a pino logger the summary uses. */
export interface WarnLogger {
  warn(fields: object, message: string): void;
}

interface ClientRefusals {
  username: string | undefined;
  count: number;
  lastReason: string;
}

/** Clients tracked at once; past this, refusals of new clients are only counted together (many client ids is itself a flood). */
const MAX_TRACKED_CLIENTS = 1000;

/**
 * Logs the first refusal of each client in full, then counts: `flush` (every minute, from `start`) logs one line per
 * client that was refused again, with how many and the last reason, and starts a new minute in which the next
 * refusal is logged in full again.
 */
export class RefusalSummary {
  private refused = new Map<string, ClientRefusals>();
  private untracked = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: WarnLogger,
    private readonly intervalMs = 60_000,
  ) {}

  refuse(clientId: string, username: string | undefined, reason: string): void {
    const known = this.refused.get(clientId);
    if (known !== undefined) {
      known.count++;
      known.lastReason = reason;
      return;
    }
    if (this.refused.size >= MAX_TRACKED_CLIENTS) {
      this.untracked++;
      return;
    }
    this.refused.set(clientId, { username, count: 0, lastReason: reason });
    this.logger.warn({ client: clientId, username, reason }, 'mqtt broker refused a message; more from this client are counted, not logged each');
  }

  /** Logs the counts of the minute that ends, and forgets them. */
  flush(): void {
    for (const [client, r] of this.refused) {
      if (r.count > 0) this.logger.warn({ client, username: r.username, refused: r.count, lastReason: r.lastReason }, `mqtt broker refused ${r.count} more messages from this client`);
    }
    if (this.untracked > 0) this.logger.warn({ refused: this.untracked }, `mqtt broker refused ${this.untracked} messages from clients beyond the first ${MAX_TRACKED_CLIENTS}`);
    this.refused = new Map();
    this.untracked = 0;
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
