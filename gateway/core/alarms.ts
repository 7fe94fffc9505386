import type { EventBus } from './bus.js';
import type { EventLog } from './event-log.js';
import { ALARM_SEVERITY } from './model.js';
import type { AlarmName } from './model.js';

/** The set of active alarms. Raising an active alarm again is a no-op, so callers need not track it. */
export class Alarms {
  private readonly active = new Set<AlarmName>();

  constructor(private readonly deps: { bus: EventBus; events: EventLog }) {}

  /** Restore after a restart without logging the alarms again. */
  restore(names: readonly AlarmName[]): void {
    for (const name of names) this.active.add(name);
  }

  raise(alarm: AlarmName, detail?: string): void {
    if (this.active.has(alarm)) return;
    this.active.add(alarm);
    this.deps.events.record('alarm', { alarm, state: 'raised', severity: ALARM_SEVERITY[alarm], ...(detail === undefined ? {} : { detail }) });
    this.deps.bus.emit('alarm', { alarm, raised: true });
  }

  /**
   * An active alarm raised again, as history for whoever follows it (central keeps a raise of an open incident as
   * its history): the event only, since nothing changed in the set. An alarm not active is raised instead.
   */
  repeat(alarm: AlarmName, detail: string): void {
    if (!this.active.has(alarm)) {
      this.raise(alarm, detail);
      return;
    }
    this.deps.events.record('alarm', { alarm, state: 'raised', severity: ALARM_SEVERITY[alarm], detail });
  }

  clear(alarm: AlarmName, detail?: string): void {
    if (!this.active.delete(alarm)) return;
    this.deps.events.record('alarm', { alarm, state: 'cleared', severity: ALARM_SEVERITY[alarm], ...(detail === undefined ? {} : { detail }) });
    this.deps.bus.emit('alarm', { alarm, raised: false });
  }

  set(alarm: AlarmName, raised: boolean, detail?: string): void {
    if (raised) this.raise(alarm, detail);
    else this.clear(alarm, detail);
  }

  has(alarm: AlarmName): boolean {
    return this.active.has(alarm);
  }

  list(): AlarmName[] {
    return [...this.active].sort();
  }
}
