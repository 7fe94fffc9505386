// The public shapes of the policies room. Pure data: no I/O, no clock reads.
// The zod schemas in ./schema.ts produce `Policy`; everything else here is what the rules return.

/** Modes the weekly schedule (with exceptions and changeover) produces. */
export type ScheduleMode = 'staffed' | 'open-access' | 'changeover' | 'closed';

/** Modes a branch can be in: the schedule's, or one commanded/sensed on top of it. */
export type BranchMode = ScheduleMode | 'lockdown' | 'emergency';

export const REFUSAL_REASONS = [
  'unknown-card',
  'not-registered',
  'expired',
  'blocked',
  'under-age',
  'closed',
  'changeover',
  'last-entry-passed',
  'full',
  'lockdown',
  'emergency',
  'clock-untrusted',
  'member-list-stale',
  'pin-required',
  'pin-wrong',
  'pin-locked',
  /** 1.7: the library system checks PINs (rules.pinSource sip2) and could not be asked; rules.pinOffline refuse. */
  'pin-check-unavailable',
  /** 1.5: a card the list does not know, in a burst of them at this reader: refused without asking the library system. */
  'unknown-card-burst',
  /** 1.7: a phone token (QR) that is not central's, or malformed (docs/phone-credential.md). */
  'bad-token',
  /** 1.7: a phone token past its expiry. */
  'token-expired',
  /** 1.7: a phone token issued for another branch. */
  'token-other-site',
  /** 1.7: a phone token already used at this branch. */
  'token-replayed',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/**
 * Why a grant was given: the panel and the log show it. `exit`: an exit reader's tap; leaving is never refused.
 * 1.7 `accompanied`: under the minimum age, let in just after an adult's grant at the same door (rule accompaniedMinors).
 */
export const GRANT_REASONS = ['staffed', 'member', 'staff', 'booking', 'exit', 'accompanied'] as const;
export type GrantReason = (typeof GRANT_REASONS)[number];

/**
 * The member fields a decision needs, and nothing more (no name, no card number).
 * Dates are local calendar dates `YYYY-MM-DD` in the branch's time zone.
 */
export interface Member {
  /** Membership expiry date (last valid day), or null for no expiry. */
  expires: string | null;
  /** Blocked (fines, debarment, local block). */
  blocked: boolean;
  /** A local block ends after this date (inclusive last blocked day); null = until lifted. */
  blockedUntil: string | null;
  /** Registered for open access with the induction done / terms accepted. */
  openAccess: boolean;
  /** Date of birth, where held. */
  birthDate: string | null;
  /** Adult flag, where only that is held (null = not known). */
  adult: boolean | null;
  /** Staff card: may enter in any mode but lockdown (and emergency). */
  staff: boolean;
  /** Partner groups this member belongs to, matched against bookings' `group`. */
  groups: readonly string[];
  /** Hashed PIN (see pin.ts `hashPin`), or null when none is set. */
  pinHash: string | null;
}

export interface DecisionContext {
  /** The instant of the tap. */
  at: Date;
  /** People counted inside now. */
  occupancy: number;
  /** Lockdown commanded by staff or central. */
  lockdown: boolean;
  /** Fire alarm / emergency release active. */
  emergency: boolean;
  /** Whether the system clock is trusted (NTP synchronised or RTC). */
  clockTrusted: boolean;
  /** The member list has not been refreshed for longer than the branch allows (rule `staleMemberList`). */
  memberListStale?: boolean | undefined;
  /** PIN typed on the keypad for this tap, if any. */
  pin?: string | undefined;
  /**
   * Whether `pin` matched the member's PIN, when the caller checked it already (the gateway verifies on the thread
   * pool, off the door's event loop); without it decide() verifies `pin` itself, synchronously.
   */
  pinOk?: boolean | undefined;
  /** Consecutive wrong PINs recently recorded for this card (the gateway keeps the count). */
  pinFailures?: number | undefined;
  /** When the last wrong PIN was recorded for this card (for lockout expiry). */
  lastPinFailureAt?: Date | undefined;
  /**
   * Milliseconds since the last adult's grant at the door this card is tapped at (see `isAdultGrant`), or null when
   * none is remembered: rule `accompaniedMinors` lets an under-age card in within its seconds of one.
   */
  adultGrantedMsAgo?: number | null | undefined;
  /**
   * The door the card is at (`main`, or an id of the gateway's `hardware.doors`). A booking that names doors
   * grants only at one of them; without a door it grants at none (a booking that names no doors, at every door).
   */
  door?: string | undefined;
  /**
   * 1.9: the intruder alarm panel is set (or setting) now. With `intruderAlarm.unsetInClosedHours: staff-card-and-pin`
   * a staff card in closed hours then needs its PIN too, and its grant (`withPin`) is what unsets the panel.
   */
  intruderAlarmSet?: boolean | undefined;
}

export interface ModeSpan {
  mode: ScheduleMode;
  /** When this mode began, or null if it has been so since before the search horizon. */
  since: Date | null;
  /** When it next changes, or null if no change within the search horizon. */
  until: Date | null;
}

export interface Transition {
  at: Date;
  from: ScheduleMode;
  to: ScheduleMode;
}

export interface ActiveBooking {
  group: string;
  from: Date;
  to: Date;
  label?: string | undefined;
}

export type Decision =
  | {
      allow: true;
      reason: GrantReason;
      mode: BranchMode;
      /** Set when the grant came through a group booking. */
      booking?: ActiveBooking | undefined;
      /** 1.9: a staff card that also passed its PIN, while the intruder alarm was set in closed hours: it unsets the panel. */
      withPin?: true | undefined;
    }
  | {
      allow: false;
      reason: RefusalReason;
      mode: BranchMode;
      /** For pin-wrong / pin-locked: when entry may be tried again. */
      retryAfter?: Date | undefined;
    };
