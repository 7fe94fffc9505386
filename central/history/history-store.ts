// What central keeps of the branches' traffic (events, states, availability, policies, commands, occupancy) behind
// one asynchronous interface, so that the engine is a choice of config: SQLite on one box (the embedded default),
// PostgreSQL when several central instances share one history (docs/central.md "Several instances"). Every method
// is a promise even where SQLite answers at once: callers must not depend on an engine that cannot wait.
import type { ReceivedEvent, ReceivedKnownEvent, ReceivedState } from '../../policies/contract/index.js';

export interface SiteRow {
  id: string;
  online: boolean;
  /** Since when the site has been online (or offline), by central's clock. */
  since: string | null;
  lastSeen: string | null;
  state: ReceivedState | null;
  policyVersion: number | null;
}

export interface StoredEvent {
  event: ReceivedEvent;
  receivedAt: string;
}

export interface EventToStore {
  event: ReceivedEvent;
  receivedAt: Date;
}

export interface OccupancySample {
  at: string;
  inside: number;
  capacity: number | null;
}

export interface CommandRecord {
  id: string;
  site: string;
  command: string;
  actor: string;
  at: string;
  result: string;
}

export interface PublishedPolicy {
  version: number;
  doc: unknown;
  seenAt: string;
}

export interface HistoryStore {
  /** Which engine, for the log and `/api/health`. */
  readonly engine: 'sqlite' | 'postgres';
  /**
   * Stores an event once, committed before the promise resolves (the MQTT acknowledgement waits for it): a second
   * copy with the same id (a resend, or a second instance given it after a crash) changes nothing and gives false.
   * An occupancy event also adds an occupancy sample.
   */
  insertEvent(event: ReceivedEvent, receivedAt: Date): Promise<boolean>;
  /**
   * Several events, committed together before the promise resolves (ingest's group commit, central/history/
   * event-batcher.ts): for each in order, whether it was new; a second copy of an id, in the batch or before it,
   * gives false. Rejects when the store failed, and then none of them may be taken as stored.
   */
  insertEvents(items: ReadonlyArray<EventToStore>): Promise<boolean[]>;
  /** The latest state of a site; an older one arriving late does not overwrite a newer one. Adds a sample on change. */
  setState(state: ReceivedState, receivedAt: Date): Promise<void>;
  setAvailability(site: string, online: boolean, at: Date): Promise<void>;
  setPolicy(site: string, version: number, doc: unknown, at: Date): Promise<void>;
  policy(site: string): Promise<PublishedPolicy | null>;
  /** Every site central has heard of, by id. */
  sites(): Promise<SiteRow[]>;
  site(id: string): Promise<SiteRow | null>;
  /** One event by its site and id (the live stream of another instance names a large one by its id). */
  event(site: string, id: string): Promise<ReceivedEvent | null>;
  /** Newest first, before `before` (exclusive), optionally of one type. */
  recentEvents(site: string, options: { limit: number; before?: Date | undefined; type?: string | undefined }): Promise<StoredEvent[]>;
  /** All events of one type in [from, to), in time order then id (for the figures). */
  eventsOfType(type: ReceivedKnownEvent['type'], from: Date, to: Date): Promise<ReceivedKnownEvent[]>;
  lastModeBefore(site: string, at: Date): Promise<ReceivedKnownEvent | null>;
  /** Samples in [from, to), starting with the last one before `from` (at `from`), so a chart starts at the right level. */
  occupancy(site: string, from: Date, to: Date): Promise<OccupancySample[]>;
  recordCommand(c: CommandRecord): Promise<void>;
  /** Newest first. */
  commands(site: string, limit: number): Promise<CommandRecord[]>;
  eventCount(): Promise<number>;
  /** Forgets events and samples from before `at` (retention). */
  purgeBefore(at: Date): Promise<void>;
  /**
   * Blanks the card holder's pseudonym (`person`, set to null) in up to `limit` of the oldest events from before
   * `at` that still have one; the event and everything counted from it stay. Returns how many.
   */
  blankPersonsBefore(at: Date, limit: number): Promise<number>;
  /** The secret of that name: made (random, `bytes` long) the first time it is asked for, the same ever after, on every instance. */
  secret(name: string, bytes: number): Promise<Buffer>;
  close(): Promise<void>;
}
