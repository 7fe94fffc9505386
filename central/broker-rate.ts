// Per-client limits for the embedded broker: a token bucket of messages per client, and a summary of refusals so
// that a flood of refused messages (over the rate, too large, outside the ACL) costs a log line per client per
// minute, not one each: the flood must not become a disk-filling flood of its own. The bucket and the tally are
// kit's; this file holds the broker's numbers and words.
import { RefusalTally } from '../kit/refusal-tally.js';
import type { RefusalCount } from '../kit/refusal-tally.js';
import { TokenBucket } from '../kit/token-bucket.js';
import type { BucketRate } from '../kit/token-bucket.js';

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

export class ClientRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly rate: BucketRate;

  constructor(
    limit: RateLimit = DEFAULT_CLIENT_RATE,
    private readonly clock: MonotonicClock = () => performance.now(),
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new Error('a rate limit needs perSecond > 0 and burst >= 1');
    this.rate = { perMinute: limit.perSecond * 60, burst: limit.burst };
  }

  /**
   * Takes one message's token: ok, or how long until the client may publish again. The broker keys it by user (a
   * site), not by connection: reconnecting does not refill the bucket, and the map holds at most the password
   * file's users.
   */
  take(clientId: string): RateAnswer {
    let bucket = this.buckets.get(clientId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.rate, this.clock);
      this.buckets.set(clientId, bucket);
    }
    return bucket.take() ? { ok: true } : { ok: false, retryInMs: bucket.retryInMs() };
  }

  /** Drops a client's bucket (the broker keeps each user's for as long as it runs, so never calls it). */
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

interface ClientRefusal {
  username: string | undefined;
  reason: string;
}

/** Clients tracked at once; past this, refusals of new clients are only counted together (many client ids is itself a flood). */
const MAX_TRACKED_CLIENTS = 1000;

/**
 * Logs the first refusal of each client in full, then counts (kit/refusal-tally.ts): one line a minute per client
 * refused again, with how many and the last reason; a client quiet for a minute is told in full again.
 */
export class RefusalSummary {
  private readonly tally: RefusalTally<ClientRefusal>;

  constructor(
    private readonly logger: WarnLogger,
    intervalMs = 60_000,
  ) {
    this.tally = new RefusalTally({ intervalMs, maxKinds: MAX_TRACKED_CLIENTS, onSummary: (count) => this.summary(count) });
  }

  refuse(clientId: string, username: string | undefined, reason: string): void {
    if (!this.tally.admit(clientId, { username, reason })) return;
    this.logger.warn({ client: clientId, username, reason }, 'mqtt broker refused a message; more from this client are counted, not logged each');
  }

  /** Logs the counts of the minute that ends now. */
  flush(): void {
    this.tally.flush();
  }

  /** Logs what is still counted. */
  stop(): void {
    this.tally.stop();
  }

  private summary({ kind: client, count, last }: RefusalCount<ClientRefusal>): void {
    if (client === null) this.logger.warn({ refused: count }, `mqtt broker refused ${count} messages from clients beyond the first ${MAX_TRACKED_CLIENTS}`);
    else this.logger.warn({ client, username: last.username, refused: count, lastReason: last.reason }, `mqtt broker refused ${count} more messages from this client`);
  }
}
