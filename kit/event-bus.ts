// The event bus both services are built on: typed, synchronous, in-process.
//
// Every listener is called inside its own try/catch. A plain EventEmitter lets a throwing listener propagate back
// into whoever emitted, and the emitters are the hot path (a grant, a reader, ingest acknowledging a message): one
// listener's bug must never reach them, nor keep the listeners after it from running. A listener's error goes to
// `onListenerError` (each service logs it, and raises an alarm or an incident). Listeners registered with an owner
// can all be removed at once when that owner (an extension) stops, as in Zigbee2MQTT's eventBus.

/** Each event's name and the arguments its listeners take (an interface of tuples, as Node's EventEmitter takes). */
export type EventMap<Events> = { [K in keyof Events]: unknown[] };

export interface ListenerFailure<Name = string> {
  event: Name;
  /** What registered the listener (an extension's name), or undefined for the service's own. */
  owner: string | undefined;
  error: unknown;
}

interface Entry {
  /** The listener of the event it is registered under (the map is keyed by event, so the types are known there). */
  listener: unknown;
  owner: string | undefined;
  once: boolean;
}

export class EventBus<Events extends EventMap<Events>> {
  private readonly listeners = new Map<keyof Events, Entry[]>();
  /** Set by the service; until then a failure is only counted, never rethrown. */
  onListenerError: ((failure: ListenerFailure<keyof Events>) => void) | undefined;
  private reporting = false;
  failures = 0;

  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void, owner?: string): this {
    return this.add(event, { listener, owner, once: false });
  }

  once<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void, owner?: string): this {
    return this.add(event, { listener, owner, once: true });
  }

  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    const entries = this.listeners.get(event);
    if (entries === undefined) return this;
    const index = entries.findIndex((entry) => entry.listener === listener);
    if (index >= 0) this.listeners.set(event, [...entries.slice(0, index), ...entries.slice(index + 1)]);
    return this;
  }

  /** Removes every listener an owner registered: an extension's stop leaves nothing behind on the bus. */
  removeOwner(owner: string): void {
    for (const [event, entries] of this.listeners) {
      this.listeners.set(
        event,
        entries.filter((entry) => entry.owner !== owner),
      );
    }
  }

  listenerCount(event: keyof Events, owner?: string): number {
    const entries = this.listeners.get(event) ?? [];
    return owner === undefined ? entries.length : entries.filter((entry) => entry.owner === owner).length;
  }

  /** Calls every listener; returns whether there was any. Never throws because of a listener. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const entries = this.listeners.get(event);
    if (entries === undefined || entries.length === 0) return false;
    // The array is replaced, never mutated, on on/off: listeners added or removed while emitting take effect next time.
    for (const entry of entries) {
      if (entry.once) this.off(event, entry.listener as (...args: Events[K]) => void);
      try {
        (entry.listener as (...args: Events[K]) => void)(...args);
      } catch (error) {
        this.report({ event, owner: entry.owner, error });
      }
    }
    return true;
  }

  private add(event: keyof Events, entry: Entry): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), entry]);
    return this;
  }

  private report(failure: ListenerFailure<keyof Events>): void {
    this.failures += 1;
    // Reporting raises an alarm, which may emit on this bus: a listener failing on that too must not loop.
    if (this.reporting || this.onListenerError === undefined) return;
    this.reporting = true;
    try {
      this.onListenerError(failure);
    } catch {
      // The reporter itself failed (its logger, say): the emitter still must not see it.
    } finally {
      this.reporting = false;
    }
  }
}
