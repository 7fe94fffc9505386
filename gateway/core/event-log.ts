// Every event goes through here: into the SQLite outbox first (the only source of truth for what central
// will receive), then to the log and the bus. Card numbers never reach this module: only hashes and pseudonyms.
import type { Logger } from 'pino';
import type { EventType, GatewayEvent } from '../../policies/contract/events.js';
import type { Clock } from './clock.js';
import type { EventBus } from './bus.js';
import type { LoggedEvent } from './model.js';
import type { Store } from '../store/index.js';

/** An event's own fields: what the contract's schema for that type holds besides id, at, site and type. */
export type EventBody<T extends EventType> = Omit<Extract<GatewayEvent, { type: T }>, 'id' | 'at' | 'site' | 'type'>;

export interface RecordOptions {
  reason?: string | undefined;
  cardHash?: Buffer | undefined;
}

export class EventLog {
  constructor(
    private readonly deps: { site: string; store: Store; bus: EventBus; clock: Clock; logger: Logger },
  ) {}

  /** Typed by the MQTT contract, so that what is written to the outbox is what central will accept. */
  record<T extends EventType>(type: T, data: EventBody<T>, options: RecordOptions = {}): LoggedEvent {
    const at = this.deps.clock.now();
    const payload = { site: this.deps.site, type, ...data };
    const stored = this.deps.store.events.append({
      type,
      at,
      reason: options.reason ?? null,
      cardHash: options.cardHash ?? null,
      data: payload,
    });
    // TypeScript cannot narrow a generic spread back to the union member; `record`'s signature already did.
    const event = { id: stored.id, at: at.toISOString(), ...payload } as unknown as LoggedEvent;
    this.deps.logger.info({ event }, `${type}${options.reason ? ` ${options.reason}` : ''}`);
    this.deps.bus.emit('event-logged', event);
    return event;
  }
}
