// The branch's state as the `state` topic, the console and the local API show it.
import type { BranchMode, ModeSpan } from '../../policies/index.js';
import type { HelpState } from './help-call.js';
import type { CountConfidence } from './occupancy.js';
import type { AlarmName, DoorState } from './model.js';

/** The policy in force as the state reports it; `override` only for a branch override (source `console`). */
export interface PolicyState {
  version: number;
  source: 'file' | 'console' | 'central';
  override?: { by: string; at: string };
}

/** The power facts the branch can see: null where it cannot (not a Raspberry Pi; no mains-present input fitted). */
export interface PowerFacts {
  undervoltage: boolean | null;
  mains: 'present' | 'lost' | null;
}

/** A switched output (PCs, heating, a kiosk) and whether it is on now (contract 1.9). */
export interface OutputState {
  id: string;
  on: boolean;
  label?: string | undefined;
}

/** The intruder alarm panel as its status input says, or on its way after the branch asked (contract 1.9). */
export interface IntruderAlarmState {
  state: 'set' | 'unset' | 'setting' | 'unsetting';
  /** When it took this state; null when it was read so at start (the panel's own time is not known). */
  since: string | null;
}

export interface GatewayState {
  site: string;
  at: string;
  mode: BranchMode;
  modeSince: string | null;
  modeUntil: string | null;
  /** The main door's state. */
  door: DoorState;
  /** Every door's, main first, at a branch with several doors (contract 1.8); absent with one. */
  doors?: Array<{ id: string; state: DoorState }>;
  lights: boolean;
  occupancy: { inside: number; capacity: number | null; confidence: CountConfidence; motionAt?: string | null };
  alarms: AlarmName[];
  memberList: { version: number; count: number; updatedAt: string | null } | null;
  policy: PolicyState;
  clock: { trusted: boolean };
  readers: Array<{ id: string; role: 'entry' | 'exit'; online: boolean }>;
  uplink: { connected: boolean } | null;
  power: PowerFacts;
  help: HelpState;
  /** Absent where no switched output is fitted. */
  outputs?: OutputState[];
  /** Absent where no panel is wired; `secured` too. */
  intruderAlarm?: IntruderAlarmState;
  secured?: boolean;
}

export interface StateParts {
  site: string;
  at: Date;
  mode: BranchMode;
  span: ModeSpan;
  door: DoorState;
  doors: Array<{ id: string; state: DoorState }> | undefined;
  lights: boolean;
  inside: number;
  confidence: CountConfidence;
  /** The last motion; null when none since start; undefined where no sensor is fitted. */
  motionAt: Date | null | undefined;
  capacity: number | null;
  alarms: AlarmName[];
  members: { count: number; version: number | null; updatedAt: Date | string | null };
  policy: PolicyState;
  clockTrusted: boolean;
  readers: Array<{ id: string; role: 'entry' | 'exit'; online: boolean }>;
  uplinkConnected: boolean | null;
  power: PowerFacts;
  help: HelpState;
  outputs?: OutputState[] | undefined;
  intruderAlarm?: IntruderAlarmState | undefined;
  /** Closed, the building empty and the panel set; only where a panel is wired. */
  secured?: boolean | undefined;
}

export function buildState(parts: StateParts): GatewayState {
  // Lockdown and emergency have no scheduled end: the console shows "until lifted" rather than the schedule's.
  const overridden = parts.mode === 'lockdown' || parts.mode === 'emergency';
  const updatedAt = parts.members.updatedAt;
  return {
    site: parts.site,
    at: parts.at.toISOString(),
    mode: parts.mode,
    modeSince: overridden ? null : (parts.span.since?.toISOString() ?? null),
    modeUntil: overridden ? null : (parts.span.until?.toISOString() ?? null),
    door: parts.door,
    ...(parts.doors === undefined ? {} : { doors: parts.doors }),
    lights: parts.lights,
    occupancy: {
      inside: parts.inside,
      capacity: parts.capacity,
      confidence: parts.confidence,
      ...(parts.motionAt === undefined ? {} : { motionAt: parts.motionAt?.toISOString() ?? null }),
    },
    alarms: parts.alarms,
    memberList:
      parts.members.version === null
        ? null
        : {
            version: parts.members.version,
            count: parts.members.count,
            updatedAt: updatedAt === null ? null : typeof updatedAt === 'string' ? updatedAt : updatedAt.toISOString(),
          },
    policy: parts.policy,
    clock: { trusted: parts.clockTrusted },
    readers: parts.readers,
    uplink: parts.uplinkConnected === null ? null : { connected: parts.uplinkConnected },
    power: { ...parts.power },
    help: { ...parts.help },
    ...(parts.outputs === undefined ? {} : { outputs: parts.outputs.map((output) => ({ ...output })) }),
    ...(parts.intruderAlarm === undefined ? {} : { intruderAlarm: { ...parts.intruderAlarm }, secured: parts.secured ?? false }),
  };
}
