// Answers from the LMS, remembered for a while by keyed card hash. In memory on purpose (docs/sip2.md): the
// members table is the list central published, whose count and hash the branch reports and checks deltas
// against; a card found online must not change that list, and must be asked about again once its answer is old.
import type { Member } from '../../policies/types.js';

export interface CacheClock {
  now(): Date;
}

interface Entry {
  /** null: the LMS said there is no such patron. */
  member: Member | null;
  until: number;
}

export class PatronCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: CacheClock,
    private readonly foundMs: number,
    private readonly notFoundMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** A member, null (known not to exist), or undefined (not cached, or the answer is too old). */
  get(cardHash: Buffer): Member | null | undefined {
    const key = cardHash.toString('base64');
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.clock.now().getTime() >= entry.until) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.member;
  }

  set(cardHash: Buffer, member: Member | null): void {
    const ttl = member === null ? this.notFoundMs : this.foundMs;
    const key = cardHash.toString('base64');
    this.entries.delete(key);
    if (ttl <= 0) return;
    this.entries.set(key, { member, until: this.clock.now().getTime() + ttl });
    // Insertion order is age order: the oldest answers go first.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
