import type { Member } from '../../policies/types.js';

export type { Member };

/** A member as stored: the keyed hash of the card, and the fields a decision needs. */
export type MemberRow = { cardHash: Buffer } & Member;

export interface MemberListStats {
  count: number;
  /** Version of the list in force; null before any list was applied. */
  version: number | null;
  /** When the list in force was applied (ISO); null before any. */
  updatedAt: string | null;
  /** Where the list came from, e.g. `csv:members.csv` or `central`. */
  source: string | null;
  /** The list fingerprint (see list-hash.ts). */
  hash: string;
}

export interface MemberListMeta {
  /** Where the list comes from, shown in stats (no personal data: a file name or `central`). */
  source: string;
  /** The new list's version; default: the version in force + 1. */
  version?: number | undefined;
  /** Applied-at time; default: the store's clock. */
  appliedAt?: Date | undefined;
  /** Refuse the list (nothing changes) unless it has this many members / this fingerprint. */
  expect?: { count?: number | undefined; hash?: string | undefined } | undefined;
}

/** What a replacement would do, computed before it is committed. */
export interface MemberListDiff {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Members in the new list (after duplicates were dropped). */
  count: number;
  /** Rows offered, duplicates included. */
  offered: number;
  duplicates: number;
  hash: string;
  version: number;
}

export interface ReplaceResult extends MemberListDiff {
  appliedAt: string;
}

export interface ReplaceOptions {
  /**
   * Called for each row whose card hash an earlier row already had (0-based positions in the input). The earlier
   * row is kept. Without this option a duplicate refuses the whole list.
   */
  onDuplicate?: ((position: number, firstPosition: number) => void) | undefined;
  /**
   * Asked once every duplicate has been told to onDuplicate: more positions to leave out of the list, such as the
   * other cards of a row refused for one of them.
   */
  leaveOut?: (() => Iterable<number>) | undefined;
  /** Last look before the swap: throw to refuse the list (nothing changes). */
  verify?: ((diff: MemberListDiff) => void) | undefined;
}

export type UpsertResult = 'added' | 'changed' | 'unchanged';

export interface EventInput {
  /** Given by the gateway's event log, which numbers events before storage has them; otherwise the store's. */
  id?: string | undefined;
  type: string;
  at: Date;
  reason?: string | null | undefined;
  /** The keyed card hash (32 bytes), never a card number. */
  cardHash?: Buffer | null | undefined;
  data?: Record<string, unknown> | undefined;
}

export interface StoredEvent {
  id: string;
  at: string;
  type: string;
  reason: string | null;
  cardHash: Buffer | null;
  data: Record<string, unknown>;
  published: boolean;
}

export interface EventQuery {
  /** Events at or after this instant. */
  from?: Date | undefined;
  /** Events before this instant. */
  to?: Date | undefined;
  types?: readonly string[] | undefined;
  /** Page size (at most 1000); newest first. */
  limit: number;
  /** Cursor: only events with an id lower than this (the last id of the previous page). */
  before?: string | undefined;
}

export interface PinFailures {
  count: number;
  lastAt: Date;
}

export interface Clock {
  now(): Date;
}

/** The part of a pino logger the store uses. */
export interface StoreLogger {
  warn(object: object, message: string): void;
}

/** Anything with zod's `parse`: a schema for a setting. */
export interface Parser<T> {
  parse(value: unknown): T;
}
