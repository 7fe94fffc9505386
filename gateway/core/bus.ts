// The gateway's event bus: the core's pieces and the extensions talk through it, so each can be read and tested
// alone. Typed, synchronous, in-process.
//
// Every listener is called inside its own try/catch. A plain EventEmitter lets a throwing listener propagate back
// into whoever emitted, and the emitters here are `door.grant()`, the readers and the timers: an extension's bug
// must never reach them. A listener's error goes to `onListenerError` (the controller logs it and raises an alarm)
// and the remaining listeners still run. Listeners registered with an owner can all be removed at once when that
// owner (an extension) stops, as in Zigbee2MQTT's eventBus.
import type { BranchMode, Decision, GrantReason, ScheduleMode } from '../../policies/types.js';
import type { ReaderRole } from '../../firmware-bridge/types.js';
import type { AlarmName, DoorState, LoggedEvent } from './model.js';

export interface AccessOutcome {
  decision: Decision;
  role: ReaderRole;
  /** The door the reader is at (`main`, or an id of `hardware.doors`): the door screen shows each door's own words. */
  door: string;
  person: string | null;
  /** hrtime when the driver saw the card, and when the relay was written (grants only). */
  seenAt: bigint;
  /** When the decision was made (before any feedback or event row). */
  decidedAt: bigint;
  relayAt: bigint | null;
}

/** Which door, at a branch with several (its id); absent at a branch with one, whose events name no door. */
export interface AtDoor {
  door?: string | undefined;
}

export interface DoorEntry extends AtDoor {
  grant: GrantReason;
  via: 'contact' | 'grant';
}

export interface DoorExit extends AtDoor {
  via: 'contact' | 'exit-request';
}

export interface BusEvents {
  access: [AccessOutcome];
  'door-state': [DoorState];
  /**
   * A person went in after a grant, with the grant's reason: seen by the contact opening, or (no contact) the grant
   * itself. One per grant. Occupancy counts it where no counter or beams see entries.
   */
  'door-entry': [DoorEntry];
  /** A person went out: the contact opened after an exit request, or (no contact) the request itself. */
  'door-exit': [DoorExit];
  /** The door opened with no grant or exit request to say which way (held free, forced, a staff unlock). */
  'door-opened-unattributed': [AtDoor];
  'door-cycle-closed': [{ grants: number } & AtDoor];
  'exit-request': [];
  'schedule-mode': [{ from: ScheduleMode | null; to: ScheduleMode; until: Date | null }];
  'branch-mode': [BranchMode];
  alarm: [{ alarm: AlarmName; raised: boolean }];
  'occupancy-changed': [number];
  /** A PIR motion sensor saw movement, at that instant. */
  motion: [Date];
  'lights-changed': [boolean];
  'state-changed': [];
  'event-logged': [LoggedEvent];
  'policy-applied': [{ version: number; source: string }];
  /** A closing warning, this many minutes before open access ends in a close (the lights flash, the sounder sounds). */
  'closing-warning': [{ minutesLeft: number }];
  /**
   * Whether the branch is closed and empty (a count of 0 that can be believed and no motion for the quiet minutes):
   * told when that changes. What the intruder alarm waits for before it sets.
   */
  'building-empty': [boolean];
  /** Staff (the console, or central's command) asked for an announcement: `text` is a phrase id, or words to speak. */
  announce: [{ text?: string | undefined; actor: string }];
  /**
   * A group booking the building is in use for while closed ends in this many minutes (the closing warnings' minutes,
   * counted once the group is seen inside): announced as booking-ending.
   */
  'booking-ending': [{ minutes: number }];
}

export type BusEventName = keyof BusEvents;
type Listener<K extends BusEventName> = (...args: BusEvents[K]) => void;

export interface ListenerFailure {
  event: BusEventName;
  /** The extension that registered the listener, or undefined for the core's own. */
  owner: string | undefined;
  error: unknown;
}

interface Entry {
  listener: (...args: never[]) => void;
  owner: string | undefined;
  once: boolean;
}

export class EventBus {
  private readonly listeners = new Map<BusEventName, Entry[]>();
  /** Set by the controller; until then a failure is only counted, never rethrown. */
  onListenerError: ((failure: ListenerFailure) => void) | undefined;
  private reporting = false;
  failures = 0;

  on<K extends BusEventName>(event: K, listener: Listener<K>, owner?: string): this {
    return this.add(event, { listener: listener as Entry['listener'], owner, once: false });
  }

  once<K extends BusEventName>(event: K, listener: Listener<K>, owner?: string): this {
    return this.add(event, { listener: listener as Entry['listener'], owner, once: true });
  }

  off<K extends BusEventName>(event: K, listener: Listener<K>): this {
    const entries = this.listeners.get(event);
    if (entries === undefined) return this;
    const index = entries.findIndex((entry) => entry.listener === (listener as Entry['listener']));
    if (index >= 0) this.listeners.set(event, [...entries.slice(0, index), ...entries.slice(index + 1)]);
    return this;
  }

  /** Removes every listener an extension registered: its stop leaves nothing behind on the bus. */
  removeOwner(owner: string): void {
    for (const [event, entries] of this.listeners) {
      this.listeners.set(
        event,
        entries.filter((entry) => entry.owner !== owner),
      );
    }
  }

  listenerCount(event: BusEventName, owner?: string): number {
    const entries = this.listeners.get(event) ?? [];
    return owner === undefined ? entries.length : entries.filter((entry) => entry.owner === owner).length;
  }

  /** Calls every listener; returns whether there was any. Never throws because of a listener. */
  emit<K extends BusEventName>(event: K, ...args: BusEvents[K]): boolean {
    const entries = this.listeners.get(event);
    if (entries === undefined || entries.length === 0) return false;
    // The array is replaced, never mutated, on on/off: listeners added or removed while emitting take effect next time.
    for (const entry of entries) {
      if (entry.once) this.off(event, entry.listener as Listener<K>);
      try {
        (entry.listener as Listener<K>)(...args);
      } catch (error) {
        this.report({ event, owner: entry.owner, error });
      }
    }
    return true;
  }

  private add(event: BusEventName, entry: Entry): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), entry]);
    return this;
  }

  private report(failure: ListenerFailure): void {
    this.failures += 1;
    // Reporting raises an alarm, which emits on this bus: a listener failing on that too must not loop.
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
