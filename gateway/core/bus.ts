// The gateway's event bus: the core's pieces and the extensions talk through it, so each can be read and tested
// alone. It is kit/event-bus.ts's: each listener's error is caught and reported (the controller logs it and raises
// an alarm), so an extension's bug never reaches `door.grant()`, the readers or the timers that emitted.
import { EventBus as KitEventBus, type ListenerFailure as KitListenerFailure } from '../../kit/event-bus.js';
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

export type ListenerFailure = KitListenerFailure<BusEventName>;

/** The gateway's bus: the kit's, with the gateway's events. */
export class EventBus extends KitEventBus<BusEvents> {}
