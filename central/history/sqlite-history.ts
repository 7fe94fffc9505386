// The history on central's SQLite file (the embedded default): central/store.ts's statements behind the async
// interface. Each call still runs to completion before it returns, so the ingest path costs what it did.
import type { ReceivedEvent, ReceivedKnownEvent, ReceivedState } from '../../policies/contract/index.js';
import type { CentralStore } from '../store.js';
import type { CommandRecord, EventToStore, HistoryStore, OccupancySample, PublishedPolicy, SiteRow, StoredEvent } from './history-store.js';

export class SqliteHistory implements HistoryStore {
  readonly engine = 'sqlite' as const;

  constructor(private readonly store: CentralStore) {}

  async insertEvent(event: ReceivedEvent, receivedAt: Date): Promise<boolean> {
    return this.store.insertEvent(event, receivedAt);
  }

  async insertEvents(items: ReadonlyArray<EventToStore>): Promise<boolean[]> {
    return this.store.insertEvents(items);
  }

  async setState(state: ReceivedState, receivedAt: Date): Promise<void> {
    this.store.setState(state, receivedAt);
  }

  async setAvailability(site: string, online: boolean, at: Date): Promise<void> {
    this.store.setAvailability(site, online, at);
  }

  async setPolicy(site: string, version: number, doc: unknown, at: Date): Promise<void> {
    this.store.setPolicy(site, version, doc, at);
  }

  async policy(site: string): Promise<PublishedPolicy | null> {
    return this.store.policy(site);
  }

  async sites(): Promise<SiteRow[]> {
    return this.store.sites();
  }

  async site(id: string): Promise<SiteRow | null> {
    return this.store.site(id);
  }

  async event(site: string, id: string): Promise<ReceivedEvent | null> {
    return this.store.event(site, id);
  }

  async recentEvents(site: string, options: { limit: number; before?: Date | undefined; type?: string | undefined }): Promise<StoredEvent[]> {
    return this.store.recentEvents(site, options);
  }

  async eventsOfType(type: ReceivedKnownEvent['type'], from: Date, to: Date): Promise<ReceivedKnownEvent[]> {
    return this.store.eventsOfType(type, from, to);
  }

  async lastModeBefore(site: string, at: Date): Promise<ReceivedKnownEvent | null> {
    return this.store.lastModeBefore(site, at);
  }

  async occupancy(site: string, from: Date, to: Date): Promise<OccupancySample[]> {
    return this.store.occupancy(site, from, to);
  }

  async recordCommand(c: CommandRecord): Promise<void> {
    this.store.recordCommand(c);
  }

  async commands(site: string, limit: number): Promise<CommandRecord[]> {
    return this.store.commands(site, limit);
  }

  async eventCount(): Promise<number> {
    return this.store.eventCount();
  }

  async purgeBefore(at: Date): Promise<void> {
    this.store.purgeBefore(at);
  }

  async blankPersonsBefore(at: Date, limit: number): Promise<number> {
    return this.store.blankPersonsBefore(at, limit);
  }

  async secret(name: string, bytes: number): Promise<Buffer> {
    return this.store.secret(name, bytes);
  }

  /** The SQLite file is central's other stores' too: whoever opened it closes it. */
  async close(): Promise<void> {}
}
