// A door: one relay, an optional contact, exit requests, and the alarms that follow from them. A branch has one or
// more (doors.ts). Software only ever grants entry; egress (exit requests, fire release) is never blocked here.
import type { DigitalOutput } from '../../firmware-bridge/types.js';
import type { GrantReason } from '../../policies/index.js';
import type { AtDoor, EventBus } from './bus.js';
import type { Clock, Timer } from './clock.js';
import type { DoorAlarms } from './doors.js';
import type { EventLog } from './event-log.js';
import type { DoorState } from './model.js';

/**
 * How the branch mode holds the door:
 * - secure: locked; a grant or exit request unlocks it for one pulse (open access, changeover, closed)
 * - free: held unlocked (staffed hours)
 * - released: held unlocked because of a fire alarm or emergency; no door alarms
 * - lockdown: locked, no grants; exit requests still release it (egress is never blocked)
 */
export type DoorRegime = 'secure' | 'free' | 'released' | 'lockdown';

export interface DoorOptions {
  /** `main`, or the door's id in `hardware.doors`. */
  id: string;
  /** Whether events, bus messages and alarm details name this door: only at a branch with several. */
  inEvents: boolean;
  relay: DigitalOutput;
  lockType: 'fail-secure' | 'fail-safe';
  unlockMs: number;
  heldOpenSeconds: number;
  exitGraceMs: number;
  /** Whether a door contact is fitted; without one, a grant is taken as an entry and an exit request as an exit. */
  hasContact: boolean;
  bus: EventBus;
  /** forced-open and held-open, shared by the branch's doors. */
  doorAlarms: DoorAlarms;
  events: EventLog;
  clock: Clock;
}

export class Door {
  private regime: DoorRegime = 'secure';
  private contactOpen = false;
  private pulseTimer: Timer | undefined;
  private heldTimer: Timer | undefined;
  /** Grants whose person has not yet gone through: each opening within `until` is their entry, with the grant's reason. */
  private pendingGrants: Array<{ reason: GrantReason; until: number }> = [];
  /** Grants counted in the current door cycle (open → close), for tailgating. */
  private grantsThisCycle = 0;
  /** Until when an opening is not a forced door (an exit request or a staff unlock). */
  private exitAllowedUntil = 0;
  /** Until when an opening is someone leaving: only an exit request, never a staff unlock, says which way. */
  private exitRequestedUntil = 0;
  private current: DoorState = 'locked';
  private relayUnlocked = false;

  /** What events and bus messages say of this door: its id at a branch with several doors, nothing at one. */
  readonly at: AtDoor;

  constructor(private readonly options: DoorOptions) {
    // The relay was already put in its safe (locked) state by the hardware layer; record that we know it.
    this.relayUnlocked = this.relayLevelIsUnlocked(options.relay.active);
    this.at = options.inEvents ? { door: options.id } : {};
  }

  get id(): string {
    return this.options.id;
  }

  get state(): DoorState {
    return this.current;
  }

  get currentRegime(): DoorRegime {
    return this.regime;
  }

  /**
   * Contact state at start (through `Doors.initialContacts`). A door found open at boot is not a forced door, but it
   * is timed as held open from now: a door propped open before a restart must still be reported. Forced-open and
   * held-open restored from before a crash describe a door that is open: one found open takes them on.
   */
  initialContact(open: boolean): void {
    this.contactOpen = open;
    if (open && this.watched()) this.startHeldTimer();
    if (open) {
      this.options.doorAlarms.adopt('forced-open', this.id);
      this.options.doorAlarms.adopt('held-open', this.id);
    }
    this.refresh();
  }

  setRegime(regime: DoorRegime): void {
    if (regime === this.regime) return;
    const wasWatched = this.watched();
    this.regime = regime;
    if (regime === 'released' || regime === 'free') {
      this.endPulse();
      this.clearDoorAlarms();
      this.stopHeldTimer();
    }
    // A door propped open while it was held free (staffed hours, a fire) is left open when the branch locks up:
    // time it from this change, or it would never be reported. Between two watched regimes the running timer
    // stays, so a change of mode cannot put off an alarm that is already due.
    if (!wasWatched && this.watched() && this.contactOpen) this.startHeldTimer();
    if (regime === 'lockdown') this.endPulse();
    this.applyRelay();
    this.refresh();
  }

  /**
   * Unlock for one pulse after a granted tap. Returns when the relay was written (hrtime), or null when
   * there was nothing to drive. Synchronous: this is the end of the tap → relay hot path.
   */
  grant(reason: GrantReason): bigint | null {
    if (this.regime === 'lockdown') return null;
    // No contact to see the door open: the grant is the best evidence of an entry (an inference, not a sighting).
    if (!this.options.hasContact) this.options.bus.emit('door-entry', { grant: reason, via: 'grant', ...this.at });
    // Each grant is one person: a parent and a child who tap one after the other and go through on one opening are two.
    else this.pendingGrants.push({ reason, until: this.options.clock.now().getTime() + this.options.unlockMs });
    // Already held open (staffed or released): nothing to drive.
    if (this.regime !== 'secure') return null;
    this.grantsThisCycle += 1;
    return this.startPulse();
  }

  /** Staff or central "unlock once": a pulse that is not tied to a card. */
  unlockOnce(): boolean {
    if (this.regime !== 'secure') return false;
    this.exitAllowedUntil = this.options.clock.now().getTime() + this.options.unlockMs;
    this.startPulse();
    return true;
  }

  /** End any unlock pulse now. */
  lockNow(): void {
    this.endPulse();
    this.pendingGrants = [];
    this.applyRelay();
    this.refresh();
  }

  /** Request-to-exit button (or an exit reader): egress is always allowed, in every regime. */
  exitRequest(): void {
    this.exitAllowedUntil = this.options.clock.now().getTime() + this.options.exitGraceMs;
    this.exitRequestedUntil = this.exitAllowedUntil;
    if (this.regime === 'secure' || this.regime === 'lockdown') this.startPulse();
    this.options.bus.emit('exit-request');
    // With a contact the exit is the opening that follows (onOpened); a press nobody follows through changes nothing.
    if (!this.options.hasContact) this.options.bus.emit('door-exit', { via: 'exit-request', ...this.at });
  }

  contactChanged(open: boolean): void {
    if (open === this.contactOpen) return;
    this.contactOpen = open;
    if (open) this.onOpened();
    else this.onClosed();
    this.refresh();
  }

  stop(): void {
    this.endPulse();
    this.stopHeldTimer();
  }

  private onOpened(): void {
    const now = this.options.clock.now().getTime();
    const granted = this.takePendingGrants(now);
    const exiting = now <= this.exitRequestedUntil;
    if (exiting) this.exitRequestedUntil = 0;
    if (this.watched() && granted.length === 0 && this.pulseTimer === undefined && now > this.exitAllowedUntil) {
      this.options.doorAlarms.raise('forced-open', this.id, this.options.inEvents ? `door ${this.id}` : undefined);
    }
    this.tellPassage(granted, exiting);
    if (this.watched()) this.startHeldTimer();
  }

  /** Who went through on this opening, as far as the door can tell: entries for its grants, an exit for a request. */
  private tellPassage(granted: readonly GrantReason[], exiting: boolean): void {
    const { bus } = this.options;
    for (const reason of granted) bus.emit('door-entry', { grant: reason, via: 'contact', ...this.at });
    if (exiting) bus.emit('door-exit', { via: 'contact', ...this.at });
    // Held free, forced, or a staff unlock: someone went in or out, and only a counter or beams could say which.
    if (granted.length === 0 && !exiting) bus.emit('door-opened-unattributed', { ...this.at });
  }

  private takePendingGrants(now: number): GrantReason[] {
    const live = this.pendingGrants.filter((pending) => pending.until >= now).map((pending) => pending.reason);
    this.pendingGrants = [];
    return live;
  }

  /** Whether the regime keeps the door shut, so that an open door is something to report. */
  private watched(): boolean {
    return this.regime === 'secure' || this.regime === 'lockdown';
  }

  private startHeldTimer(): void {
    this.stopHeldTimer();
    this.heldTimer = this.options.clock.setTimeout(() => {
      this.heldTimer = undefined;
      if (this.contactOpen && this.watched()) {
        const longer = `open longer than ${this.options.heldOpenSeconds} s`;
        this.options.doorAlarms.raise('held-open', this.id, this.options.inEvents ? `door ${this.id} ${longer}` : longer);
        this.refresh();
      }
    }, this.options.heldOpenSeconds * 1000);
  }

  private stopHeldTimer(): void {
    this.options.clock.clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
  }

  private onClosed(): void {
    this.stopHeldTimer();
    const grants = this.grantsThisCycle;
    this.grantsThisCycle = 0;
    this.clearDoorAlarms();
    // Relock as soon as the door shuts so that the rest of a pulse cannot let a second person in.
    if (this.pulseTimer !== undefined) this.endPulse();
    this.applyRelay();
    if (this.regime === 'secure' || this.regime === 'lockdown') this.options.bus.emit('door-cycle-closed', { grants, ...this.at });
  }

  /** Unlock now and (re)start the pulse timer; returns when the relay was written. */
  private startPulse(): bigint {
    this.options.clock.clearTimeout(this.pulseTimer);
    this.pulseTimer = this.options.clock.setTimeout(() => {
      this.pulseTimer = undefined;
      this.pendingGrants = [];
      this.applyRelay();
      this.refresh();
    }, this.options.unlockMs);
    this.applyRelay();
    const relayAt = process.hrtime.bigint();
    // The door event (an fsync'd row) is written after the relay, never before it.
    this.refresh();
    return relayAt;
  }

  private endPulse(): void {
    if (this.pulseTimer === undefined) return;
    this.options.clock.clearTimeout(this.pulseTimer);
    this.pulseTimer = undefined;
  }

  private clearDoorAlarms(): void {
    this.options.doorAlarms.clear('forced-open', this.id);
    this.options.doorAlarms.clear('held-open', this.id);
  }

  private applyRelay(): void {
    const unlocked = this.regime === 'free' || this.regime === 'released' || this.pulseTimer !== undefined;
    if (unlocked === this.relayUnlocked) return;
    this.relayUnlocked = unlocked;
    // fail-secure strike: energise to unlock. fail-safe maglock: energise to hold, so unlocking de-energises.
    this.options.relay.set(this.options.lockType === 'fail-secure' ? unlocked : !unlocked);
  }

  private relayLevelIsUnlocked(active: boolean): boolean {
    return this.options.lockType === 'fail-secure' ? active : !active;
  }

  private refresh(): void {
    const next = this.computeState();
    if (next === this.current) return;
    this.current = next;
    this.options.events.record('door', { state: next, ...this.at });
    this.options.bus.emit('door-state', next);
  }

  private computeState(): DoorState {
    if (this.regime === 'released') return 'released';
    if (this.options.doorAlarms.has('forced-open', this.id) && this.contactOpen) return 'forced-open';
    if (this.options.doorAlarms.has('held-open', this.id) && this.contactOpen) return 'held-open';
    if (this.contactOpen) return 'open';
    if (this.relayUnlocked) return 'unlocked';
    return this.regime === 'lockdown' ? 'lockdown' : 'locked';
  }
}
