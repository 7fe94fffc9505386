import { z } from 'zod';
import { GRANT_REASONS, REFUSAL_REASONS } from '../types.js';
import {
  ACCESS_REASONS,
  AGE_BANDS,
  COUNT_CONFIDENCES,
  COUNT_SOURCES,
  DisplayNameSchema,
  DoorIdSchema,
  GRANT_REASON_NAMES,
  ActorSchema,
  ALARM_NAMES,
  ALARM_SEVERITIES,
  ANNOUNCEMENT_OUTCOMES,
  INTRUDER_ALARM_OUTCOMES,
  OutputIdSchema,
  BRANCH_MODES,
  DOOR_STATES,
  InstantSchema,
  isKnown,
  NameSchema,
  POLICY_SOURCES,
  PseudonymSchema,
  READER,
  READER_ROLES,
  SENDER,
  SiteIdSchema,
  UlidSchema,
  type Dialect,
  type Side,
} from './common.js';

// `…/events`, QoS 1, never retained. One event per message, each with a unique ULID so central stores it once
// however often an outage makes the gateway send it.

/** Open lists of the events themselves (the names a gateway of this version sends). */
/**
 * 1.8: `ignored`, an oddity of the counting hardware, counted as nothing (`detail`); `uncounted`, the door opened and
 * someone went in or out that nothing at that door could attribute (held free in staffed hours, a staff unlock, a
 * forced door): the figure is an estimate from then, and the figures count these openings instead of guessing.
 */
export const OCCUPANCY_CHANGES = ['entry', 'exit', 'reset', 'tailgate', 'ignored', 'uncounted'] as const;
export const SYSTEM_EVENTS = ['start', 'stop', 'recovered'] as const;
/** 1.10: a commissioning session (`oag commission`) started or ended, a step's result, an output pulsed for the test. */
export const COMMISSIONING_ACTIONS = ['started', 'step', 'pulse', 'ended'] as const;
export const COMMISSIONING_RESULTS = ['passed', 'failed', 'skipped'] as const;

function eventSchemas<S extends Side>(d: Dialect<S>) {
  const base = {
    v: d.siteVersion,
    id: UlidSchema,
    at: InstantSchema,
    site: SiteIdSchema,
  };

  const access = d
    .object({
      ...base,
      type: z.literal('access'),
      decision: z.enum(['granted', 'refused']),
      reason: d.name(ACCESS_REASONS),
      mode: d.name(BRANCH_MODES),
      reader: d.name(READER_ROLES),
      /** The card's pseudonym; null when the card was not recognised at all. */
      person: PseudonymSchema.nullable(),
      /** 1.8: the member's age band at the tap (figures by age without linking pseudonyms); absent for an unknown card. */
      ageBand: d.name(AGE_BANDS).optional(),
      /** 1.8: the door whose reader it was; absent: the branch's only door. */
      door: DoorIdSchema.optional(),
    })
    .check((ctx) => {
      // Only a known reason can contradict the decision: a newer gateway's reason is taken as it says.
      const { decision, reason } = ctx.value;
      const wrong = decision === 'granted' ? isKnown(REFUSAL_REASONS, reason) : isKnown(GRANT_REASONS, reason);
      if (wrong) {
        ctx.issues.push({
          code: 'custom',
          path: ['reason'],
          message: decision === 'granted' ? 'must be a grant reason when decision is granted' : 'must be a refusal reason when decision is refused',
          input: reason,
          continue: true,
        });
      }
    });

  const door = d.object({
    ...base,
    type: z.literal('door'),
    state: d.name(DOOR_STATES),
    /** 1.8: which door, at a branch with several; absent: the branch's only door. */
    door: DoorIdSchema.optional(),
  });

  const alarm = d.object({
    ...base,
    type: z.literal('alarm'),
    alarm: d.name(ALARM_NAMES),
    state: z.enum(['raised', 'cleared']),
    detail: z.string().max(500).optional(),
    /** 1.2: the alarm's severity (ALARM_SEVERITY), on raised and cleared alike; absent from older gateways. */
    severity: d.name(ALARM_SEVERITIES).optional(),
  });

  const mode = d.object({
    ...base,
    type: z.literal('mode'),
    from: d.name(BRANCH_MODES),
    to: d.name(BRANCH_MODES),
    until: InstantSchema.nullable(),
  });

  const occupancy = d.object({
    ...base,
    type: z.literal('occupancy'),
    change: d.name(OCCUPANCY_CHANGES),
    inside: z.int().min(0),
    /** reset: who reset the count (`schedule` at the start of a staffed session). */
    actor: ActorSchema.optional(),
    /** tailgate: people the counter saw come in, and grants, in that door cycle. */
    entries: z.int().min(0).optional(),
    grants: z.int().min(0).optional(),
    /** 1.8: the branch mode at that instant, so that a figure never has to find it from `mode` events. */
    mode: d.name(BRANCH_MODES).optional(),
    /** 1.8, entry: the grant reason of the tap this entry followed (`booking` for a group booking); absent when none. */
    grant: d.name(GRANT_REASON_NAMES).optional(),
    /** 1.8: what saw it (COUNT_SOURCES). */
    via: d.name(COUNT_SOURCES).optional(),
    /** 1.8: whether the figure after this change is counted or estimated. */
    confidence: d.name(COUNT_CONFIDENCES).optional(),
    /** 1.8: the door it happened at; absent: the branch's only door. */
    door: DoorIdSchema.optional(),
    /** 1.8, ignored: what was odd (a counter bounce, beams broken out of order), never a person. */
    detail: z.string().max(500).optional(),
  });

  const staff = d.object({
    ...base,
    type: z.literal('staff'),
    /** What staff (at the console, or central through a command) did: `unlock`, `lockdown-on`, `schedule-edit`, … */
    action: z.string().min(1).max(64),
    actor: ActorSchema,
    /** announce: the words announced; help-acknowledged (1.4): who acknowledged the help call, as the branch shows it. */
    text: z.string().min(1).max(280).optional(),
    /** 1.8, unlock and lock at a branch with several doors: which door. */
    door: DoorIdSchema.optional(),
  });

  const policy = d.object({
    ...base,
    type: z.literal('policy'),
    result: z.enum(['applied', 'refused']),
    /** The offered document's version; null when a refused document had none that could be read. */
    version: z.int().min(0).nullable(),
    source: d.name(POLICY_SOURCES),
    error: z.string().max(2000).optional(),
  });

  const members = d.object({
    ...base,
    type: z.literal('members'),
    result: z.enum(['applied', 'refused']),
    version: z.int().min(0).nullable(),
    count: z.int().min(0).optional(),
    error: z.string().max(2000).optional(),
  });

  const system = d.object({
    ...base,
    type: z.literal('system'),
    what: d.name(SYSTEM_EVENTS),
    detail: z.string().max(500).optional(),
  });

  /** A card reader could not read a card (not a refusal), with the driver's message; never the card's data. */
  const reader = d.object({
    ...base,
    type: z.literal('reader'),
    reader: d.name(READER_ROLES),
    readerId: z.string().min(1).max(64),
    error: z.string().min(1).max(500),
  });

  /** A closing warning (lights flash, announcement) this many minutes before open access ends. */
  const warning = d.object({
    ...base,
    type: z.literal('warning'),
    minutesLeft: z.int().min(0),
  });

  /** 1.9: a switched output (PCs, heating, a kiosk) changed, by the policy's schedule or at start. */
  const output = d.object({
    ...base,
    type: z.literal('output'),
    output: OutputIdSchema,
    on: z.boolean(),
    /** `schedule` (the policy's windows), `start` (the level taken at start, after a restart or a new policy). */
    by: z.string().min(1).max(64),
  });

  /** 1.9: the intruder alarm panel: the branch asked it to set or unset, the status input confirmed or not, or it changed at the panel. */
  const intruderAlarm = d.object({
    ...base,
    type: z.literal('intruder-alarm'),
    action: z.enum(['set', 'unset']),
    outcome: d.name(INTRUDER_ALARM_OUTCOMES),
    /** Why: `empty after close`, `before open access`, a staff pseudonym at closed hours; `panel` when done at its keypad. */
    by: z.string().min(1).max(120),
  });

  /** 1.9: an announcement through the loudspeaker: its phrase, the languages spoken, and what became of it. */
  const announcement = d.object({
    ...base,
    type: z.literal('announcement'),
    /** A phrase id (`closing-soon`, `evacuate`, …), or `text` for words staff typed. */
    phrase: NameSchema,
    languages: z.array(z.string().min(2).max(16)).min(1).max(4),
    outcome: d.name(ANNOUNCEMENT_OUTCOMES),
    /** text: the words; failed: why. */
    detail: z.string().max(500).optional(),
  });

  /** 1.10: the record of commissioning the wiring on site (`oag commission`): its start, each step, each pulse, its end. */
  const commissioning = d.object({
    ...base,
    type: z.literal('commissioning'),
    action: d.name(COMMISSIONING_ACTIONS),
    /** The session's id: every event of one commissioning carries it. */
    session: NameSchema,
    actor: ActorSchema,
    /** started: the technician's name as they gave it. */
    technician: DisplayNameSchema.optional(),
    /** step: which (`exit-button`, `door-contact`, `fire-input`, `card-reader`, `announcements`, `door-relay`, `switched-outputs`). */
    step: NameSchema.optional(),
    /** step: what became of it; ended: `passed` only when every step did. */
    result: d.name(COMMISSIONING_RESULTS).optional(),
    /** step and pulse: the door, at a branch with several, or the switched output. */
    door: DoorIdSchema.optional(),
    output: OutputIdSchema.optional(),
    /** pulse: for how long. */
    seconds: z.int().min(1).max(60).optional(),
    /** What was seen or said (a card's pseudonym, never its number), the steps asked for, why it ended. */
    detail: z.string().max(500).optional(),
  });

  return { access, door, alarm, mode, occupancy, staff, policy, members, system, warning, reader, output, intruderAlarm, announcement, commissioning };
}

const sent = eventSchemas(SENDER);

export const AccessEventSchema = sent.access;
export const DoorEventSchema = sent.door;
export const AlarmEventSchema = sent.alarm;
export const ModeEventSchema = sent.mode;
export const OccupancyEventSchema = sent.occupancy;
export const StaffEventSchema = sent.staff;
export const PolicyEventSchema = sent.policy;
export const MembersEventSchema = sent.members;
export const SystemEventSchema = sent.system;
export const ReaderEventSchema = sent.reader;
export const WarningEventSchema = sent.warning;
export const OutputEventSchema = sent.output;
export const IntruderAlarmEventSchema = sent.intruderAlarm;
export const AnnouncementEventSchema = sent.announcement;
export const CommissioningEventSchema = sent.commissioning;

/** An event as this version's gateway sends it. */
export const EventSchema = z.discriminatedUnion('type', [
  sent.access,
  sent.door,
  sent.alarm,
  sent.mode,
  sent.occupancy,
  sent.staff,
  sent.policy,
  sent.members,
  sent.system,
  sent.warning,
  sent.reader,
  sent.output,
  sent.intruderAlarm,
  sent.announcement,
  sent.commissioning,
]);

export type GatewayEvent = z.input<typeof EventSchema>;
export type EventType = GatewayEvent['type'];
export type AccessEvent = z.input<typeof AccessEventSchema>;
export type OccupancyEvent = z.input<typeof OccupancyEventSchema>;
export type ModeEvent = z.input<typeof ModeEventSchema>;
export type AlarmEvent = z.input<typeof AlarmEventSchema>;

/** The event types this version knows (an open list too: see UnknownEventSchema). */
export const EVENT_TYPES = EventSchema.options.map((o) => o.shape.type.value) as EventType[];

const received = eventSchemas(READER);

/** An event of a known type from a gateway of any 1.x version. */
export const ReceivedKnownEventSchema = z.discriminatedUnion('type', [
  received.access,
  received.door,
  received.alarm,
  received.mode,
  received.occupancy,
  received.staff,
  received.policy,
  received.members,
  received.system,
  received.warning,
  received.reader,
  received.output,
  received.intruderAlarm,
  received.announcement,
  received.commissioning,
]);
export type ReceivedKnownEvent = z.output<typeof ReceivedKnownEventSchema>;

/**
 * An event of a type this version does not know, from a newer gateway: stored and shown with its type, and kept
 * whole (its other fields are not ours to judge), so history loses nothing a later central could read.
 */
export const UnknownEventSchema = z.looseObject({
  v: READER.siteVersion,
  id: UlidSchema,
  at: InstantSchema,
  site: SiteIdSchema,
  type: NameSchema.refine((type) => !isKnown(EVENT_TYPES, type), { error: 'is a known event type: read by its own schema', abort: true }),
});
export type UnknownEvent = z.output<typeof UnknownEventSchema>;

/**
 * Every event a reader accepts: a known type by its schema, or any other type as an UnknownEvent. When it fails,
 * it can only say "does not match any allowed form" for a known type with a field missing; a reader that wants
 * that type's own errors parses with ReceivedKnownEventSchema then (central/ingest.ts).
 */
export const ReceivedEventSchema = z.union([ReceivedKnownEventSchema, UnknownEventSchema]);
export type ReceivedEvent = ReceivedKnownEvent | UnknownEvent;
