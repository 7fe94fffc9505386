// Every event goes through here: into the SQLite outbox first (the only source of truth for what central
// will receive), then to the log and the bus. Card numbers never reach this module: only hashes and pseudonyms.
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { EventBus } from './bus.js';
import type { LoggedEvent } from './model.js';
import type { Store } from './store/index.js';

export interface RecordOptions {
  reason?: string | undefined;
  cardHash?: Buffer | undefined;
}

export class EventLog {
  constructor(
    private readonly deps: { site: string; store: Store; bus: EventBus; clock: Clock; logger: Logger },
  ) {}

  record(type: string, data: Record<string, unknown>, options: RecordOptions = {}): LoggedEvent {
    const at = this.deps.clock.now();
    const payload = { site: this.deps.site, type, ...data };
    const stored = this.deps.store.events.append({
      type,
      at,
      reason: options.reason ?? null,
      cardHash: options.cardHash ?? null,
      data: payload,
    });
    const event: LoggedEvent = { id: stored.id, at: at.toISOString(), ...payload };
    this.deps.logger.info({ event }, `${type}${options.reason ? ` ${options.reason}` : ''}`);
    this.deps.bus.emit('event-logged', event);
    return event;
  }
}
