// The branch's doors by id: `main` (the door of outputs.door) first, then each of `hardware.doors`. They share one
// occupancy, one closing sequence and one set of alarms; the branch mode holds every one of them the same way.
import type { DoorHardware } from '../../firmware-bridge/types.js';
import type { LockConfig } from '../../firmware-bridge/config.js';
import type { Alarms } from './alarms.js';
import type { EventBus } from './bus.js';
import type { Clock } from './clock.js';
import { Door, type DoorRegime } from './door.js';
import type { EventLog } from './event-log.js';
import type { DoorState } from './model.js';

export type DoorAlarmName = 'forced-open' | 'held-open';

/**
 * `forced-open` and `held-open` are the branch's alarms, whichever door: raised by the first door that has one, and
 * cleared only when no door has it any more, so that the main door shutting does not end the meeting room's alarm.
 */
export class DoorAlarms {
  private readonly holders: Record<DoorAlarmName, Set<string>> = { 'forced-open': new Set(), 'held-open': new Set() };

  constructor(private readonly alarms: Alarms) {}

  raise(alarm: DoorAlarmName, door: string, detail: string | undefined): void {
    const holders = this.holders[alarm];
    if (holders.has(door)) return;
    holders.add(door);
    // A second door with the same alarm: its raise is history (which door), the alarm itself is already up.
    if (holders.size > 1 && detail !== undefined) this.alarms.repeat(alarm, detail);
    else this.alarms.raise(alarm, detail);
  }

  clear(alarm: DoorAlarmName, door: string, detail?: string): void {
    const holders = this.holders[alarm];
    holders.delete(door);
    if (holders.size === 0) this.alarms.clear(alarm, detail);
  }

  has(alarm: DoorAlarmName, door: string): boolean {
    return this.holders[alarm].has(door);
  }

  /** An alarm restored from before a restart, taken on by a door found open at start. */
  adopt(alarm: DoorAlarmName, door: string): void {
    if (this.alarms.has(alarm)) this.holders[alarm].add(door);
  }

  /**
   * Once every door with a contact has said how it was found: a restored alarm no open door took on describes a door
   * that has been shut since, and ends here (its raise is in the log), as a close would have ended it.
   */
  settleRestored(): void {
    for (const alarm of ['forced-open', 'held-open'] as const) {
      if (this.holders[alarm].size === 0) this.alarms.clear(alarm, 'the door was found shut at start');
    }
  }
}

export interface DoorsOptions {
  hardware: readonly DoorHardware[];
  /** Each door's lock: the gateway's `lock:` with the door's own overrides. */
  lockFor: (id: string) => LockConfig;
  bus: EventBus;
  alarms: Alarms;
  events: EventLog;
  clock: Clock;
}

export class Doors {
  readonly all: readonly Door[];
  private readonly byReader = new Map<string, Door>();

  private readonly doorAlarms: DoorAlarms;

  constructor(options: DoorsOptions) {
    const several = options.hardware.length > 1;
    const doorAlarms = new DoorAlarms(options.alarms);
    this.doorAlarms = doorAlarms;
    this.all = options.hardware.map((hw) => {
      const lock = options.lockFor(hw.id);
      const door = new Door({
        id: hw.id,
        inEvents: several,
        relay: hw.relay,
        lockType: lock.type,
        unlockMs: lock.unlockMs,
        heldOpenSeconds: lock.heldOpenSeconds,
        exitGraceMs: lock.exitGraceMs,
        hasContact: hw.contact !== undefined,
        bus: options.bus,
        doorAlarms,
        events: options.events,
        clock: options.clock,
      });
      for (const readerId of hw.readerIds) this.byReader.set(readerId, door);
      return door;
    });
    if (this.all.length === 0) throw new Error('a branch has at least its main door');
  }

  /** The main door: the one the state's `door` and older readers mean. */
  get main(): Door {
    return this.all[0]!;
  }

  /** Whether there is more than one door: only then do events, alarms and the state name them. */
  get several(): boolean {
    return this.all.length > 1;
  }

  /** A door by id; no id is the main door. */
  get(id: string | undefined): Door | undefined {
    return id === undefined ? this.main : this.all.find((door) => door.id === id);
  }

  /** The door a reader stands at (the config checked every reader's `door`); an unknown reader is at the main door. */
  forReader(readerId: string): Door {
    return this.byReader.get(readerId) ?? this.main;
  }

  /** The contacts' levels at start, for the doors that have one (true: open). */
  initialContacts(found: ReadonlyArray<{ door: Door; open: boolean }>): void {
    if (found.length === 0) return;
    for (const { door, open } of found) door.initialContact(open);
    this.doorAlarms.settleRestored();
  }

  /** The branch mode holds every door alike: a fire releases them all, lockdown locks them all. */
  setRegime(regime: DoorRegime): void {
    for (const door of this.all) door.setRegime(regime);
  }

  stop(): void {
    for (const door of this.all) door.stop();
  }

  /** Every door's state for the state message, at a branch with several; undefined with one. */
  states(): Array<{ id: string; state: DoorState }> | undefined {
    return this.several ? this.all.map((door) => ({ id: door.id, state: door.state })) : undefined;
  }

  ids(): string[] {
    return this.all.map((door) => door.id);
  }
}
