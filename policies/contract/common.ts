// Building blocks shared by the MQTT contract's messages. Every message crossing the broker has exactly one
// schema in this folder; gateway and central import the same one.
import { z } from 'zod';
import { GRANT_REASONS, REFUSAL_REASONS } from '../types.js';

/** A site id is one topic level: never `/`, `+` or `#`, and the same slug the policy file uses. */
export const SiteIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'must be lower case letters, digits and dashes (at most 63)' });

/** An instant with its offset (`2025-03-30T01:30:00Z`, `…+01:00`): never a local time without a zone. */
export const InstantSchema = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with Z or an offset' });

/** ULID: 26 Crockford base-32 characters; sorts by creation time, so ids also give the order of a site's events. */
export const UlidSchema = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, { error: 'must be a ULID (26 characters, Crockford base 32)' });

/** The short pseudonym a card appears under in logs and events (never the card number). */
export const PseudonymSchema = z.string().regex(/^[0-9a-f]{8}$/, { error: 'must be an 8-character hex pseudonym' });

export const BRANCH_MODES = ['staffed', 'open-access', 'changeover', 'closed', 'lockdown', 'emergency'] as const;
export const BranchModeSchema = z.enum(BRANCH_MODES);

export const DOOR_STATES = ['locked', 'unlocked', 'open', 'held-open', 'forced-open', 'released', 'lockdown'] as const;
export const DoorStateSchema = z.enum(DOOR_STATES);

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
] as const;
export const AlarmNameSchema = z.enum(ALARM_NAMES);

export const ACCESS_REASONS = [...GRANT_REASONS, ...REFUSAL_REASONS] as const;
export const AccessReasonSchema = z.enum(ACCESS_REASONS);

export const POLICY_SOURCES = ['file', 'console', 'central'] as const;
export const PolicySourceSchema = z.enum(POLICY_SOURCES);

export const READER_ROLES = ['entry', 'exit'] as const;
export const ReaderRoleSchema = z.enum(READER_ROLES);

export const ActorSchema = z.string().min(1).max(64);

export type BranchMode = z.infer<typeof BranchModeSchema>;
export type DoorState = z.infer<typeof DoorStateSchema>;
export type AlarmName = z.infer<typeof AlarmNameSchema>;
export type AccessReason = z.infer<typeof AccessReasonSchema>;
export type PolicySource = z.infer<typeof PolicySourceSchema>;
