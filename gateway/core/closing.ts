// The building around open access: lights on when it starts (or at the first entry), warnings before it ends
// (flash the lights, sound the sounder), and at the close lights left on until the building is empty: a count of 0
// that was counted (or, where a PIR is fitted, any count of 0) and no motion for the policy's quiet minutes.
import { activeBookings, modeAt } from '../../policies/index.js';
import { occupancyRules } from '../../policies/schema.js';
import type { Policy, ScheduleMode } from '../../policies/index.js';
import type { Alarms } from './alarms.js';
import type { EventBus } from './bus.js';
import type { Clock, Timer } from './clock.js';
import type { EventLog } from './event-log.js';
import type { Feedback } from './feedback.js';
import type { Lights } from './lights.js';
import type { Motion } from './motion.js';
import type { Occupancy } from './occupancy.js';

export interface ClosingOptions {
  policy: () => Policy;
  clock: Clock;
  bus: EventBus;
  events: EventLog;
  alarms: Alarms;
  lights: Lights;
  feedback: Feedback;
  occupancy: Occupancy;
  motion: Motion;
  lightsOnAt: 'open-access-start' | 'first-entry';
  /** A fire alarm is on or latched: the door is released and people must leave by the fire routes, not be told to go. */
  emergency: () => boolean;
}

const SOUNDER_WARNING_MS = 1500;

export class ClosingSequence {
  private warningTimers: Timer[] = [];
  private quietTimer: Timer | undefined;
  /** Motion until then is people leaving (after the close, or after staff confirmed the building empty). */
  private leavingUntil = 0;
  /** Staff said the building is empty: motion while they leave does not put the lights back on. */
  private confirmed = false;
  private mode: ScheduleMode | undefined;
  /** The end of the group booking the building is in use for while closed: then it closes as at the schedule's close. */
  private bookingEndTimer: Timer | undefined;
  private bookingEndsAt = 0;
  private bookingWarningTimers: Timer[] = [];
  /** Closed and empty, as last told on the bus. */
  private emptyTold = false;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly options: ClosingOptions) {}

  start(): void {
    const { bus } = this.options;
    const onMode = ({ from, to, until }: { from: ScheduleMode | null; to: ScheduleMode; until: Date | null }): void =>
      this.onScheduleMode(from, to, until);
    const onOccupancy = (inside: number): void => this.onOccupancy(inside);
    const onMotion = (): void => this.onMotion();
    bus.on('schedule-mode', onMode);
    bus.on('occupancy-changed', onOccupancy);
    bus.on('motion', onMotion);
    this.unsubscribe.push(
      () => bus.off('schedule-mode', onMode),
      () => bus.off('occupancy-changed', onOccupancy),
      () => bus.off('motion', onMotion),
    );
  }

  /**
   * Staff confirm the building is empty after a sweep: the lights may go off. After the close it is also the count
   * they saw, 0 and counted again, or an estimate would raise the alarm again at every close until someone reset it.
   */
  confirmEmpty(actor: string): void {
    this.options.alarms.clear('people-inside-after-close', 'confirmed empty by staff');
    if (!this.isShut()) return;
    const { occupancy } = this.options;
    if (occupancy.inside > 0 || occupancy.confidence === 'estimated') occupancy.reset(actor);
    this.confirmed = true;
    this.leavingUntil = this.options.clock.now().getTime() + this.quietMs();
    this.options.lights.set(false);
    // Those who swept the building are still in it: empty once the motion sensors have been quiet, as at any close.
    if (this.empty()) this.tellEmpty(true);
    else this.armQuietTimer();
  }

  stop(): void {
    this.clearWarnings();
    this.stopQuietTimer();
    this.options.clock.clearTimeout(this.bookingEndTimer);
    this.clearBookingWarnings();
    for (const off of this.unsubscribe) off();
  }

  private onScheduleMode(from: ScheduleMode | null, to: ScheduleMode, until: Date | null): void {
    const { lights, occupancy, alarms } = this.options;
    this.mode = to;
    if (to !== 'closed') this.tellEmpty(false);
    this.clearWarnings();
    this.stopQuietTimer();
    if (to === 'staffed') {
      lights.set(true);
      alarms.clear('people-inside-after-close');
      // Only by the policy's choice: a count nobody swept is still the best figure there is, and zeroing it hid people.
      if (from !== null && from !== 'staffed' && occupancyRules(this.options.policy().rules).resetAtStaffedStart) occupancy.reset('schedule');
    } else if (to === 'open-access' || to === 'changeover') {
      alarms.clear('people-inside-after-close');
      if (this.options.lightsOnAt === 'open-access-start' || occupancy.inside > 0 || from === 'staffed') lights.set(true);
      // At start the lights are at their safe level (on by default), which says nothing about who is inside.
      else if (from === null) lights.set(false);
      if (to === 'open-access') this.scheduleWarnings(until);
    } else if (this.inBooking()) {
      // Closed, but a group has the building: it closes when their booking ends.
      if (occupancy.inside > 0) lights.set(true);
    } else {
      this.closeBuilding(from === null ? 'at start' : '');
    }
  }

  /** The schedule's close, or a booking's end while closed: who is still inside, the lights, and the alarm. */
  private closeBuilding(when: string): void {
    const { lights, alarms } = this.options;
    this.confirmed = false;
    this.leavingUntil = this.options.clock.now().getTime() + this.quietMs();
    // At start too: a gateway that was down across the close (or crashed in the closing sequence) comes back to
    // a count nobody has confirmed empty, and somebody must be told.
    if (!this.countSaysEmpty()) {
      lights.set(true);
      alarms.raise('people-inside-after-close', `${this.describeCount()}${when === '' ? '' : ` ${when}`}`);
    } else if (this.empty()) {
      lights.set(false);
      this.tellEmpty(true);
    } else {
      // Nobody counted, but someone moved a moment ago: leaving, most likely. The lights stay on until it is quiet.
      lights.set(true);
      this.armQuietTimer();
    }
  }

  private onOccupancy(inside: number): void {
    const { lights } = this.options;
    // Anyone let in is in the building, closed or not (staff before opening, a group's booking): never in the dark.
    if (inside > 0) lights.set(true);
    if (inside > 0) this.tellEmpty(false);
    if (!this.isShut()) return;
    if (this.inBooking()) return;
    this.checkEmpty();
  }

  /**
   * A group booking while the branch is closed: the building is in use, and neither its count nor its movement is
   * anyone left behind. Its end is a close of its own, timed once the booking is seen.
   */
  private inBooking(): boolean {
    const now = this.options.clock.now();
    const booking = activeBookings(this.options.policy(), now).sort((a, b) => b.to.getTime() - a.to.getTime())[0];
    if (booking === undefined) return false;
    if (booking.to.getTime() !== this.bookingEndsAt) {
      this.bookingEndsAt = booking.to.getTime();
      this.options.clock.clearTimeout(this.bookingEndTimer);
      this.bookingEndTimer = this.options.clock.setTimeout(() => this.onBookingEnd(), booking.to.getTime() - now.getTime());
      this.scheduleBookingWarnings(booking.to);
    }
    return true;
  }

  /** The group is told before its booking ends, at the closing warnings' minutes, as open access is before its close. */
  private scheduleBookingWarnings(end: Date): void {
    this.clearBookingWarnings();
    this.bookingWarningTimers = this.warningTimersBefore(end, (minutes) => {
      // Another booking may have taken over, the schedule opened, or a fire be telling everyone to leave.
      if (this.bookingEndsAt !== end.getTime() || !this.isShut() || this.options.emergency()) return;
      this.options.bus.emit('booking-ending', { minutes });
    });
  }

  /** A timer at each of the policy's warning minutes still ahead of `end`, each told its minutes. */
  private warningTimersBefore(end: Date, warn: (minutes: number) => void): Timer[] {
    const now = this.options.clock.now().getTime();
    const timers: Timer[] = [];
    for (const minutes of this.options.policy().closing.warningMinutes) {
      const delay = end.getTime() - minutes * 60_000 - now;
      if (delay >= 0) timers.push(this.options.clock.setTimeout(() => warn(minutes), delay));
    }
    return timers;
  }

  private clearBookingWarnings(): void {
    for (const timer of this.bookingWarningTimers) this.options.clock.clearTimeout(timer);
    this.bookingWarningTimers = [];
  }

  private onBookingEnd(): void {
    this.bookingEndTimer = undefined;
    this.bookingEndsAt = 0;
    // Another booking may follow on, or the schedule may have opened meanwhile: then nothing closes here.
    if (!this.isShut() || this.inBooking()) return;
    this.closeBuilding('at the end of the booking');
  }

  /** Movement after the close: someone is inside whatever the count says, once those leaving have had time to go. */
  private onMotion(): void {
    if (!this.isShut()) return;
    if (this.inBooking()) {
      this.options.lights.set(true);
      return;
    }
    const now = this.options.clock.now().getTime();
    this.tellEmpty(false);
    if (now >= this.leavingUntil) {
      this.confirmed = false;
      this.options.alarms.raise('people-inside-after-close', `motion seen after the close (${this.describeCount()})`);
    }
    if (!this.confirmed) this.options.lights.set(true);
    this.armQuietTimer();
  }

  private checkEmpty(): void {
    if (!this.empty()) return;
    this.options.alarms.clear('people-inside-after-close', 'building empty');
    this.options.lights.set(false);
    this.tellEmpty(true);
  }

  private tellEmpty(empty: boolean): void {
    if (empty === this.emptyTold) return;
    this.emptyTold = empty;
    this.options.bus.emit('building-empty', empty);
  }

  /** Closed and empty now, as last told on the bus. */
  get closedAndEmpty(): boolean {
    return this.emptyTold;
  }

  /** Empty: a count of 0 that can be believed, and no motion for the quiet minutes. */
  private empty(): boolean {
    return this.countSaysEmpty() && this.options.motion.quietFor(this.quietMs());
  }

  /** A count of 0 that was counted; an estimated 0 only where a PIR can confirm it. */
  private countSaysEmpty(): boolean {
    const { occupancy, motion } = this.options;
    return occupancy.inside === 0 && (occupancy.confidence === 'counted' || motion.fitted);
  }

  private describeCount(): string {
    const { inside, confidence } = this.options.occupancy;
    return confidence === 'estimated' ? `about ${inside} inside (estimated)` : `${inside} counted inside`;
  }

  private quietMs(): number {
    return occupancyRules(this.options.policy().rules).quietMinutes * 60_000;
  }

  /** Checks again once the quiet minutes have passed since the last motion. */
  private armQuietTimer(): void {
    this.stopQuietTimer();
    const last = this.options.motion.at;
    if (last === null) return;
    const delay = last.getTime() + this.quietMs() - this.options.clock.now().getTime();
    this.quietTimer = this.options.clock.setTimeout(() => {
      this.quietTimer = undefined;
      if (this.isShut()) this.checkEmpty();
    }, Math.max(0, delay));
  }

  private stopQuietTimer(): void {
    this.options.clock.clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
  }

  private isShut(): boolean {
    return this.mode === 'closed';
  }

  private scheduleWarnings(until: Date | null): void {
    if (until === null) return;
    const policy = this.options.policy();
    // Warn only when open access ends in a close; when staff take over, nobody has to leave.
    if (modeAt(policy, until).mode !== 'closed') return;
    this.warningTimers.push(...this.warningTimersBefore(until, (minutes) => this.warn(minutes)));
  }

  private warn(minutesLeft: number): void {
    // The fire alarm is already telling everyone to leave; a closing warning would only talk over it.
    if (this.options.emergency()) return;
    this.options.events.record('warning', { minutesLeft });
    this.options.bus.emit('closing-warning', { minutesLeft });
    this.options.lights.flash();
    this.options.feedback.pulse('sounder', SOUNDER_WARNING_MS);
  }

  private clearWarnings(): void {
    for (const timer of this.warningTimers) this.options.clock.clearTimeout(timer);
    this.warningTimers = [];
  }
}
