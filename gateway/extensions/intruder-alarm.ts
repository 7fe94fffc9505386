// The intruder alarm panel, as an extension: unset before staffed or open-access hours begin, set once the branch is
// closed and empty, each by a momentary contact into the panel's keyswitch zone, and confirmed by its status input.
// Never on the door's path: it acts on bus messages and its own timers, after any tap has been decided, and nothing
// waits for the panel. The status input is the truth: a change nobody here asked for was made at the panel's keypad,
// and is reported, never fought. Only wired where `hardware.intruderAlarm` is.
import type { Logger } from 'pino';
import type { IntruderAlarmHardware } from '../../firmware-bridge/types.js';
import { bookingsBetween, modeAt, upcoming } from '../../policies/index.js';
import type { BranchMode, Policy } from '../../policies/index.js';
import { MS_PER_DAY, MS_PER_MINUTE } from '../../policies/time.js';
import type { Alarms } from '../core/alarms.js';
import type { AccessOutcome, EventBus } from '../core/bus.js';
import type { Clock, Timer } from '../core/clock.js';
import type { EventLog } from '../core/event-log.js';
import { MAX_SLEEP_MS } from '../core/schedule.js';
import type { IntruderAlarmState } from '../core/state.js';
import type { Extension, ExtensionContext } from './extension.js';

const FAULT = 'intruder-alarm-fault';
/** How far ahead the next opening is looked for (a branch closed for a week's holiday still finds it). */
const LOOK_AHEAD_DAYS = 15;

type Action = 'set' | 'unset';

export interface IntruderAlarmDeps {
  panel: IntruderAlarmHardware;
  policy: () => Policy;
  clock: Clock;
  clockTrusted: () => boolean;
  /** The branch mode: `emergency` while the fire input holds, when the panel belongs to the building. */
  mode: () => BranchMode;
  /** Closed and empty, as the closing sequence last told (`building-empty`). */
  closedAndEmpty: () => boolean;
  events: Pick<EventLog, 'record'>;
  alarms: Pick<Alarms, 'raise' | 'clear' | 'has'>;
  setIntruderAlarm(state: IntruderAlarmState | undefined, quiet?: boolean): void;
}

interface Pending {
  action: Action;
  by: string;
  confirm: Timer;
}

/**
 * The next instant the building is opened after a closed span, within the look-ahead: staffed or open-access hours
 * begin, or a group booking begins in closed hours (the group must not walk into a set alarm).
 */
function nextOpening(policy: Policy, now: Date): Date | undefined {
  return nextOpeningOf(policy, now)?.at;
}

/** When the panel is unset ahead of an opening (epoch ms): the policy's `unsetMinutesBefore` it. */
function unsetTime(opening: Date, rules: NonNullable<Policy['intruderAlarm']>): number {
  return opening.getTime() - rules.unsetMinutesBefore * MS_PER_MINUTE;
}

function nextOpeningOf(policy: Policy, now: Date): { at: Date; what: string } | undefined {
  const hours = upcoming(policy, now, LOOK_AHEAD_DAYS).find((t) => t.from === 'closed' && t.to !== 'closed');
  const end = hours?.at ?? new Date(now.getTime() + LOOK_AHEAD_DAYS * MS_PER_DAY);
  const booking = bookingsBetween(policy, now, end).find((b) => b.from > now && b.from < end && modeAt(policy, b.from).mode === 'closed');
  if (booking !== undefined) return { at: booking.from, what: `the booking of ${booking.label ?? booking.group}` };
  return hours === undefined ? undefined : { at: hours.at, what: hours.to === 'staffed' ? 'staffed hours' : 'open access' };
}

export class IntruderAlarmExtension implements Extension {
  readonly name = 'intruder-alarm';
  private context: ExtensionContext | undefined;
  private state: IntruderAlarmState = { state: 'unset', since: null };
  private pending: Pending | undefined;
  private pulse: { output: IntruderAlarmHardware['set']; timer: Timer } | undefined;
  private planTimer: Timer | undefined;
  /** The opening (epoch ms) whose unset has been done or passed over, so that it is done once. */
  private unsetFor: number | undefined;
  /** The opening whose unset the untrusted clock held back, told once. */
  private clockHeldFor: number | undefined;
  private policyTold: number | undefined;
  private readonly onStatus = (active: boolean): void => this.statusChanged(active);

  constructor(private readonly deps: IntruderAlarmDeps) {}

  start(context: ExtensionContext): void {
    this.context = context;
    const { panel } = this.deps;
    // The status input is the truth after a restart, and nothing is pulsed at start: a panel set or unset while the
    // gateway was down was set or unset by someone, and a contact now would fight them.
    this.state = { state: panel.status.active ? 'set' : 'unset', since: null };
    this.pending = undefined;
    this.unsetFor = undefined;
    panel.status.on('change', this.onStatus);
    context.on('building-empty', (empty) => {
      this.publish();
      if (empty) this.setWhenEmpty();
    });
    context.on('branch-mode', (mode) => {
      if (mode === 'emergency') this.emergency();
      this.publish();
    });
    context.on('access', (outcome) => this.staffWithPin(outcome));
    context.on('policy-applied', () => {
      this.tellPolicy();
      this.plan(false);
    });
    this.tellPolicy();
    this.atStart(context.logger);
    this.plan(true);
    this.publish();
  }

  stop(): void {
    this.deps.panel.status.off('change', this.onStatus);
    this.deps.clock.clearTimeout(this.planTimer);
    this.planTimer = undefined;
    this.dropPending();
    this.endPulse();
    this.context = undefined;
    this.deps.setIntruderAlarm(undefined, true);
  }

  /** What the panel reads at start, said where it needs a person: set in opening hours, unset while closed and empty. */
  private atStart(logger: Logger): void {
    const scheduleMode = this.deps.mode();
    if (this.state.state === 'set' && (scheduleMode === 'open-access' || scheduleMode === 'staffed' || scheduleMode === 'changeover')) {
      this.deps.alarms.raise(FAULT, 'the intruder alarm is set in opening hours (read at start): the branch does not unset it at a restart; unset it at the panel’s keypad');
    } else if (this.state.state === 'unset' && this.deps.closedAndEmpty() && this.deps.policy().intruderAlarm?.setWhenEmpty === true) {
      logger.warn('the intruder alarm reads unset while the branch is closed and empty: it is not set at a restart; set it at the panel, or it sets at the next close');
    }
  }

  /** Said once per policy version: a policy without an intruderAlarm section leaves the panel to its keypad. */
  private tellPolicy(): void {
    const policy = this.deps.policy();
    if (this.policyTold === policy.version) return;
    this.policyTold = policy.version;
    if (policy.intruderAlarm === undefined) {
      this.context?.logger.info({ policyVersion: policy.version }, 'the policy has no intruderAlarm section: the panel is reported, never set or unset by the branch');
    }
  }

  /**
   * A staff card and its PIN in closed hours while the panel is set (`unsetInClosedHours: staff-card-and-pin`: the
   * decision asked for the PIN and marks the grant `withPin`): the one thing of the branch's that unsets it then.
   * The door has opened already; the unset follows it, as the panel's entry time allows.
   */
  private staffWithPin(outcome: AccessOutcome): void {
    const { decision } = outcome;
    if (!decision.allow || decision.withPin !== true || this.deps.mode() === 'emergency') return;
    if (!this.deps.panel.status.active && this.pending?.action !== 'set') return;
    this.request('unset', `staff card and PIN (${outcome.person ?? 'staff'})`);
  }

  /** The next scheduled unset: done when its time has come, then sleep until it (at most a minute). */
  private plan(initial: boolean): void {
    this.deps.clock.clearTimeout(this.planTimer);
    this.planTimer = undefined;
    if (this.context === undefined) return;
    const policy = this.deps.policy();
    const rules = policy.intruderAlarm;
    let waitMs = MAX_SLEEP_MS;
    const now = this.deps.clock.now().getTime();
    const opening = rules === undefined ? undefined : nextOpening(policy, new Date(now));
    if (rules !== undefined && opening !== undefined) {
      const unsetAt = unsetTime(opening, rules);
      if (now < unsetAt) waitMs = Math.min(waitMs, unsetAt - now);
      // At start the unset time already passed is not caught up: nothing is pulsed at start.
      else if (initial) this.unsetFor = opening.getTime();
      else if (this.unsetFor !== opening.getTime()) this.scheduledUnset(opening);
    }
    this.planTimer = this.deps.clock.setTimeout(() => this.plan(false), waitMs);
  }

  private scheduledUnset(opening: Date): void {
    const logger = this.context?.logger;
    const key = opening.getTime();
    if (this.deps.mode() === 'emergency') {
      // The panel belongs to the building during a fire: whoever resets the fire alarm deals with it.
      this.unsetFor = key;
      logger?.warn('the fire emergency holds: the intruder alarm is not unset before opening');
      return;
    }
    if (!this.deps.clockTrusted()) {
      // A clock jumped forward must not unset the alarm at 3 am. Not marked done: caught up if the clock is believed
      // again before the opening.
      if (this.deps.panel.status.active && this.clockHeldFor !== key) {
        this.clockHeldFor = key;
        const message = 'the clock is not trusted, so the branch did not unset the intruder alarm before opening: it stays set; unset it at the panel’s keypad';
        logger?.warn(message);
        this.deps.alarms.raise(FAULT, message);
      }
      return;
    }
    this.unsetFor = key;
    if (!this.deps.panel.status.active && this.pending === undefined) return;
    this.request('unset', `before ${nextOpeningOf(this.deps.policy(), new Date(opening.getTime() - 1))?.what ?? 'opening'}`);
  }

  private setWhenEmpty(): void {
    const policy = this.deps.policy();
    const rules = policy.intruderAlarm;
    if (rules === undefined || !rules.setWhenEmpty) return;
    if (this.deps.mode() !== 'closed' || !this.deps.closedAndEmpty()) return;
    if (this.deps.panel.status.active || this.pending !== undefined) return;
    // Empty in the minutes before an opening (staff leaving early): setting it now would greet the first visitors.
    const opening = nextOpening(policy, this.deps.clock.now());
    if (opening !== undefined && this.deps.clock.now().getTime() >= unsetTime(opening, rules)) return;
    this.request('set', 'empty after close');
  }

  /** A pulse on the set or unset contact, then wait for the status input to say it happened. */
  private request(action: Action, by: string): void {
    const { panel, clock } = this.deps;
    const rules = this.deps.policy().intruderAlarm;
    this.dropPending();
    this.endPulse();
    const confirmMs = (rules?.confirmSeconds ?? 60) * 1000;
    this.pending = { action, by, confirm: clock.setTimeout(() => this.unconfirmed(), confirmMs) };
    this.state = { state: action === 'set' ? 'setting' : 'unsetting', since: clock.now().toISOString() };
    this.deps.events.record('intruder-alarm', { action, outcome: 'requested', by });
    this.context?.logger.info({ action, by }, `asked the intruder alarm to ${action} (${by})`);
    const output = action === 'set' ? panel.set : panel.unset;
    output.set(true);
    this.pulse = { output, timer: clock.setTimeout(() => this.endPulse(), panel.pulseMs) };
    this.publish();
  }

  private statusChanged(active: boolean): void {
    const level: Action = active ? 'set' : 'unset';
    const pending = this.pending;
    const since = this.deps.clock.now().toISOString();
    if (pending?.action === level) {
      this.dropPending();
      this.state = { state: level, since };
      this.deps.events.record('intruder-alarm', { action: level, outcome: 'confirmed', by: pending.by });
      this.deps.alarms.clear(FAULT, `${level} confirmed by the panel`);
      this.publish();
      return;
    }
    // Someone at the panel's keypad (or the panel itself): reported, and it is theirs; nothing here undoes it.
    this.deps.events.record('intruder-alarm', { action: level, outcome: 'at-panel', by: 'panel' });
    this.context?.logger.info(`the intruder alarm was ${level} at the panel`);
    if (this.deps.alarms.has(FAULT)) this.deps.alarms.clear(FAULT, `${level} at the panel`);
    if (pending === undefined) this.state = { state: level, since };
    this.publish();
  }

  private unconfirmed(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    const rules = this.deps.policy().intruderAlarm;
    const seconds = rules?.confirmSeconds ?? 60;
    this.state = { state: this.deps.panel.status.active ? 'set' : 'unset', since: this.state.since };
    this.deps.events.record('intruder-alarm', { action: pending.action, outcome: 'failed', by: pending.by });
    const message =
      pending.action === 'set'
        ? `the intruder alarm did not set ${seconds} s after the branch asked: a zone may be open; check the panel`
        : `the intruder alarm did not unset ${seconds} s after the branch asked: unset it at the panel’s keypad before people come in`;
    this.context?.logger.warn(message);
    this.deps.alarms.raise(FAULT, message);
    this.publish();
  }

  /** The fire: a set or unset on its way is let go, and every change from now is the panel's own. */
  private emergency(): void {
    if (this.pending === undefined) return;
    this.context?.logger.warn(`the fire emergency: the intruder alarm's ${this.pending.action} is no longer followed; the panel belongs to the building`);
    this.dropPending();
    this.endPulse();
    this.state = { state: this.deps.panel.status.active ? 'set' : 'unset', since: this.deps.clock.now().toISOString() };
  }

  private dropPending(): void {
    if (this.pending !== undefined) this.deps.clock.clearTimeout(this.pending.confirm);
    this.pending = undefined;
  }

  private endPulse(): void {
    if (this.pulse === undefined) return;
    this.deps.clock.clearTimeout(this.pulse.timer);
    this.pulse.output.set(false);
    this.pulse = undefined;
  }

  private publish(): void {
    if (this.context !== undefined) this.deps.setIntruderAlarm(this.state);
  }
}

/**
 * A policy with an `intruderAlarm` section at a branch with no panel wired: a warning, once per version, not a
 * refusal. Unlike an unknown output it switches nothing that is not there and harms nothing, so the rest of the policy
 * is not held back for it; but whoever wrote it should know that this branch is not secured by it.
 */
export function warnIntruderAlarmWithoutPanel(bus: EventBus, policy: () => Policy, logger: Logger): void {
  let told: number | undefined;
  const check = (): void => {
    const current = policy();
    if (current.intruderAlarm === undefined || told === current.version) return;
    told = current.version;
    logger.warn({ policyVersion: current.version }, 'policy intruderAlarm: this gateway has no hardware.intruderAlarm wired, so the section does nothing here');
  };
  check();
  bus.on('policy-applied', check);
}
