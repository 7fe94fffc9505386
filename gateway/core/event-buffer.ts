// The events the core has recorded and storage has not yet taken. Normally it holds one event for a moment: the
// store writer takes each as it comes. While storage is failing (disk full, I/O error, another process holding
// the write lock) it is what keeps the log: bounded, so that a long outage cannot exhaust the Pi's memory.
import type { EventInput } from '../store/types.js';

export type PendingEvent = EventInput & { id: string };

/** About 300 bytes an event: 50,000 is some 15 MB, and days of a busy branch's taps. */
export const DEFAULT_EVENT_BUFFER_CAPACITY = 50_000;

export class EventBuffer {
  private items: PendingEvent[] = [];
  private head = 0;
  /** Events dropped because the buffer was full, since the last time the store writer reported them. */
  dropped = 0;

  constructor(readonly capacity = DEFAULT_EVENT_BUFFER_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('event buffer capacity must be a positive whole number');
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** Beyond capacity the oldest event goes: what is happening now matters more to a branch with nobody there. */
  push(event: PendingEvent): void {
    if (this.size >= this.capacity) {
      this.head += 1;
      this.dropped += 1;
    }
    this.items.push(event);
    this.compact();
  }

  /** The oldest `n` events, still in the buffer until `remove(n)`. */
  peek(n: number): PendingEvent[] {
    return this.items.slice(this.head, this.head + n);
  }

  remove(n: number): void {
    this.head = Math.min(this.items.length, this.head + n);
    this.compact();
  }

  private compact(): void {
    // Shifting one at a time would copy the whole array per event; drop the consumed prefix now and then.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
