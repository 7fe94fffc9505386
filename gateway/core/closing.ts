// The building around open access: lights on when it starts (or at the first entry), warnings before it ends
// (flash the lights, sound the sounder), and at the close lights left on while anyone is counted inside.
import { modeAt } from '../../policies/index.js';
import type { Policy, ScheduleMode } from '../../policies/index.js';
import type { Alarms } from './alarms.js';
import type { EventBus } from './bus.js';
import type { Clock, Timer } from './clock.js';
import type { EventLog } from './event-log.js';
import type { Feedback } from './feedback.js';
import type { Lights } from './lights.js';
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
  lightsOnAt: 'open-access-start' | 'first-entry';
  /** A fire alarm is on or latched: the door is released and people must leave by the fire routes, not be told to go. */
  emergency: () => boolean;
}

const SOUNDER_WARNING_MS = 1500;

export class ClosingSequence {
  private warningTimers: Timer[] = [];
  private mode: ScheduleMode | undefined;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly options: ClosingOptions) {}

  start(): void {
    const { bus } = this.options;
    const onMode = ({ from, to, until }: { from: ScheduleMode | null; to: ScheduleMode; until: Date | null }): void =>
      this.onScheduleMode(from, to, until);
    const onOccupancy = (inside: number): void => this.onOccupancy(inside);
    bus.on('schedule-mode', onMode);
    bus.on('occupancy-changed', onOccupancy);
    this.unsubscribe.push(() => bus.off('schedule-mode', onMode), () => bus.off('occupancy-changed', onOccupancy));
  }

  /** Staff confirm the building is empty after a sweep: the lights may go off. */
  confirmEmpty(): void {
    this.options.alarms.clear('people-inside-after-close', 'confirmed empty by staff');
    if (this.isShut()) this.options.lights.set(false);
  }

  stop(): void {
    this.clearWarnings();
    for (const off of this.unsubscribe) off();
  }

  private onScheduleMode(from: ScheduleMode | null, to: ScheduleMode, until: Date | null): void {
    const { lights, occupancy, alarms } = this.options;
    this.mode = to;
    this.clearWarnings();
    if (to === 'staffed') {
      lights.set(true);
      alarms.clear('people-inside-after-close');
      // Each staffed session starts from an empty count: staff see who is in.
      if (from !== null && from !== 'staffed') occupancy.reset('schedule');
    } else if (to === 'open-access' || to === 'changeover') {
      alarms.clear('people-inside-after-close');
      if (this.options.lightsOnAt === 'open-access-start' || occupancy.inside > 0 || from === 'staffed') lights.set(true);
      // At start the lights are at their safe level (on by default), which says nothing about who is inside.
      else if (from === null) lights.set(false);
      if (to === 'open-access') this.scheduleWarnings(until);
    } else {
      if (occupancy.inside > 0) {
        lights.set(true);
        // At start too: a gateway that was down across the close (or crashed in the closing sequence) comes back to
        // a count nobody has confirmed empty, and somebody must be told.
        alarms.raise('people-inside-after-close', from === null ? `${occupancy.inside} counted inside at start` : `${occupancy.inside} counted inside`);
      } else {
        lights.set(false);
      }
    }
  }

  private onOccupancy(inside: number): void {
    const { lights, alarms } = this.options;
    if (inside > 0 && (this.mode === 'open-access' || this.mode === 'changeover')) lights.set(true);
    if (inside === 0 && this.isShut()) {
      alarms.clear('people-inside-after-close', 'building empty');
      lights.set(false);
    }
  }

  private isShut(): boolean {
    return this.mode === 'closed';
  }

  private scheduleWarnings(until: Date | null): void {
    if (until === null) return;
    const policy = this.options.policy();
    // Warn only when open access ends in a close; when staff take over, nobody has to leave.
    if (modeAt(policy, until).mode !== 'closed') return;
    const now = this.options.clock.now().getTime();
    for (const minutes of policy.closing.warningMinutes) {
      const delay = until.getTime() - minutes * 60_000 - now;
      if (delay < 0) continue;
      this.warningTimers.push(this.options.clock.setTimeout(() => this.warn(minutes), delay));
    }
  }

  private warn(minutesLeft: number): void {
    // The fire alarm is already telling everyone to leave; a closing warning would only talk over it.
    if (this.options.emergency()) return;
    this.options.events.record('warning', { minutesLeft });
    this.options.lights.flash();
    this.options.feedback.pulse('sounder', SOUNDER_WARNING_MS);
  }

  private clearWarnings(): void {
    for (const timer of this.warningTimers) this.options.clock.clearTimeout(timer);
    this.warningTimers = [];
  }
}
