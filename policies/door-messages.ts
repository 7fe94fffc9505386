// What the door tells the person in front of it, in words, for every reason a decision can give: the table of
// docs/policies.md ("Reason codes and what the door panel says") as code, so that a reason added without words
// fails its test. The door is in a public place: nothing here says why a card is blocked or names anyone; the only
// facts it adds are the branch's own (its hours, its minimum age, a booking's label) and a retry time.
import { isKnown } from './contract/common.js';
import { modeAt, toLocalIso } from './schedule.js';
import type { Policy } from './schema.js';
import { dayFromIso, MS_PER_DAY, weekdayOf } from './time.js';
import { GRANT_REASONS, REFUSAL_REASONS } from './types.js';
import type { GrantReason, RefusalReason } from './types.js';

export type DoorTone = 'welcome' | 'refused' | 'prompt';

export interface DoorMessage {
  tone: DoorTone;
  title: string;
  detail?: string | undefined;
}

/**
 * The part of a decision the words depend on. `reason` is a string, not the union: a newer peer (or a newer
 * decide) may give one this version does not know, and the door must still say something.
 */
export interface DoorDecision {
  allow: boolean;
  reason: string;
  retryAfter?: Date | undefined;
  booking?: { label?: string | undefined } | undefined;
}

export interface DoorMessageContext {
  /** The branch's policy in force: its time zone, hours, minimum age. */
  policy: Policy;
  /** The instant of the decision; times are said in the policy's zone relative to it. */
  at: Date;
}

/** What the door says for a reason it does not know: nothing wrong, nothing promised. */
export const UNKNOWN_REASON_MESSAGE: DoorMessage = { tone: 'prompt', title: 'Please ask staff.' };

const WEEKDAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** `20:00` in the policy's zone. */
export function localTime(policy: Policy, instant: Date): string {
  return toLocalIso(policy, instant).slice(11, 16);
}

/**
 * `Tuesday 08:00`; a week or more away the weekday alone is ambiguous (a Christmas closure), so with the date:
 * `Monday 4 January 08:00`.
 */
export function localDayAndTime(policy: Policy, instant: Date, from: Date): string {
  const local = toLocalIso(policy, instant);
  const day = dayFromIso(local.slice(0, 10))!;
  const weekday = WEEKDAY_NAMES[weekdayOf(day)]!;
  const time = local.slice(11, 16);
  if (instant.getTime() - from.getTime() < 6 * MS_PER_DAY) return `${weekday} ${time}`;
  return `${weekday} ${Number(local.slice(8, 10))} ${MONTH_NAMES[Number(local.slice(5, 7)) - 1]!} ${time}`;
}

/** `25 seconds`, `1 second`; from two minutes on, in whole minutes rounded up. */
export function waitWords(from: Date, until: Date): string {
  const seconds = Math.max(1, Math.ceil((until.getTime() - from.getTime()) / 1000));
  if (seconds < 120) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

const UNAVAILABLE: DoorMessage = { tone: 'refused', title: 'Open access is unavailable just now.', detail: 'Please try again later.' };
const NOT_RECOGNISED: DoorMessage = { tone: 'refused', title: 'Card not recognised.', detail: 'Please ask staff or see the notice for help.' };

const GRANTS: Record<GrantReason, (decision: DoorDecision) => DoorMessage> = {
  staffed: () => ({ tone: 'welcome', title: 'Welcome' }),
  member: () => ({ tone: 'welcome', title: 'Welcome' }),
  staff: () => ({ tone: 'welcome', title: 'Welcome (staff)' }),
  booking: (d) => ({ tone: 'welcome', title: d.booking?.label === undefined ? 'Welcome' : `Welcome, ${d.booking.label}` }),
  exit: () => ({ tone: 'welcome', title: 'Goodbye' }),
  accompanied: () => ({ tone: 'welcome', title: 'Welcome' }),
};

const REFUSALS: Record<RefusalReason, (decision: DoorDecision, context: DoorMessageContext) => DoorMessage> = {
  'unknown-card': () => NOT_RECOGNISED,
  'not-registered': () => ({ tone: 'refused', title: 'Your card is not set up for open access.', detail: 'Ask staff to register you.' }),
  expired: () => ({ tone: 'refused', title: 'Your membership has expired.', detail: 'Renew online or at the counter.' }),
  // Never why: fines, a debarment and a local block read the same to whoever stands behind.
  blocked: () => ({ tone: 'refused', title: "This card can't be used for entry.", detail: 'Please contact the library.' }),
  'under-age': (_d, { policy }) => {
    const age = policy.rules.minimumAge;
    return { tone: 'refused', title: age === null ? 'Open access is not available for this card.' : `Open access is for members aged ${age} and over.` };
  },
  closed: (_d, { policy, at }) => {
    const until = modeAt(policy, at).until;
    return { tone: 'refused', title: 'The library is closed.', detail: until === null ? undefined : `Open again ${localDayAndTime(policy, until, at)}.` };
  },
  changeover: (_d, { policy, at }) => {
    const until = modeAt(policy, at).until;
    return { tone: 'refused', title: 'Getting ready for open access.', detail: until === null ? 'Please try again later.' : `Please try again at ${localTime(policy, until)}.` };
  },
  'last-entry-passed': (_d, { policy, at }) => {
    const closes = modeAt(policy, at).until;
    if (closes === null) return { tone: 'refused', title: 'Last entry has passed.' };
    const lastEntry = new Date(closes.getTime() - policy.rules.lastEntryMinutes * 60_000);
    return { tone: 'refused', title: `Last entry was ${localTime(policy, lastEntry)}.`, detail: `The library closes at ${localTime(policy, closes)}.` };
  },
  full: () => ({ tone: 'refused', title: 'The library is full.', detail: 'Please try again in a few minutes.' }),
  lockdown: () => ({ tone: 'refused', title: 'The library is closed for safety.', detail: 'Please do not enter.' }),
  emergency: () => ({ tone: 'refused', title: 'Emergency.', detail: 'Do not enter the building.' }),
  'clock-untrusted': () => UNAVAILABLE,
  'member-list-stale': () => UNAVAILABLE,
  'pin-required': () => ({ tone: 'prompt', title: 'Enter your PIN.' }),
  // A retry time on a wrong PIN means this one locked the card (decide.ts).
  'pin-wrong': (d, { at }) =>
    d.retryAfter === undefined ? { tone: 'refused', title: 'Wrong PIN.', detail: 'Try again.' } : lockedOut(d.retryAfter, at),
  'pin-locked': (d, { at }) => (d.retryAfter === undefined ? { tone: 'refused', title: 'Too many wrong PINs.', detail: 'Try again later.' } : lockedOut(d.retryAfter, at)),
  'pin-check-unavailable': () => ({ tone: 'refused', title: 'PINs cannot be checked just now.', detail: 'Please try later or ask staff.' }),
  // Nothing to tell someone trying cards that the plain unknown card does not.
  'unknown-card-burst': () => NOT_RECOGNISED,
  'bad-token': () => ({ tone: 'refused', title: "This pass can't be read.", detail: 'Please show a new one or ask staff.' }),
  'token-expired': () => ({ tone: 'refused', title: 'This pass has expired.', detail: 'Please show a new one.' }),
  'token-other-site': () => ({ tone: 'refused', title: 'This pass is for another library.', detail: 'Please show one for this library.' }),
  'token-replayed': () => ({ tone: 'refused', title: 'This pass has been used already.', detail: 'Please show a new one.' }),
};

function lockedOut(retryAfter: Date, at: Date): DoorMessage {
  return { tone: 'refused', title: 'Too many wrong PINs.', detail: `Try again in ${waitWords(at, retryAfter)}.` };
}

/** The words for a decision at the door. A grant the door does not know still opened it: it says Welcome. */
export function doorMessage(decision: DoorDecision, context: DoorMessageContext): DoorMessage {
  if (decision.allow) return isKnown(GRANT_REASONS, decision.reason) ? GRANTS[decision.reason](decision) : { tone: 'welcome', title: 'Welcome' };
  return isKnown(REFUSAL_REASONS, decision.reason) ? REFUSALS[decision.reason](decision, context) : UNKNOWN_REASON_MESSAGE;
}

/** The whole message as one line, as the doc's table writes it: `Your membership has expired. Renew online…`. */
export function doorMessageText(message: DoorMessage): string {
  return message.detail === undefined ? message.title : `${message.title} ${message.detail}`;
}

const MODE_WORDS: Record<string, string> = {
  staffed: 'Staffed',
  'open-access': 'Open access',
  changeover: 'Changeover',
  closed: 'Closed',
  lockdown: 'Closed for safety',
  emergency: 'Emergency',
};

export interface ModeMessage {
  /** `Open access` */
  words: string;
  /** `until 20:00`, `until Tuesday 08:00`: absent when nothing is known or the mode is commanded (lockdown). */
  next?: string | undefined;
}

/**
 * The branch's mode and when it next changes, as the door screen's heading says it: `Open access until 20:00`.
 * `until` is the schedule's next change; a lockdown or an emergency ends when someone ends it, so has none.
 */
export function modeMessage(mode: string, until: Date | null, context: DoorMessageContext): ModeMessage {
  const words = MODE_WORDS[mode] ?? 'Please ask staff';
  if (until === null || mode === 'lockdown' || mode === 'emergency' || !(mode in MODE_WORDS)) return { words };
  const { policy, at } = context;
  const sameDay = toLocalIso(policy, until).slice(0, 10) === toLocalIso(policy, at).slice(0, 10);
  return { words, next: `until ${sameDay ? localTime(policy, until) : localDayAndTime(policy, until, at)}` };
}
