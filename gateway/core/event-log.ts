// Every event goes through here: numbered, put in the in-memory buffer, logged, and told on the bus. The store
// writer (the storage extension, gateway/extensions/storage.ts) takes it from the buffer into the SQLite outbox at once, so that
// normally an event is on disk when `record` returns; while storage fails, the buffer keeps it until storage is
// back. Recording therefore never fails because of the disk. Card numbers never reach this module: only hashes
// and pseudonyms.
import type { Logger } from 'pino';
import type { EventType, GatewayEvent } from '../../policies/contract/events.js';
import { createIdGenerator } from '../store/ulid.js';
import type { Clock } from './clock.js';
import type { EventBus } from './bus.js';
import { EventBuffer } from './event-buffer.js';
import type { LoggedEvent } from './model.js';

/** An event's own fields: what the contract's schema for that type holds besides id, at, site and type. */
export type EventBody<T extends EventType> = Omit<Extract<GatewayEvent, { type: T }>, 'id' | 'at' | 'site' | 'type'>;

export interface RecordOptions {
  reason?: string | undefined;
  cardHash?: Buffer | undefined;
}

export interface EventLogDeps {
  site: string;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  /** The newest id in the store, so that new ids sort after every stored one. */
  lastId?: string | undefined;
  bufferCapacity?: number | undefined;
}

export class EventLog {
  readonly pending: EventBuffer;
  private readonly nextId;

  constructor(private readonly deps: EventLogDeps) {
    this.pending = new EventBuffer(deps.bufferCapacity);
    this.nextId = createIdGenerator(deps.lastId);
  }

  /** Typed by the MQTT contract, so that what is written to the outbox is what central will accept. */
  record<T extends EventType>(type: T, data: EventBody<T>, options: RecordOptions = {}): LoggedEvent {
    const at = this.deps.clock.now();
    const payload = { site: this.deps.site, type, ...data };
    const id = this.nextId(at.getTime());
    this.pending.push({ id, type, at, reason: options.reason ?? null, cardHash: options.cardHash ?? null, data: payload });
    // TypeScript cannot narrow a generic spread back to the union member; `record`'s signature already did.
    const event = { id, at: at.toISOString(), ...payload } as unknown as LoggedEvent;
    this.deps.logger.info({ event }, `${type}${options.reason ? ` ${options.reason}` : ''}`);
    this.deps.bus.emit('event-logged', event);
    return event;
  }
}
