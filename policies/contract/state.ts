import { z } from 'zod';
import {
  AlarmNameSchema,
  BranchModeSchema,
  DoorStateSchema,
  InstantSchema,
  PolicySourceSchema,
  ReaderRoleSchema,
  SiteIdSchema,
} from './common.js';

const count = z.int().min(0);

/** `…/state`, retained and republished on every change: what a dashboard tile shows. */
export const GatewayStateSchema = z.strictObject({
  site: SiteIdSchema,
  at: InstantSchema,
  mode: BranchModeSchema,
  /** When the current mode began (null: before the schedule's horizon, or not known). */
  modeSince: InstantSchema.nullable(),
  /** When it next changes by the schedule (null: no change ahead within the horizon). */
  modeUntil: InstantSchema.nullable(),
  door: DoorStateSchema,
  lights: z.boolean(),
  occupancy: z.strictObject({
    inside: count,
    /** The policy's capacity during open access; null when not limited. */
    capacity: z.int().positive().nullable(),
  }),
  /** Alarms active now; an alarm's history is in the `alarm` events. */
  alarms: z.array(AlarmNameSchema),
  /** The member list in force; null before the first one arrived. */
  memberList: z
    .strictObject({
      version: count,
      count,
      updatedAt: InstantSchema.nullable(),
    })
    .nullable(),
  policy: z.strictObject({
    version: count,
    source: PolicySourceSchema,
  }),
  clock: z.strictObject({ trusted: z.boolean() }),
  readers: z.array(
    z.strictObject({
      id: z.string().min(1).max(64),
      role: ReaderRoleSchema,
      online: z.boolean(),
    }),
  ),
  /** Filled in by the uplink itself: how the link to the broker has been. */
  uplink: z
    .strictObject({
      connectedAt: InstantSchema.nullable(),
      reconnects: count,
    })
    .optional(),
});
export type GatewayState = z.infer<typeof GatewayStateSchema>;
