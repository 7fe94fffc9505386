// The gateway's event bus: the pieces (door, occupancy, access, schedule, uplink, console) talk through it,
// so each can be read and tested alone. Typed, synchronous, in-process.
import { EventEmitter } from 'node:events';
import type { BranchMode, Decision, ScheduleMode } from '../../policies/types.js';
import type { ReaderRole } from '../../firmware-bridge/types.js';
import type { AlarmName, DoorState, LoggedEvent } from './model.js';

export interface AccessOutcome {
  decision: Decision;
  role: ReaderRole;
  person: string | null;
  /** hrtime when the driver saw the card, and when the relay was written (grants only). */
  seenAt: bigint;
  /** When the decision was made (before any feedback or event row). */
  decidedAt: bigint;
  relayAt: bigint | null;
}

export interface BusEvents {
  access: [AccessOutcome];
  'door-state': [DoorState];
  /** A person went through the door inward after a grant (used for occupancy when no counter is fitted). */
  'door-entry': [];
  'door-cycle-closed': [{ grants: number }];
  'exit-request': [];
  'schedule-mode': [{ from: ScheduleMode | null; to: ScheduleMode; until: Date | null }];
  'branch-mode': [BranchMode];
  alarm: [{ alarm: AlarmName; raised: boolean }];
  'occupancy-changed': [number];
  'lights-changed': [boolean];
  'state-changed': [];
  'event-logged': [LoggedEvent];
  'policy-applied': [{ version: number; source: string }];
}

export class EventBus extends EventEmitter<BusEvents> {
  constructor() {
    super({ captureRejections: false });
    // Many small extensions listen on the same events; the default limit of 10 is a false alarm here.
    this.setMaxListeners(100);
  }
}
