import { z } from 'zod';
import { GRANT_REASONS } from '../types.js';
import {
  AccessReasonSchema,
  ActorSchema,
  AlarmNameSchema,
  BranchModeSchema,
  DoorStateSchema,
  InstantSchema,
  PolicySourceSchema,
  PseudonymSchema,
  ReaderRoleSchema,
  SiteIdSchema,
  UlidSchema,
} from './common.js';

// `…/events`, QoS 1, never retained. One event per message, each with a unique ULID so central stores it once
// however often an outage makes the gateway send it.
const base = {
  id: UlidSchema,
  at: InstantSchema,
  site: SiteIdSchema,
};

const grants: readonly string[] = GRANT_REASONS;

export const AccessEventSchema = z
  .strictObject({
    ...base,
    type: z.literal('access'),
    decision: z.enum(['granted', 'refused']),
    reason: AccessReasonSchema,
    mode: BranchModeSchema,
    reader: ReaderRoleSchema,
    /** The card's pseudonym; null when the card was not recognised at all. */
    person: PseudonymSchema.nullable(),
  })
  .check((ctx) => {
    const granted = ctx.value.decision === 'granted';
    if (granted !== grants.includes(ctx.value.reason)) {
      ctx.issues.push({
        code: 'custom',
        path: ['reason'],
        message: granted ? 'must be a grant reason when decision is granted' : 'must be a refusal reason when decision is refused',
        input: ctx.value.reason,
      });
    }
  });

export const DoorEventSchema = z.strictObject({ ...base, type: z.literal('door'), state: DoorStateSchema });

export const AlarmEventSchema = z.strictObject({
  ...base,
  type: z.literal('alarm'),
  alarm: AlarmNameSchema,
  state: z.enum(['raised', 'cleared']),
  detail: z.string().max(500).optional(),
});

export const ModeEventSchema = z.strictObject({
  ...base,
  type: z.literal('mode'),
  from: BranchModeSchema,
  to: BranchModeSchema,
  until: InstantSchema.nullable(),
});

export const OccupancyEventSchema = z.strictObject({
  ...base,
  type: z.literal('occupancy'),
  change: z.enum(['entry', 'exit', 'reset', 'tailgate']),
  inside: z.int().min(0),
  /** reset: who reset the count (`schedule` at the start of a staffed session). */
  actor: ActorSchema.optional(),
  /** tailgate: people the counter saw come in, and grants, in that door cycle. */
  entries: z.int().min(0).optional(),
  grants: z.int().min(0).optional(),
});

export const StaffEventSchema = z.strictObject({
  ...base,
  type: z.literal('staff'),
  /** What staff (at the console, or central through a command) did: `unlock`, `lockdown-on`, `schedule-edit`, … */
  action: z.string().min(1).max(64),
  actor: ActorSchema,
  /** announce: the words announced. */
  text: z.string().min(1).max(280).optional(),
});

export const PolicyEventSchema = z.strictObject({
  ...base,
  type: z.literal('policy'),
  result: z.enum(['applied', 'refused']),
  /** The offered document's version; null when a refused document had none that could be read. */
  version: z.int().min(0).nullable(),
  source: PolicySourceSchema,
  error: z.string().max(2000).optional(),
});

export const MembersEventSchema = z.strictObject({
  ...base,
  type: z.literal('members'),
  result: z.enum(['applied', 'refused']),
  version: z.int().min(0).nullable(),
  count: z.int().min(0).optional(),
  error: z.string().max(2000).optional(),
});

export const SystemEventSchema = z.strictObject({
  ...base,
  type: z.literal('system'),
  what: z.enum(['start', 'stop', 'recovered']),
  detail: z.string().max(500).optional(),
});

/** A card reader could not read a card (not a refusal), with the driver's message; never the card's data. */
export const ReaderEventSchema = z.strictObject({
  ...base,
  type: z.literal('reader'),
  reader: ReaderRoleSchema,
  readerId: z.string().min(1).max(64),
  error: z.string().min(1).max(500),
});

/** A closing warning (lights flash, announcement) this many minutes before open access ends. */
export const WarningEventSchema = z.strictObject({
  ...base,
  type: z.literal('warning'),
  minutesLeft: z.int().min(0),
});

export const EventSchema = z.discriminatedUnion('type', [
  AccessEventSchema,
  DoorEventSchema,
  AlarmEventSchema,
  ModeEventSchema,
  OccupancyEventSchema,
  StaffEventSchema,
  PolicyEventSchema,
  MembersEventSchema,
  SystemEventSchema,
  WarningEventSchema,
  ReaderEventSchema,
]);

export type GatewayEvent = z.infer<typeof EventSchema>;
export type EventType = GatewayEvent['type'];
export type AccessEvent = z.infer<typeof AccessEventSchema>;
export type OccupancyEvent = z.infer<typeof OccupancyEventSchema>;
export type ModeEvent = z.infer<typeof ModeEventSchema>;
export type AlarmEvent = z.infer<typeof AlarmEventSchema>;

export const EVENT_TYPES = EventSchema.options.map((o) => o.shape.type.value) as EventType[];
