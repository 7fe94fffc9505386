// Refusals of what came over the broker (forged, replayed, unsigned, invalid), logged without letting a flood of
// them flood the log: the first of each kind at once, with its reason, then how many more each minute. Never an
// event each: 3,000 forged messages must not become 3,000 rows in the outbox and 3,000 messages to central.
import type { Logger } from 'pino';

const PERIOD_MS = 60_000;
/** Distinct kinds kept apart; past this (reasons that vary, say) the rest are counted together. */
const MAX_KINDS = 64;
const OTHER = 'other refusals';

interface Kind {
  what: string;
  reason: string;
  /** Refused since the last line about this kind. */
  more: number;
}

export class RefusalLog {
  private readonly kinds = new Map<string, Kind>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly periodMs = PERIOD_MS,
  ) {}

  /** `what` was refused for `reason` (one line, no card numbers); `detail` goes with the first line only. */
  refused(what: string, reason: string, detail: Record<string, unknown> = {}): void {
    let key = `${what}\n${reason}`;
    if (!this.kinds.has(key) && this.kinds.size >= MAX_KINDS) key = OTHER;
    const kind = this.kinds.get(key);
    if (kind !== undefined) {
      kind.more++;
      this.arm();
      return;
    }
    this.kinds.set(key, key === OTHER ? { what: OTHER, reason: 'various', more: 1 } : { what, reason, more: 0 });
    if (key !== OTHER) this.logger.warn({ ...detail, refused: what, reason }, `${what} refused: ${reason}`);
    this.arm();
  }

  /** Says how many more were refused, and forgets kinds that went quiet (their next one is logged in full). */
  flush(): void {
    for (const [key, kind] of this.kinds) {
      if (kind.more === 0) {
        this.kinds.delete(key);
        continue;
      }
      this.logger.warn({ refused: kind.what, reason: kind.reason, count: kind.more }, `${kind.what} refused ${kind.more} more times in the last minute: ${kind.reason}`);
      kind.more = 0;
    }
    if (this.kinds.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.flush(), this.periodMs);
    this.timer.unref();
  }
}
