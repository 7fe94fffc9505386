// Refusals of what came over the broker (forged, replayed, unsigned, invalid), logged without letting a flood of
// them flood the log: the first of each kind at once, with its reason, then how many more each minute
// (kit/refusal-tally.ts). Never an event each: 3,000 forged messages must not become 3,000 rows in the outbox and
// 3,000 messages to central.
import type { Logger } from 'pino';
import { RefusalTally } from '../../kit/refusal-tally.js';
import type { RefusalCount } from '../../kit/refusal-tally.js';

const PERIOD_MS = 60_000;
/** Distinct kinds kept apart; past this (reasons that vary, say) the rest are counted together. */
const MAX_KINDS = 64;

interface Refused {
  what: string;
  reason: string;
}

export class RefusalLog {
  private readonly tally: RefusalTally<Refused>;

  constructor(
    private readonly logger: Pick<Logger, 'warn'>,
    periodMs = PERIOD_MS,
  ) {
    this.tally = new RefusalTally({ intervalMs: periodMs, maxKinds: MAX_KINDS, onSummary: (count) => this.summary(count) });
  }

  /** `what` was refused for `reason` (one line, no card numbers); `detail` goes with the first line only. */
  refused(what: string, reason: string, detail: Record<string, unknown> = {}): void {
    if (this.tally.admit(`${what}\n${reason}`, { what, reason })) this.logger.warn({ ...detail, refused: what, reason }, `${what} refused: ${reason}`);
  }

  /** Says how many are still counted. */
  stop(): void {
    this.tally.stop();
  }

  private summary({ kind, count, last }: RefusalCount<Refused>): void {
    if (kind === null) {
      this.logger.warn({ refused: 'other refusals', count }, `${count} more refusals of other kinds in the last minute, the last: ${last.what} refused: ${last.reason}`);
      return;
    }
    this.logger.warn({ refused: last.what, reason: last.reason, count }, `${last.what} refused ${count} more times in the last minute: ${last.reason}`);
  }
}
