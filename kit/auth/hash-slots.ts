// Password hashing is deliberately slow (scrypt, 32 MB, tens of milliseconds of a core). A flood of sign-ins must not
// take the cores the door needs: at most `concurrent` hashes run at once, a few more wait their turn, and the rest
// are refused at once with "busy" (a 503 with Retry-After), before any hashing.
export class HashSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limits: { concurrent: number; queued: number } = { concurrent: 1, queued: 8 }) {}

  /** Runs `work` in a slot; throws HashingBusyError without running it when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrent) {
      if (this.waiting.length >= this.limits.queued) throw new HashingBusyError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next in line (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running -= 1;
    }
  }

  get busy(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}

/** Every hashing slot taken and the queue full: answered with a 503 and Retry-After, before any hashing. */
export class HashingBusyError extends Error {
  constructor() {
    super('sign-in is busy; try again in a moment');
    this.name = 'HashingBusyError';
  }
}
