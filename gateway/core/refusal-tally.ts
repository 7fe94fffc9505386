// Refusals of the same kind folded into one record per interval. A flood of bad messages (3,000 invalid policies,
// say) must not become 3,000 events and log lines: each write costs the disk and the uplink what taps need, and a
// person reading the log learns nothing from the 2,999th copy that the first did not say, except how many.
import type { Clock, Timer } from './clock.js';

export const REFUSAL_INTERVAL_MS = 10 * 60_000;

export interface RefusalSummary {
  kind: string;
  /** How many refusals of this kind were counted and not written out since `since`. */
  count: number;
  since: Date;
  /** What the last of them said. */
  last: string;
}

interface Window {
  since: Date;
  count: number;
  last: string;
  timer: Timer;
}

export class RefusalTally {
  private readonly open = new Map<string, Window>();

  constructor(
    private readonly deps: {
      clock: Clock;
      intervalMs?: number;
      /** Called when an interval ends with refusals that were only counted (and at stop). */
      onSummary: (summary: RefusalSummary) => void;
    },
  ) {}

  /**
   * Whether to write this refusal out in full: the first of its kind in an interval is; the others in the same
   * interval are counted, and their number and the last one's detail come out once, when the interval ends.
   */
  admit(kind: string, detail: string): boolean {
    const window = this.open.get(kind);
    if (window !== undefined) {
      window.count += 1;
      window.last = detail;
      return false;
    }
    this.start(kind);
    return true;
  }

  /** Writes out what is still counted, so that a stop loses no number. */
  stop(): void {
    for (const [kind, window] of this.open) {
      this.deps.clock.clearTimeout(window.timer);
      if (window.count > 0) this.deps.onSummary({ kind, count: window.count, since: window.since, last: window.last });
    }
    this.open.clear();
  }

  private start(kind: string): void {
    const timer = this.deps.clock.setTimeout(() => this.close(kind), this.deps.intervalMs ?? REFUSAL_INTERVAL_MS);
    this.open.set(kind, { since: this.deps.clock.now(), count: 0, last: '', timer });
  }

  /** An interval ended: its count comes out, and a flood still going on keeps one window (one record an interval). */
  private close(kind: string): void {
    const window = this.open.get(kind);
    if (window === undefined) return;
    this.open.delete(kind);
    if (window.count === 0) return;
    this.deps.onSummary({ kind, count: window.count, since: window.since, last: window.last });
    this.start(kind);
  }
}
