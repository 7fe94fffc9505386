// Blocks the library system told the branch about before its member list did (the SIP2 second opinion,
// gateway/sip2/second-opinion.ts). The door reads them on the hot path, so they live in memory, keyed by card hash;
// each is saved in the store's settings as well, so a restart keeps it. A block stands for the member row it was
// made against: once a member-list version changes that member (blocked there too, unblocked, a new expiry, or
// gone), the list speaks for the library system again and the block is lifted; and at the latest at `until`.
//
// Settings, not a table of its own: the blocks are a handful of rows at most, written only when the library system
// contradicts the list, and a migration would be one more step for every branch's store.
import { z } from 'zod';
import { memberDigest } from '../../policies/member-list.js';
import type { Member } from '../../policies/types.js';
import type { Alarms } from './alarms.js';
import type { Clock } from './clock.js';
import type { AlarmName } from './model.js';

/** Raised by the second opinion with the card's pseudonym; cleared here once no block stands. */
export const LMS_BLOCK_ALARM: AlarmName = 'lms-block-not-in-list';

export const LMS_BLOCKS_SETTING = 'lms-blocks';
/** More than this many at once is the library system or its mapping saying something wrong, not members: the oldest go. */
export const MAX_LMS_BLOCKS = 1000;

const SavedSchema = z.array(
  z.strictObject({
    card: z.base64(),
    /** The member row's digest when the block was made: the list's word the block overrules. */
    row: z.base64(),
    at: z.iso.datetime(),
    until: z.iso.datetime(),
  }),
);
type Saved = z.infer<typeof SavedSchema>[number];

interface Entry {
  row: string;
  at: number;
  until: number;
}

/** What the blocks need from the store; every call may throw (a failing disk), and each caller guards it. */
export interface LmsBlockStorage {
  load(): unknown;
  save(value: Saved[]): void;
  findMember(cardHash: Buffer): Member | undefined;
  /** The list in force's hash: a new version is a new hash. */
  listHash(): string;
}

export class LmsBlocks {
  private readonly entries = new Map<string, Entry>();
  private seenListHash: string | undefined;

  constructor(
    private readonly deps: {
      storage: LmsBlockStorage;
      clock: Pick<Clock, 'now'>;
      alarms: Pick<Alarms, 'clear'>;
      /** A store call that may fail: its fault is the storage alarm, and `fallback` stands in. */
      guard: <T>(what: string, fn: () => T, fallback: T) => T;
    },
  ) {}

  /** Reads the saved blocks; a value that no longer fits is dropped (the list decides, as before any block). */
  load(): void {
    const raw = this.deps.guard('reading the library-system blocks', () => this.deps.storage.load(), undefined);
    const parsed = SavedSchema.safeParse(raw ?? []);
    this.entries.clear();
    if (parsed.success) {
      for (const saved of parsed.data) this.entries.set(saved.card, { row: saved.row, at: Date.parse(saved.at), until: Date.parse(saved.until) });
    }
    this.seenListHash = this.deps.guard('reading the member list figures', () => this.deps.storage.listHash(), undefined);
    // An alarm restored from before the restart with no block saved beside it (a store that lost the setting).
    this.clearAlarmWhenNone('no library-system block stands');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The hot path: whether a block stands for this card and the list's row for it. In memory, no store call. */
  blocks(cardHash: Buffer, member: Member): boolean {
    if (this.entries.size === 0) return false;
    const entry = this.entries.get(cardHash.toString('base64'));
    if (entry === undefined || this.deps.clock.now().getTime() >= entry.until) return false;
    return entry.row === rowDigest(cardHash, member);
  }

  has(cardHash: Buffer): boolean {
    return this.entries.has(cardHash.toString('base64'));
  }

  /** Blocks the card until `until`, against the list's row `member`. */
  add(cardHash: Buffer, member: Member, until: Date): void {
    const key = cardHash.toString('base64');
    this.entries.delete(key);
    this.entries.set(key, { row: rowDigest(cardHash, member), at: this.deps.clock.now().getTime(), until: until.getTime() });
    // Insertion order is age order.
    while (this.entries.size > MAX_LMS_BLOCKS) this.entries.delete(this.entries.keys().next().value!);
    this.save();
  }

  /** Lifts the card's block; returns whether there was one. */
  lift(cardHash: Buffer): boolean {
    if (!this.entries.delete(cardHash.toString('base64'))) return false;
    this.save();
    this.clearAlarmWhenNone('the library system no longer blocks the card');
    return true;
  }

  /**
   * Lifts the blocks whose time is up, and, when the list in force is a new one, those whose member it changed.
   * Cheap when there is nothing to lift: no store call without a block. Returns how many were lifted.
   */
  sweep(): number {
    if (this.entries.size === 0) return 0;
    const now = this.deps.clock.now().getTime();
    const listHash = this.deps.guard('reading the member list figures', () => this.deps.storage.listHash(), this.seenListHash);
    const listChanged = listHash !== this.seenListHash;
    this.seenListHash = listHash;
    let lifted = 0;
    for (const [key, entry] of this.entries) {
      let stands = now < entry.until;
      if (stands && listChanged) {
        const cardHash = Buffer.from(key, 'base64');
        const member = this.deps.guard('looking up a card', () => this.deps.storage.findMember(cardHash) ?? null, undefined);
        // A row that cannot be read now is judged at the next sweep; the hot path still checks it tap by tap.
        if (member === undefined) this.seenListHash = undefined;
        else stands = member !== null && entry.row === rowDigest(cardHash, member);
      }
      if (!stands) {
        this.entries.delete(key);
        lifted += 1;
      }
    }
    if (lifted > 0) {
      this.save();
      this.clearAlarmWhenNone(listChanged ? 'a new member list speaks for the library system' : 'the block’s time is up');
    }
    return lifted;
  }

  private clearAlarmWhenNone(why: string): void {
    if (this.entries.size === 0) this.deps.alarms.clear(LMS_BLOCK_ALARM, why);
  }

  private save(): void {
    const saved: Saved[] = [...this.entries].map(([card, entry]) => ({
      card,
      row: entry.row,
      at: new Date(entry.at).toISOString(),
      until: new Date(entry.until).toISOString(),
    }));
    this.deps.guard('saving the library-system blocks', () => this.deps.storage.save(saved), undefined);
  }
}

function rowDigest(cardHash: Buffer, member: Member): string {
  return memberDigest({ cardHash, ...member }).toString('base64');
}
