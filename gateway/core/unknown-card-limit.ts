// Unknown-card bursts: someone trying cards at an unstaffed door (or a cloned-card scanner run against it). Past
// `burst` unknown cards within `windowMs` at one reader, further unknown cards there are refused at once, without
// a library-system query, until that reader has been quiet for `quietMs`; the `unknown-card-burst` alarm says so
// once, with the reader and the count, and clears with the total. Cards the member list knows never pass here, so
// a member behind a prankster gets their usual decision. Below a burst the SIP2 queries for unknown cards are
// bounded too (a token bucket for the whole gateway): a slow trickle of guesses must not become a trickle of
// look-ups with the library system.
import type { Logger } from 'pino';
import { TokenBucket } from '../../kit/token-bucket.js';
import type { Alarms } from './alarms.js';
import type { Clock, Timer } from './clock.js';
import type { AlarmName } from './model.js';

export const UNKNOWN_CARD_BURST_ALARM: AlarmName = 'unknown-card-burst';

export interface UnknownCardLimitConfig {
  /** More unknown cards than this at one reader within `windowMs` is a burst. */
  burst: number;
  windowMs: number;
  /** A burst ends once its reader has seen no unknown card for this long. */
  quietMs: number;
  /** Library-system queries about unknown cards, for the whole gateway: on average, and at most at once. */
  lookupsPerMinute: number;
  lookupBurst: number;
}

export interface UnknownCardLimitDeps {
  config: UnknownCardLimitConfig;
  clock: Clock;
  alarms: Pick<Alarms, 'has' | 'repeat' | 'clear'>;
  logger: Pick<Logger, 'info' | 'warn'>;
}

interface Burst {
  /** Unknown cards at the reader since the burst began, the ones that made it included. */
  count: number;
  lastAt: number;
  timer: Timer;
}

interface ReaderWindow {
  /** When the unknown cards within the window came (at most `burst` + 1 of them). */
  recent: number[];
  burst: Burst | undefined;
}

export class UnknownCardLimit {
  private readonly readers = new Map<string, ReaderWindow>();
  private readonly lookups: TokenBucket;
  /** Unknown cards decided without a query since the bucket ran dry (0: it has not). */
  private decidedWithoutLookup = 0;
  /** After a restart with the alarm raised: cleared if no burst follows within the quiet period. */
  private carried: Timer | undefined;

  constructor(private readonly deps: UnknownCardLimitDeps) {
    this.lookups = new TokenBucket({ perMinute: deps.config.lookupsPerMinute, burst: deps.config.lookupBurst }, () => this.nowMs());
  }

  /**
   * The alarm came back raised from before a restart, when the bursts behind it were forgotten: it ends like a
   * burst would, after a quiet period without one.
   */
  resume(): void {
    const { alarms, clock, config } = this.deps;
    if (!alarms.has(UNKNOWN_CARD_BURST_ALARM) || this.carried !== undefined) return;
    this.carried = clock.setTimeout(() => {
      this.carried = undefined;
      if (!this.anyBurst()) alarms.clear(UNKNOWN_CARD_BURST_ALARM, 'no burst of unknown cards since the gateway restarted');
    }, config.quietMs);
  }

  /** Counts an unknown card at `readerId`. True: the reader is in a burst, and the card is to be refused as such. */
  unknownCard(readerId: string): boolean {
    const now = this.nowMs();
    const reader = this.readers.get(readerId) ?? { recent: [], burst: undefined };
    this.readers.set(readerId, reader);
    if (reader.burst !== undefined) {
      reader.burst.count++;
      reader.burst.lastAt = now;
      return true;
    }
    const { config } = this.deps;
    reader.recent = reader.recent.filter((at) => now - at < config.windowMs);
    reader.recent.push(now);
    if (reader.recent.length <= config.burst) return false;
    this.begin(readerId, reader, now);
    return true;
  }

  /** Whether a library-system query about an unknown card may go out now (one token from the gateway's bucket). */
  mayLookUp(): boolean {
    if (this.lookups.take()) {
      if (this.decidedWithoutLookup > 0) {
        this.deps.logger.info({ unknownCards: this.decidedWithoutLookup }, `SIP2 online check: asking again; ${this.decidedWithoutLookup} unknown cards were refused without asking`);
        this.decidedWithoutLookup = 0;
      }
      return true;
    }
    if (this.decidedWithoutLookup === 0) {
      const { lookupsPerMinute, lookupBurst } = this.deps.config;
      this.deps.logger.warn({ lookupsPerMinute, lookupBurst }, 'SIP2 online check: queries for unknown cards used up; unknown cards are refused without asking until the limit allows again');
    }
    this.decidedWithoutLookup++;
    return false;
  }

  stop(): void {
    for (const reader of this.readers.values()) this.deps.clock.clearTimeout(reader.burst?.timer);
    this.deps.clock.clearTimeout(this.carried);
    this.carried = undefined;
    this.readers.clear();
  }

  private begin(readerId: string, reader: ReaderWindow, now: number): void {
    const { config, alarms, logger } = this.deps;
    const count = reader.recent.length;
    reader.recent = [];
    reader.burst = { count, lastAt: now, timer: this.armQuiet(readerId, config.quietMs) };
    const seconds = Math.round(config.windowMs / 1000);
    logger.warn({ reader: readerId, unknownCards: count, windowSeconds: seconds }, `unknown-card burst at reader ${readerId}: ${count} unknown cards within ${seconds} s; more are refused without a look-up until it is quiet`);
    // Another reader's burst already holds the alarm: its start is still history for whoever follows the incident.
    alarms.repeat(UNKNOWN_CARD_BURST_ALARM, `reader ${readerId}: ${count} unknown cards within ${seconds} s`);
  }

  private armQuiet(readerId: string, ms: number): Timer {
    return this.deps.clock.setTimeout(() => this.quietCheck(readerId), ms);
  }

  /** One timer per burst, moved on only when it fires: a flood of cards costs no timer churn. */
  private quietCheck(readerId: string): void {
    const reader = this.readers.get(readerId);
    const burst = reader?.burst;
    if (reader === undefined || burst === undefined) return;
    const { config, alarms, logger } = this.deps;
    const quietFor = this.nowMs() - burst.lastAt;
    if (quietFor < config.quietMs) {
      burst.timer = this.armQuiet(readerId, config.quietMs - quietFor);
      return;
    }
    reader.burst = undefined;
    const quietSeconds = Math.round(config.quietMs / 1000);
    const detail = `reader ${readerId}: ${burst.count} unknown cards in the burst, none for ${quietSeconds} s`;
    logger.info({ reader: readerId, unknownCards: burst.count, refused: burst.count - config.burst }, `unknown-card burst at reader ${readerId} over: ${burst.count} unknown cards`);
    if (!this.anyBurst()) alarms.clear(UNKNOWN_CARD_BURST_ALARM, detail);
  }

  private anyBurst(): boolean {
    for (const reader of this.readers.values()) if (reader.burst !== undefined) return true;
    return false;
  }

  private nowMs(): number {
    return this.deps.clock.now().getTime();
  }
}
