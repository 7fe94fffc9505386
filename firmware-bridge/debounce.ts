// Contacts bounce and long cables pick up noise: a level counts only once it has held for the debounce time.

export class Debouncer {
  private stable: boolean;
  private pending: boolean;
  private timer: NodeJS.Timeout | undefined;

  /** `onChange` runs with the new stable level; a debounce of 0 passes every change straight through. */
  constructor(
    initial: boolean,
    private readonly debounceMs: number,
    private readonly onChange: (level: boolean) => void,
  ) {
    this.stable = initial;
    this.pending = initial;
  }

  /** The debounced level. */
  get level(): boolean {
    return this.stable;
  }

  /** A raw reading from the pin (after the active level is applied). */
  feed(raw: boolean): void {
    if (raw === this.pending) return;
    this.pending = raw;
    this.cancel();
    if (raw === this.stable) return; // a pulse shorter than the debounce time: ignored
    if (this.debounceMs <= 0) {
      this.commit(raw);
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.commit(raw);
    }, this.debounceMs);
  }

  dispose(): void {
    this.cancel();
  }

  private commit(level: boolean): void {
    this.stable = level;
    this.onChange(level);
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
