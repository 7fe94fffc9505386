// Who may come in now, and if not, why. Pure and synchronous: it runs between the tap and the relay.
// The order of the checks is part of the contract (docs/policies.md): the first that fails is the reason.
import { ADULT_AGE, meetsMinimumAge } from './age.js';
import { bookingOpensDoor } from './branch-names.js';
import { compilePolicy, type BookingOccurrence, type CompiledPolicy, type Span } from './compile.js';
import { verifyPin } from './pin.js';
import type { Policy, Rules } from './schema.js';
import type { ActiveBooking, BranchMode, Decision, DecisionContext, GrantReason, Member, RefusalReason } from './types.js';

function refuse(reason: RefusalReason, mode: BranchMode, retryAfter?: Date): Decision {
  return retryAfter === undefined ? { allow: false, reason, mode } : { allow: false, reason, mode, retryAfter };
}

function grant(reason: GrantReason, mode: BranchMode, booking?: ActiveBooking): Decision {
  return booking === undefined ? { allow: true, reason, mode } : { allow: true, reason, mode, booking };
}

/**
 * Decide one tap. Order:
 * emergency → lockdown → unknown card →
 * staff card: blocked → expired → (closed, the intruder alarm set, `staff-card-and-pin`: PIN) → `staff`;
 * staffed mode: `staffed`, unless the clock is untrusted and the rule denies: blocked → expired → `clock-untrusted`;
 * blocked → expired → by mode:
 * closed: active booking for one of the member's groups that opens the door tapped at (else `closed`) →
 *   registration if bookings need it →
 *   age (booking's own minimum if set) → clock trust → stale list → capacity → PIN if rules.pin is `always`;
 * changeover: `changeover`;
 * open access: registration → age → clock trust → stale list → last entry → capacity → PIN.
 * Under age with rule accompaniedMinors and an adult's grant at this door within its seconds, the age check passes,
 * the rest still apply, and the grant is `accompanied`.
 */
export function decide(policy: Policy, member: Member | undefined, ctx: DecisionContext): Decision {
  if (ctx.emergency) return refuse('emergency', 'emergency');
  if (ctx.lockdown) return refuse('lockdown', 'lockdown');
  const c = compilePolicy(policy);
  const at = ctx.at.getTime();
  const span = c.spanAt(at);
  const mode = span.mode;
  if (member === undefined) return refuse('unknown-card', mode);
  const rules = c.rules;
  const today = c.localDate(at);
  // A staff card is still a card: one reported lost (blocked) or belonging to someone who has left (expired) must
  // not open the door at night, so staff skip the member rules but never these two.
  if (member.staff && rules.staffAllowed) return cardRefusal(member, today, mode) ?? decideStaff(policy, c, member, ctx, at, mode);
  if (mode === 'staffed') {
    // With the clock untrusted the schedule may be wrong about staff being here, and the gateway keeps the door
    // secure: a member's card is then judged as in unstaffed hours, so a blocked card is told so, not "try later".
    if (!ctx.clockTrusted && rules.clockUntrusted === 'deny') return cardRefusal(member, today, mode) ?? refuse('clock-untrusted', mode);
    return grant('staffed', mode);
  }

  const refusal = cardRefusal(member, today, mode);
  if (refusal) return refusal;

  if (mode === 'closed') return decideBooking(c, member, ctx, at, today);
  if (mode === 'changeover') return refuse('changeover', mode);
  return decideOpenAccess(c, span, member, ctx, at, today);
}

/**
 * A staff card in good standing. With the intruder alarm set in closed hours and the policy's
 * `unsetInClosedHours: staff-card-and-pin`, the card alone is not enough: its PIN unsets the panel, and a card
 * whoever found it could otherwise walk into a building the alarm is guarding.
 */
function decideStaff(policy: Policy, c: CompiledPolicy, member: Member, ctx: DecisionContext, at: number, mode: BranchMode): Decision {
  if (mode !== 'closed' || ctx.intruderAlarmSet !== true || policy.intruderAlarm?.unsetInClosedHours !== 'staff-card-and-pin') return grant('staff', mode);
  const pinRefusal = checkPin(c, member, ctx, at, mode);
  if (pinRefusal) return pinRefusal;
  return { allow: true, reason: 'staff', mode, withPin: true };
}

/** The card's own standing, whoever holds it: blocked (until the end of `blockedUntil`), then expired. */
function cardRefusal(member: Member, today: string, mode: BranchMode): Decision | undefined {
  if (member.blocked && (member.blockedUntil === null || member.blockedUntil >= today)) return refuse('blocked', mode);
  if (member.expires !== null && member.expires < today) return refuse('expired', mode);
  return undefined;
}

function decideOpenAccess(c: CompiledPolicy, span: Span, member: Member, ctx: DecisionContext, at: number, today: string): Decision {
  const rules = c.rules;
  const mode = span.mode;
  if (rules.requireOpenAccessRegistration && !member.openAccess) return refuse('not-registered', mode);
  let granted: GrantReason = 'member';
  if (!meetsMinimumAge(member, rules.minimumAge, today)) {
    if (!accompanied(rules, ctx)) return refuse('under-age', mode);
    granted = 'accompanied';
  }
  if (!ctx.clockTrusted && rules.clockUntrusted === 'deny') return refuse('clock-untrusted', mode);
  if (ctx.memberListStale === true && rules.staleMemberList === 'deny') return refuse('member-list-stale', mode);
  // Last entry guards the end of opening; open access that hands over to staff needs no cutoff.
  if (rules.lastEntryMinutes > 0 && span.until !== null && span.next === 'closed' && at >= span.until - rules.lastEntryMinutes * 60_000) {
    return refuse('last-entry-passed', mode);
  }
  if (rules.capacity !== null && ctx.occupancy >= rules.capacity) return refuse('full', mode);
  if (rules.pin !== 'never') {
    const pinRefusal = checkPin(c, member, ctx, at, mode);
    if (pinRefusal) return pinRefusal;
  }
  return grant(granted, mode);
}

function decideBooking(c: CompiledPolicy, member: Member, ctx: DecisionContext, at: number, today: string): Decision {
  const rules = c.rules;
  const mode = 'closed';
  let booking: BookingOccurrence | undefined;
  if (member.groups.length > 0) {
    for (const b of c.bookingsAt(at)) {
      // A booking for another door is no booking here: the tap is decided as if there were none.
      if (member.groups.includes(b.group) && bookingOpensDoor(b, ctx.door)) {
        booking = b;
        break;
      }
    }
  }
  if (booking === undefined) return refuse('closed', mode);
  if (rules.bookingsNeedRegistration && !member.openAccess) return refuse('not-registered', mode);
  const minimumAge = booking.minimumAge === undefined ? rules.minimumAge : booking.minimumAge;
  let granted: GrantReason = 'booking';
  if (!meetsMinimumAge(member, minimumAge, today)) {
    if (!accompanied(rules, ctx)) return refuse('under-age', mode);
    granted = 'accompanied';
  }
  if (!ctx.clockTrusted && rules.clockUntrusted === 'deny') return refuse('clock-untrusted', mode);
  if (ctx.memberListStale === true && rules.staleMemberList === 'deny') return refuse('member-list-stale', mode);
  if (rules.capacity !== null && ctx.occupancy >= rules.capacity) return refuse('full', mode);
  if (rules.pin === 'always') {
    const pinRefusal = checkPin(c, member, ctx, at, mode);
    if (pinRefusal) return pinRefusal;
  }
  const pub: ActiveBooking = { group: booking.group, from: new Date(booking.fromMs), to: new Date(booking.toMs) };
  if (booking.label !== undefined) pub.label = booking.label;
  return grant(granted, mode, pub);
}

/** Rule accompaniedMinors: an adult was let in at this door no longer than its seconds ago. */
function accompanied(rules: Rules, ctx: DecisionContext): boolean {
  const rule = rules.accompaniedMinors;
  const since = ctx.adultGrantedMsAgo;
  if (rule === undefined || since === undefined || since === null) return false;
  // A negative age is a clock stepped back since the adult's grant: nothing to say they are still at the door.
  return since >= 0 && since <= rule.seconds * 1000;
}

/** Grants a person gets by their own right; `accompanied` is not one, so a child cannot bring in the next child. */
const OWN_RIGHT_GRANTS: ReadonlySet<GrantReason> = new Set(['member', 'booking', 'staff']);

/**
 * Whether this decision lets an adult in, so that rule accompaniedMinors' seconds start at the door: a grant by their
 * own right to someone of adult age (18, or the rules' minimum age if higher) on the day, by birth date or adult flag.
 * A staff card whose age is not held does not count: the list cannot say it is an adult's.
 */
export function isAdultGrant(policy: Policy, member: Member | undefined, decision: Decision, at: Date): boolean {
  if (!decision.allow || member === undefined || !OWN_RIGHT_GRANTS.has(decision.reason)) return false;
  const c = compilePolicy(policy);
  return meetsMinimumAge(member, Math.max(ADULT_AGE, c.rules.minimumAge ?? 0), c.localDate(at.getTime()));
}

/**
 * Lockout first (a locked card is not asked for a PIN it may not try), then a missing PIN, then the PIN itself.
 * A member with no PIN set cannot pass a PIN rule: their open-access registration is not complete.
 */
function checkPin(c: CompiledPolicy, member: Member, ctx: DecisionContext, at: number, mode: BranchMode): Decision | undefined {
  const rules = c.rules;
  const lockoutMs = rules.pinLockoutSeconds * 1000;
  const failures = ctx.pinFailures ?? 0;
  if (failures >= rules.pinMaxAttempts && lockoutMs > 0) {
    const lockedUntil = (ctx.lastPinFailureAt?.getTime() ?? at) + lockoutMs;
    if (at < lockedUntil) return refuse('pin-locked', mode, new Date(lockedUntil));
  }
  // With the library system checking PINs (rules.pinSource sip2) the branch holds none: the caller's verdict decides.
  const fromList = rules.pinSource !== 'sip2';
  if (fromList && member.pinHash === null) return refuse('not-registered', mode);
  if (ctx.pin === undefined || ctx.pin === '') return refuse('pin-required', mode);
  if (!(ctx.pinOk ?? (fromList && member.pinHash !== null && verifyPin(member.pinHash, ctx.pin)))) {
    // This failure is the one that locks the card: say when it may try again.
    return failures + 1 >= rules.pinMaxAttempts && lockoutMs > 0
      ? refuse('pin-wrong', mode, new Date(at + lockoutMs))
      : refuse('pin-wrong', mode);
  }
  return undefined;
}
