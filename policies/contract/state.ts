import { z } from 'zod';
import {
  ALARM_NAMES,
  BRANCH_MODES,
  COUNT_CONFIDENCES,
  DisplayNameSchema,
  DOOR_STATES,
  DoorIdSchema,
  InstantSchema,
  INTRUDER_ALARM_STATES,
  OutputIdSchema,
  POLICY_SOURCES,
  READER_ROLES,
  READER,
  SENDER,
  SiteIdSchema,
  type Dialect,
  type Side,
} from './common.js';

const count = z.int().min(0);

/** What the mains-present input says. */
export const POWER_MAINS = ['present', 'lost'] as const;

/** `…/state`, retained and republished on every change: what a dashboard tile shows. */
function stateSchema<S extends Side>(d: Dialect<S>) {
  return d.object({
    v: d.siteVersion,
    site: SiteIdSchema,
    at: InstantSchema,
    mode: d.name(BRANCH_MODES),
    /** When the current mode began (null: before the schedule's horizon, or not known). */
    modeSince: InstantSchema.nullable(),
    /** When it next changes by the schedule (null: no change ahead within the horizon). */
    modeUntil: InstantSchema.nullable(),
    /** The main door's state (the only door's, at most branches). */
    door: d.name(DOOR_STATES),
    /** 1.8: every door's state, the main door first, at a branch with several doors; absent with one. */
    doors: z.array(d.object({ id: DoorIdSchema, state: d.name(DOOR_STATES) })).max(16).optional(),
    lights: z.boolean(),
    occupancy: d.object({
      inside: count,
      /** The policy's capacity during open access; null when not limited. */
      capacity: z.int().positive().nullable(),
      /** 1.8: `estimated` when some change since the last confirmed figure was inferred, not seen (no counter in staffed hours, an exit without a contact). */
      confidence: d.name(COUNT_CONFIDENCES).optional(),
      /** 1.8: the last motion a PIR sensor saw; null when none since start; absent where no sensor is fitted. */
      motionAt: InstantSchema.nullable().optional(),
    }),
    /** Alarms active now; an alarm's history is in the `alarm` events. */
    alarms: z.array(d.name(ALARM_NAMES)),
    /** The member list in force; null before the first one arrived. */
    memberList: d
      .object({
        version: count,
        count,
        updatedAt: InstantSchema.nullable(),
      })
      .nullable(),
    policy: d.object({
      /** Central's version in force, the policy file's, or (source `console`) the version a branch override is over. */
      version: count,
      source: d.name(POLICY_SOURCES),
      /**
       * Source `console` (1.5): a branch override made in the console, by whom and when; central's next version
       * supersedes it. Absent otherwise and from older gateways.
       */
      override: d.object({ by: DisplayNameSchema, at: InstantSchema }).optional(),
    }),
    clock: d.object({ trusted: z.boolean() }),
    readers: z.array(
      d.object({
        id: z.string().min(1).max(64),
        role: d.name(READER_ROLES),
        online: z.boolean(),
      }),
    ),
    /**
     * The power facts this branch can see (1.3; absent from older gateways): `undervoltage` from the Pi's firmware
     * (null: not a Raspberry Pi), `mains` from a mains-present input (null: none fitted).
     */
    power: d
      .object({
        undervoltage: z.boolean().nullable(),
        mains: d.name(POWER_MAINS).nullable(),
      })
      .optional(),
    /**
     * The help-call button (1.4; absent from older gateways and from a gateway without the button is the same as
     * no call): whether a call is open, since when, how many presses it has had, and who acknowledged it, when.
     */
    help: d
      .object({
        requested: z.boolean(),
        since: InstantSchema.nullable(),
        presses: count,
        acknowledgedBy: DisplayNameSchema.nullable(),
        acknowledgedAt: InstantSchema.nullable(),
      })
      .optional(),
    /** 1.9: the switched outputs (PCs, heating, kiosks) and whether each is on now; absent where none is fitted. */
    outputs: z
      .array(d.object({ id: OutputIdSchema, on: z.boolean(), label: DisplayNameSchema.optional() }))
      .max(16)
      .optional(),
    /**
     * 1.9: the intruder alarm panel as its status input says (`set`, `unset`), or on its way after the branch asked
     * (`setting`, `unsetting`); absent where no panel is wired.
     */
    intruderAlarm: d
      .object({
        state: d.name(INTRUDER_ALARM_STATES),
        since: InstantSchema.nullable(),
      })
      .optional(),
    /** 1.9: closed, nobody inside and the intruder alarm set: the branch is secured for the night. Absent: no panel. */
    secured: z.boolean().optional(),
    /** Filled in by the uplink itself: how the link to the broker has been. */
    uplink: d
      .object({
        connectedAt: InstantSchema.nullable(),
        reconnects: count,
      })
      .optional(),
  });
}

/** The state as this version's gateway publishes it. */
export const GatewayStateSchema = stateSchema(SENDER);
export type GatewayState = z.input<typeof GatewayStateSchema>;

/** The state as central reads it from a gateway of any 1.x version. */
export const ReceivedStateSchema = stateSchema(READER);
export type ReceivedState = z.output<typeof ReceivedStateSchema>;
