// Building blocks shared by the MQTT contract's messages. Every message crossing the broker has exactly one
// definition in this folder, read two ways (see `Dialect`); gateway and central import the same one.
import { z } from 'zod';
import { GRANT_REASONS, REFUSAL_REASONS } from '../types.js';

// ---- versions ----------------------------------------------------------------------------------------------------
// The contract is `oa/v1` (the topic prefix). Within v1 changes are additive only, so gateways and central of
// different releases keep talking: a new field, a new message, a new name in an open list. Anything else (a field
// removed, renamed or retyped, a name list closed, a meaning changed) is v2, on `oa/v2` topics, with both trees
// served side by side while the estate moves over. docs/central.md ("Contract versions") has the rules.

export const CONTRACT_MAJOR = 1;
/**
 * Raised with every additive change inside v1. A sender writes its own in `v` (central not yet: see
 * `Dialect.centralVersion`); a message without one was sent by 1.0.
 * 1: `v` itself, readers that accept unknown fields and names; alarms `storage`, `uplink-failed`, `local-api-failed`,
 * `sip2-failed`, `member-sync-failed`, `retention-failed`, `listener-failed`, `config-invalid`.
 * 2: alarm `door-released-closed`; `severity` on alarm events.
 * 3: alarms `undervoltage`, `mains-lost`, `power-failed`; `power` in the state.
 * 4: alarm `help-requested`; command `help-acknowledged` (who, in `text`); `help` in the state.
 * 5: alarm `unknown-card-burst` (major); access reason `unknown-card-burst`; optional `sig` (central's Ed25519
 *    signature) on command, policy, members announcement, chunk and refusal, required in code by a 1.5 gateway;
 *    `policy.override` `{by, at}` in the state while a console override is in force; policy `version` at most
 *    2^31-1 (numbered by central).
 * 6: alarm `lms-block-not-in-list` (major): the library system, asked after a grant, blocks a card the list lets in.
 * 7: alarm `pin-lockout` (major): wrong PINs at the keypad locked a card out (EN 60839-11-1); cleared when no lockout stands.
 *    Alarm `pin-check-unavailable` (minor) and access reason of the same name; policy rules `pinSource`, `pinOffline`.
 *    Access reason `accompanied` and policy rule `accompaniedMinors` (an unknown key to a gateway before 1.7).
 *    Access reasons `bad-token`, `token-expired`, `token-other-site`, `token-replayed` (phone tokens, QR).
 * 8: counts you can trust. Alarm `tailgating` (minor). Access events: `ageBand`, `door`. Occupancy events: changes
 *    `ignored` (an oddity of the counting hardware, with `detail`) and `uncounted` (an opening nothing could attribute), and `mode`, `grant`, `via`, `confidence`, `door`,
 *    `detail`. State: `occupancy.confidence`, `occupancy.motionAt`. Several doors: `door` on door and staff events and
 *    on the `unlock` and `lock` commands, `doors` in the state. Policy: `rules.occupancy`, and `bookings[].doors` (the
 *    doors a booking opens), unknown keys to a gateway before 1.8.
 * 9: the building runs itself. Alarms `intruder-alarm-fault` (major), `sound-failed` (minor), `building-outputs-failed`,
 *    `intruder-alarm-failed` and `announcements-failed` (minor: those extensions failed). Events `output` (a switched
 *    output changed), `intruder-alarm` (the panel asked to set or unset, confirmed, failed, or changed at the panel),
 *    `announcement` (a message spoken, interrupted or failed). State: `outputs`, `intruderAlarm`, `secured`. Policy:
 *    `outputs`, `intruderAlarm`, `announcements`, unknown keys to a gateway before 1.9.
 * 10: the desk. Topics `members/change` (site → central: link a card tapped at the desk reader, set or remove a
 *    member's PIN, hashed at the branch) and `members/change/reply` (central → site, signed). Alarm `output-failed`
 *    (major): an output cannot drive its line (the process holding it died), until it holds it again.
 *    Event `commissioning` (`oag commission` on site: a session started or ended, each step's result, each output it
 *    pulsed for the test).
 */
export const CONTRACT_MINOR = 10;
/** `1.1`: what a gateway or central says it speaks, in logs and in refusals. */
export const CONTRACT_VERSION = `${CONTRACT_MAJOR}.${CONTRACT_MINOR}`;

// ---- names -------------------------------------------------------------------------------------------------------

const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A site id is one topic level: never `/`, `+` or `#`, and the same slug the policy file uses. */
export const SiteIdSchema = z
  .string()
  .regex(NAME_PATTERN, { error: 'must be lower case letters, digits and dashes (at most 63)' });

/**
 * A name from an open list (alarms, commands, reasons, modes…): any slug, so a name added by a newer peer
 * still reads, and its reader can show it as unknown instead of losing the whole message.
 */
export const NameSchema = z.string().regex(NAME_PATTERN, { error: 'must be a name: lower case letters, digits and dashes (at most 63)' });

/** Whether a name read from an open list is one this version knows (and so has a label and a meaning for). */
export function isKnown<const T extends string>(known: readonly T[], name: string): name is T {
  return (known as readonly string[]).includes(name);
}

// ---- the two readings of a message -------------------------------------------------------------------------------

export type Side = 'sender' | 'reader';
type Names = readonly [string, ...string[]];
type NameOf<S extends Side, T extends Names> = S extends 'sender' ? T[number] : string;

/**
 * How a message schema is built for one side. A sender publishes only what its version defines: the names it
 * knows (its TypeScript types are those unions), no key the schema does not name, and its minor version in `v`.
 * A reader takes what any 1.x peer may send: any well-formed name in an open list (kept as it came), unknown keys
 * dropped, and no `v` read as 1.0. docs/asyncapi.yaml documents the reader's schemas, which are the contract.
 */
export interface Dialect<S extends Side> {
  /** `v` of a message a site publishes. */
  siteVersion: ReturnType<typeof stamped>;
  /**
   * `v` of a message central publishes. Not written yet: gateways of 1.0 predate this rule and refuse any key they
   * do not know, `v` included, and central is upgraded before its gateways (docs/central.md). Gateways write theirs
   * from 1.1, since central 1.1 reads any 1.x; central writes its own from the first minor after the last 1.0
   * gateway is gone.
   */
  centralVersion: S extends 'sender' ? ReturnType<typeof unstamped> : ReturnType<typeof stamped>;
  /** An open list: its known names for a sender; any name, known ones first, for a reader. */
  name<const T extends Names>(known: T): z.ZodType<NameOf<S, T>, NameOf<S, T>>;
  object<T extends z.core.$ZodLooseShape>(shape: T): z.ZodObject<T, z.core.$strip>;
}

const VERSION_DOC = `The contract minor version of the sender (it speaks oa/v1.{v}); absent: 1.0. This document is ${CONTRACT_VERSION}.`;

function stamped(minor: number) {
  return z.int().min(0).default(minor).meta({ description: VERSION_DOC });
}

function unstamped() {
  return z.int().min(0).optional().meta({ description: VERSION_DOC });
}

export const SENDER: Dialect<'sender'> = {
  siteVersion: stamped(CONTRACT_MINOR),
  centralVersion: unstamped(),
  name: (known) => z.enum(known),
  // Strict on the way out: a key the contract does not define is a bug in the sender. Strict and strip objects
  // differ only at run time, so the cast changes no type.
  object: (shape) => z.strictObject(shape) as unknown as z.ZodObject<typeof shape, z.core.$strip>,
};

export const READER: Dialect<'reader'> = {
  siteVersion: stamped(0),
  centralVersion: stamped(0),
  // The known names come first so the JSON Schema lists them; the pattern takes any other.
  name: (known) =>
    z.union([z.enum(known), NameSchema]).meta({ description: `Open list: a name known in ${CONTRACT_VERSION}, or any other name (a reader keeps it as it came and shows it as unknown).` }),
  object: (shape) => z.object(shape),
};

/** The minor version a message says it was sent with: `1.0` for one without `v`. */
export function contractVersionOf(message: { v?: number | undefined }): string {
  return `${CONTRACT_MAJOR}.${message.v ?? 0}`;
}

// ---- fields every message uses -----------------------------------------------------------------------------------

/** An instant with its offset (`2025-03-30T01:30:00Z`, `…+01:00`): never a local time without a zone. */
export const InstantSchema = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with Z or an offset' });

/** ULID: 26 Crockford base-32 characters; sorts by creation time, so ids also give the order of a site's events. */
export const UlidSchema = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, { error: 'must be a ULID (26 characters, Crockford base 32)' });

/**
 * The short pseudonym a card appears under in logs and events (never the card number). Per site: the same card has
 * unrelated pseudonyms at two branches (policies/pseudonym.ts); central blanks it after store.personRetentionDays.
 */
export const PseudonymSchema = z.string().regex(/^[0-9a-f]{8}$/, { error: 'must be an 8-character hex pseudonym' });

export const ActorSchema = z.string().min(1).max(64);

/** The longest name a branch shows for whoever acknowledged a help call. */
export const DISPLAY_NAME_MAX = 64;

/**
 * A person's name as a branch shows it (1.4: who acknowledged a help call): one line, bounded, since it goes on the
 * console and into the retained state, where a control character or a page of text would do harm.
 */
export const DisplayNameSchema = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(DISPLAY_NAME_MAX, { error: `must be at most ${DISPLAY_NAME_MAX} characters` })
  .regex(/^[^\p{Cc}\u2028\u2029]+$/u, { error: 'must be one line without control characters' });

// ---- open lists: the names known in this version -----------------------------------------------------------------
// A reader keeps any other name as it came and shows it as unknown; a sender sends only these. Closed lists (two
// values by nature: online/offline, raised/cleared, granted/refused, applied/refused) are plain enums.

/** A mode an older central does not know still arrives with its state (and shows as an unknown mode). */
export const BRANCH_MODES = ['staffed', 'open-access', 'changeover', 'closed', 'lockdown', 'emergency'] as const;

export const DOOR_STATES = ['locked', 'unlocked', 'open', 'held-open', 'forced-open', 'released', 'lockdown'] as const;

export const ALARM_NAMES = [
  'forced-open',
  'held-open',
  'fire',
  'tamper',
  'people-inside-after-close',
  'reader-offline',
  'clock-untrusted',
  'member-list-stale',
  'policy-refused',
  /** The gateway's store cannot be written (events wait in memory). */
  'storage',
  'uplink-failed',
  /** Extensions that failed (gateway/extensions: each is `<name>-failed`), started again with backoff. */
  'local-api-failed',
  'sip2-failed',
  'member-sync-failed',
  'retention-failed',
  /** A part of the gateway threw inside an event listener. */
  'listener-failed',
  /** An optional section of the gateway's config was invalid and left out. */
  'config-invalid',
  /** The fire release holds the door open while the branch is closed: nobody is there until someone comes to reset it. */
  'door-released-closed',
  /** The Pi's firmware reports under-voltage: a failing supply, which corrupts SD cards and resets the Pi. */
  'undervoltage',
  /** The mains-present input (a UPS HAT, a mains-sensing relay) says the mains supply is off: the branch runs on battery. */
  'mains-lost',
  /** The power extension failed: under-voltage and mains are not watched until it runs again. */
  'power-failed',
  /** 1.4: someone pressed the help-call button at the branch; cleared by staff's reset or a while after someone acknowledged. */
  'help-requested',
  /** 1.5: more unknown cards at one reader than the branch allows in a while: someone trying cards; cleared after a quiet period. */
  'unknown-card-burst',
  /** 1.6: the library system, asked after a grant (rules.sip2SecondOpinion), blocks a card the member list lets in; cleared when no such block stands. */
  'lms-block-not-in-list',
  /** 1.7: `pinMaxAttempts` wrong PINs in a row locked a card out; cleared when no card's lockout stands. */
  'pin-lockout',
  /** 1.7: rules.pinSource sip2 and the library system cannot check PINs: members with pinOffline card-only get in on the card alone. */
  'pin-check-unavailable',
  /** 1.8: more people came in than were let in, in one door cycle (a counter or beams saw them); cleared after a quiet while. */
  'tailgating',
  /** 1.9: the intruder alarm panel did not confirm a set or unset the branch asked for (or changed when nobody asked). */
  'intruder-alarm-fault',
  /** 1.10: an output (a door relay, the lights, a switched output) cannot drive its line; the wiring holds it safe. */
  'output-failed',
  /** 1.9: announcements cannot be played (no sound device, a player failing); the door goes on deciding. */
  'sound-failed',
  /** 1.9: extensions that failed: switched outputs, the intruder alarm, announcements (started again with backoff). */
  'building-outputs-failed',
  'intruder-alarm-failed',
  'announcements-failed',
] as const;

/**
 * How urgent an alarm is (an open list). critical: someone must go to the branch now (the level to page on);
 * major: the door, its record or the service to members is at risk until someone acts; minor: a part is degraded
 * while the door stays safe and members still get in.
 */
export const ALARM_SEVERITIES = ['critical', 'major', 'minor'] as const;

export const ACCESS_REASONS = [...GRANT_REASONS, ...REFUSAL_REASONS] as const;
export const GRANT_REASON_NAMES = GRANT_REASONS;

export const POLICY_SOURCES = ['file', 'console', 'central'] as const;

export const READER_ROLES = ['entry', 'exit'] as const;
/** 1.8: a member's age band at the tap, from the member list (birth date, or the adult flag); `unknown` where neither is held. */
export const AGE_BANDS = ['child', 'adult', 'unknown'] as const;
/** 1.8: how a count was seen: the door contact after a grant or an exit request, a counter, a beam pair, a grant without a contact. */
export const COUNT_SOURCES = ['contact', 'counter', 'beams', 'grant', 'exit-request'] as const;
/** 1.8: `counted`: every change since the last confirmed figure was seen by hardware; `estimated`: some were inferred. */
export const COUNT_CONFIDENCES = ['counted', 'estimated'] as const;
/** 1.9: a switched output's id in the branch's config (`hardware.switched[].id`): PCs, heating, kiosks. */
export const OutputIdSchema = z.string().min(1).max(32).regex(/^[a-z0-9][a-z0-9-]*$/, 'an output id: lower-case letters, digits and hyphens');
/** 1.9: the intruder alarm panel: `set`/`unset` as its status input says, `setting`/`unsetting` while the branch waits for it. */
export const INTRUDER_ALARM_STATES = ['set', 'unset', 'setting', 'unsetting'] as const;
/** 1.9: what became of a set or unset: asked, confirmed by the status input, not confirmed in time, or done at the panel itself. */
export const INTRUDER_ALARM_OUTCOMES = ['requested', 'confirmed', 'failed', 'at-panel'] as const;
/** 1.9: what became of an announcement. */
export const ANNOUNCEMENT_OUTCOMES = ['played', 'interrupted', 'failed', 'printed', 'dropped'] as const;
/** A door's id in the branch's config (`doors[].id`); the first door is `main`. */
export const DoorIdSchema = z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9-]*$/, 'a door id: lower-case letters, digits and hyphens');

export const BranchModeSchema = SENDER.name(BRANCH_MODES);
export const DoorStateSchema = SENDER.name(DOOR_STATES);
export const AlarmNameSchema = SENDER.name(ALARM_NAMES);
export const AlarmSeveritySchema = SENDER.name(ALARM_SEVERITIES);
export const AccessReasonSchema = SENDER.name(ACCESS_REASONS);
export const PolicySourceSchema = SENDER.name(POLICY_SOURCES);
export const ReaderRoleSchema = SENDER.name(READER_ROLES);

export type BranchMode = (typeof BRANCH_MODES)[number];
export type DoorState = (typeof DOOR_STATES)[number];
export type AlarmName = (typeof ALARM_NAMES)[number];
export type AlarmSeverity = (typeof ALARM_SEVERITIES)[number];
export type AccessReason = (typeof ACCESS_REASONS)[number];
export type PolicySource = (typeof POLICY_SOURCES)[number];
export type ReaderRole = (typeof READER_ROLES)[number];

/**
 * Each alarm's severity, as a gateway sends it with the alarm. A reader of an event without one (a gateway before
 * 1.2) looks a known name up here; an unknown name has none.
 */
export const ALARM_SEVERITY: { readonly [A in AlarmName]: AlarmSeverity } = {
  fire: 'critical',
  // A person in the building asks for help, with nobody on site: someone must answer, whatever the hour.
  'help-requested': 'critical',
  'door-released-closed': 'critical',
  'forced-open': 'major',
  'held-open': 'major',
  tamper: 'major',
  'people-inside-after-close': 'major',
  'reader-offline': 'major',
  // With the policy's default rules both refuse members: the branch is shut to them until it clears.
  'clock-untrusted': 'major',
  'member-list-stale': 'major',
  'policy-refused': 'major',
  storage: 'major',
  'listener-failed': 'major',
  'config-invalid': 'major',
  // The door runs on, but not for long: a failing supply resets the Pi and corrupts its card; a UPS runs down.
  undervoltage: 'major',
  'mains-lost': 'major',
  // Someone is trying cards (or a cloned-card scanner) at an unstaffed door: not an emergency, but someone should look.
  'unknown-card-burst': 'major',
  // A member the library system has blocked got in once, and the list does not know it yet: the list is behind.
  'lms-block-not-in-list': 'major',
  // Someone is guessing a member's PIN at an unstaffed door (EN 60839-11-1 asks for an alarm): someone should look.
  'pin-lockout': 'major',
  // Members still get in (card only) or are refused by the policy's choice; the library system's link is what to fix.
  'pin-check-unavailable': 'minor',
  // The building may be unguarded overnight (a set that failed) or the panel in a state nobody chose.
  'intruder-alarm-fault': 'major',
  // A door relay that cannot move: members are refused and a fail-secure exit waits for its mechanical handle.
  'output-failed': 'major',
  // Nobody hears the closing warnings or the evacuation message; the door itself is unaffected.
  'sound-failed': 'minor',
  'building-outputs-failed': 'minor',
  'intruder-alarm-failed': 'minor',
  'announcements-failed': 'minor',
  tailgating: 'minor',
  'uplink-failed': 'minor',
  'local-api-failed': 'minor',
  'sip2-failed': 'minor',
  'member-sync-failed': 'minor',
  'retention-failed': 'minor',
  'power-failed': 'minor',
};
