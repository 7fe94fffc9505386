// Refusals of the same kind told once, then counted: the first of a kind in full, the rest only as a number when
// its interval ends. A flood of bad messages (3,000 invalid policies, forged commands, a client over its rate) must
// not become 3,000 events or log lines: each write costs the disk and the uplink what taps need, and a person reading
// the log learns nothing from the 2,999th copy that the first did not say, except how many.
// One piece for the gateway's policy refusals, the uplink's and the embedded broker's; each says it in its own words.

/**
 * The timers and the time a tally runs on. The gateway's Clock (gateway/core/clock.ts) is one, so the tally follows
 * vitest's fake timers and the demo's scaled time.
 */
export interface TallyClock {
  now(): Date;
  setTimeout(callback: () => void, ms: number): object;
  clearTimeout(timer: object | undefined): void;
}

// Through globalThis on each call so that fake timers installed after import are the ones used; unref'd so that an
// interval still counting never keeps a process alive on its own.
export const systemTallyClock: TallyClock = {
  now: () => new Date(),
  setTimeout: (callback, ms) => {
    const timer = globalThis.setTimeout(callback, ms);
    timer.unref?.();
    return timer;
  },
  clearTimeout: (timer) => globalThis.clearTimeout(timer as ReturnType<typeof globalThis.setTimeout> | undefined),
};

export interface RefusalCount<D> {
  /** The kind, or null for the kinds past `maxKinds`, counted together (never told in full). */
  kind: string | null;
  /** How many refusals were counted and not told since `since`. */
  count: number;
  since: Date;
  /** What the last of them said. */
  last: D;
}

export interface RefusalTallyOptions<D> {
  intervalMs: number;
  /**
   * Kinds kept apart at once; past this the new ones are counted together. Kinds that vary without end (a client id
   * each, a reason with a number in it) are a flood of their own.
   */
  maxKinds?: number;
  clock?: TallyClock;
  /** Called when an interval ends with refusals that were only counted, and at stop. */
  onSummary: (count: RefusalCount<D>) => void;
}

interface Window<D> {
  since: Date;
  count: number;
  last: D;
  timer: object;
}

const DEFAULT_MAX_KINDS = 1000;

export class RefusalTally<D = string> {
  private readonly open = new Map<string, Window<D>>();
  private beyondCap: Window<D> | null = null;
  private readonly clock: TallyClock;

  constructor(private readonly options: RefusalTallyOptions<D>) {
    this.clock = options.clock ?? systemTallyClock;
  }

  /**
   * Whether to tell this refusal in full: the first of its kind in an interval is; the others in the same interval
   * are counted, and their number and the last one's detail come out once, when the interval ends.
   */
  admit(kind: string, detail: D): boolean {
    const window = this.open.get(kind);
    if (window !== undefined) {
      window.count += 1;
      window.last = detail;
      return false;
    }
    if (this.open.size >= (this.options.maxKinds ?? DEFAULT_MAX_KINDS)) {
      this.beyondCap ??= this.window(() => this.closeBeyondCap(), detail);
      this.beyondCap.count += 1;
      this.beyondCap.last = detail;
      return false;
    }
    this.open.set(kind, this.window(() => this.close(kind), detail));
    return true;
  }

  /** Ends every interval now, as if its time had come. */
  flush(): void {
    for (const [kind, window] of [...this.open]) {
      this.clock.clearTimeout(window.timer);
      this.close(kind);
    }
    if (this.beyondCap !== null) {
      this.clock.clearTimeout(this.beyondCap.timer);
      this.closeBeyondCap();
    }
  }

  /** Tells what is still counted, so that a stop loses no number, and leaves no timer behind. */
  stop(): void {
    const windows: Array<[string | null, Window<D>]> = [...this.open];
    if (this.beyondCap !== null) windows.push([null, this.beyondCap]);
    this.open.clear();
    this.beyondCap = null;
    for (const [kind, window] of windows) {
      this.clock.clearTimeout(window.timer);
      this.summarise(kind, window);
    }
  }

  private window(close: () => void, detail: D): Window<D> {
    return { since: this.clock.now(), count: 0, last: detail, timer: this.clock.setTimeout(close, this.options.intervalMs) };
  }

  /** An interval ended: its count comes out, and a flood still going on keeps one window (one summary an interval). */
  private close(kind: string): void {
    const window = this.open.get(kind);
    if (window === undefined) return;
    this.open.delete(kind);
    if (window.count === 0) return;
    this.summarise(kind, window);
    this.open.set(kind, this.window(() => this.close(kind), window.last));
  }

  private closeBeyondCap(): void {
    const window = this.beyondCap;
    this.beyondCap = null;
    if (window !== null) this.summarise(null, window);
  }

  private summarise(kind: string | null, window: Window<D>): void {
    if (window.count > 0) this.options.onSummary({ kind, count: window.count, since: window.since, last: window.last });
  }
}
