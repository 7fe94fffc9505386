// Words for staff: why a card was let in or refused, what a staff action was. Shared by the log, the CSV and the
// member lookup, so each reason reads the same wherever it appears.
import type { GrantReason, RefusalReason } from '../../policies/index.js';

export const REASON_TEXT: Record<RefusalReason | GrantReason, string> = {
  'unknown-card': 'card not on this branch’s member list (not a member here, or not registered for open access: registration is at the desk)',
  'not-registered': 'not registered for open access (induction, terms or PIN not done)',
  expired: 'membership expired',
  blocked: 'card blocked',
  'under-age': 'under the minimum age for unstaffed entry',
  closed: 'branch closed (and no group booking for this card)',
  changeover: 'changeover: only staff may enter while the building is checked',
  'last-entry-passed': 'last entry has passed: too close to closing',
  full: 'building full',
  lockdown: 'lockdown is on',
  emergency: 'emergency: fire alarm active or not yet reset',
  'clock-untrusted': 'the gateway’s clock is not synchronised',
  'member-list-stale': 'the member list has not been updated for too long',
  'pin-required': 'needs the PIN on the keypad',
  'pin-wrong': 'wrong PIN',
  'pin-locked': 'too many wrong PINs: locked for a while',
  'pin-check-unavailable': 'the library system checks PINs and could not be reached',
  'unknown-card-burst': 'card not on the member list, in a burst of unknown cards at this reader (library system not asked)',
  'bad-token': 'phone pass (QR) not valid: not signed by central, or damaged',
  'token-expired': 'phone pass (QR) expired: show a new one',
  'token-other-site': 'phone pass (QR) issued for another branch',
  'token-replayed': 'phone pass (QR) already used here: each one opens the door once',
  staffed: 'staffed hours: free entry',
  member: 'member, open access',
  staff: 'staff card',
  booking: 'group booking',
  exit: 'leaving',
  accompanied: 'under the minimum age, with an adult let in at the same door just before',
};

export function reasonText(reason: string): string {
  return (REASON_TEXT as Record<string, string>)[reason] ?? reason;
}

export const MODE_TEXT: Record<string, string> = {
  staffed: 'Staffed',
  'open-access': 'Open access',
  changeover: 'Changeover',
  closed: 'Closed',
  lockdown: 'Lockdown',
  emergency: 'Emergency',
};

const ACTION_TEXT: Record<string, string> = {
  unlock: 'unlocked the door once',
  lock: 'locked the door',
  'lockdown-on': 'turned lockdown on',
  'lockdown-off': 'turned lockdown off',
  'lights-on': 'turned the lights on',
  'lights-off': 'turned the lights off',
  'reset-occupancy': 'reset the count of people inside',
  'reset-alarms': 'acknowledged the alarms',
  announce: 'made an announcement',
  resync: 'asked for a resync',
  'schedule-edit': 'saved a new schedule',
  login: 'signed in to the console',
  logout: 'signed out of the console',
  'login-failed': 'failed to sign in',
  'password-change': 'changed their password',
  'user-add': 'added the account',
  'user-remove': 'removed the account',
  'user-role': 'changed the role of',
  'user-password': 'set a new password for',
  'member-lookup': 'looked up the card',
};

/** `user-role:ann:manager` → "changed the role of ann to manager". */
export function actionText(action: string): string {
  const [verb = action, subject, extra] = action.split(':');
  const base = ACTION_TEXT[verb] ?? verb;
  if (subject === undefined) return base;
  return extra === undefined ? `${base} ${subject}` : `${base} ${subject} to ${extra}`;
}
