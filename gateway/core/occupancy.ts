// People inside now, and whether that figure was counted or is an estimate.
// Entries: a people counter's "in" or a beam pair where fitted (each tied to the grant it followed, if any), otherwise
// the door contact opening after a grant (or, with no contact, the grant itself). Exits: the counter's "out" or the
// beams, otherwise the contact opening after an exit request (or, with no contact, the request). Never below zero.
// The figure is `estimated` from the first change it could not see (a grant or exit request taken on trust, an
// opening nobody could attribute, an exit with nobody counted) until staff reset it.
import type { BranchMode, GrantReason, Policy } from '../../policies/index.js';
import type { COUNT_CONFIDENCES, COUNT_SOURCES } from '../../policies/contract/common.js';
import { occupancyRules } from '../../policies/schema.js';
import type { Alarms } from './alarms.js';
import { BEAM_PASSAGE_TIMEOUT_MS, BeamPair } from './beam-pair.js';
import type { Beam, Direction } from './beam-pair.js';
import type { AtDoor, DoorEntry, DoorExit, EventBus } from './bus.js';
import type { Clock, Timer } from './clock.js';
import type { EventLog } from './event-log.js';

export type CountConfidence = (typeof COUNT_CONFIDENCES)[number];
export type CountSource = (typeof COUNT_SOURCES)[number];

/** Which counting hardware is fitted. */
export interface OccupancySensors {
  counterIn: boolean;
  counterOut: boolean;
  beams: boolean;
}

export interface OccupancyOptions {
  bus: EventBus;
  events: EventLog;
  alarms: Alarms;
  clock: Clock;
  sensors: OccupancySensors;
  /** The branch mode now, written on every occupancy event. */
  mode: () => BranchMode;
  policy: () => Policy;
  /** Called on every change so the count and its confidence survive a restart. */
  persist: () => void;
  /** Counter pulses closer than this are one person (a relay's contact bouncing past the input's debounce). */
  counterMinGapMs?: number | undefined;
  /**
   * At a branch with several doors, the one the counter and beams are at (`main`: they are its inputs); the other
   * doors count from their own contact and grants. Undefined at a branch with one door, whose events name none.
   */
  sensorsAt?: string | undefined;
}

/** Nobody walks through a counter twice in a fifth of a second; a relay output chattering does. */
export const COUNTER_MIN_GAP_MS = 200;
/** The tailgating alarm ends after this long without another tailgate: it tells of a moment, not a state. */
export const TAILGATING_CLEAR_MS = 10 * 60_000;
/** Grants waiting for the counter or beams to see their person; more than a door cycle's worth is not kept. */
const MAX_WAITING_GRANTS = 20;

type Change = 'entry' | 'exit' | 'reset';

export class Occupancy {
  private count = 0;
  private trust: CountConfidence = 'counted';
  /** Entries the counter or beams saw in the current secured door cycle, for tailgating. */
  private entriesThisCycle = 0;
  /** Grants whose entry the counter or beams will see: their reasons go on those entries. */
  private waitingGrants: GrantReason[] = [];
  private readonly lastPulse = { in: Number.NEGATIVE_INFINITY, out: Number.NEGATIVE_INFINITY };
  private readonly beams: BeamPair;
  private tailgatingTimer: Timer | undefined;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly options: OccupancyOptions) {
    const { bus } = options;
    this.beams = new BeamPair({
      clock: options.clock,
      timeoutMs: BEAM_PASSAGE_TIMEOUT_MS,
      onPassage: (direction) => this.onPassage(direction),
      onOddity: (detail) => this.ignored('beams', detail),
    });
    const onDoorEntry = (entry: DoorEntry): void => this.onDoorEntry(entry);
    const onDoorExit = (exit: DoorExit): void => this.onDoorExit(exit);
    const onUnattributed = ({ door }: AtDoor): void => {
      if (this.entriesSeenAt(door) && this.exitsSeenAt(door)) return;
      this.becomeEstimated();
      // Told rather than guessed: the figures count these openings beside the visits they could count.
      this.options.events.record('occupancy', { change: 'uncounted', inside: this.count, via: 'contact', ...this.stamp(), ...(door === undefined ? {} : { door }) });
    };
    // The counter and beams see one door: another door's cycle says nothing of what they saw.
    const onCycleClosed = ({ grants, door }: { grants: number } & AtDoor): void => {
      if (door === this.options.sensorsAt) this.checkTailgating(grants);
    };
    // Counter pulses while the door is held free (staffed hours) are not part of any secured door cycle.
    const onModeChange = (): void => {
      this.entriesThisCycle = 0;
      this.waitingGrants = [];
    };
    bus.on('door-entry', onDoorEntry);
    bus.on('door-exit', onDoorExit);
    bus.on('door-opened-unattributed', onUnattributed);
    bus.on('branch-mode', onModeChange);
    bus.on('door-cycle-closed', onCycleClosed);
    this.unsubscribe.push(
      () => bus.off('door-entry', onDoorEntry),
      () => bus.off('door-exit', onDoorExit),
      () => bus.off('door-opened-unattributed', onUnattributed),
      () => bus.off('door-cycle-closed', onCycleClosed),
      () => bus.off('branch-mode', onModeChange),
    );
  }

  get inside(): number {
    return this.count;
  }

  get confidence(): CountConfidence {
    return this.trust;
  }

  /** What was saved before a restart; a state saved before 1.8 has no confidence and was counted as well as it could. */
  restore(inside: number, confidence: CountConfidence = 'counted'): void {
    this.count = Math.max(0, Math.trunc(inside));
    this.trust = confidence;
  }

  /** After the alarms are restored: a tailgating alarm from before the restart still ends after its quiet while. */
  resume(): void {
    if (this.options.alarms.has('tailgating')) this.armTailgatingClear();
  }

  /** The beams' levels at start (true: broken). */
  initialBeams(outer: boolean, inner: boolean): void {
    this.beams.initial(outer, inner);
  }

  beamChanged(beam: Beam, broken: boolean): void {
    this.beams.change(beam, broken);
  }

  /** A pulse from the people counter's "in" output. */
  counterIn(): void {
    if (this.bounced('in')) return;
    this.entriesThisCycle += 1;
    this.entry('counter', this.waitingGrants.shift(), this.options.sensorsAt);
  }

  /** A pulse from the people counter's "out" output. */
  counterOut(): void {
    if (this.bounced('out')) return;
    this.exit('counter', this.options.sensorsAt);
  }

  /** Staff (or the schedule, by the policy's rule) say how many are inside: 0, and a figure counted again. */
  reset(actor: string): void {
    this.trust = 'counted';
    this.set(0, 'reset', { actor });
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
    this.beams.stop();
    this.options.clock.clearTimeout(this.tailgatingTimer);
  }

  private get entriesSeen(): boolean {
    return this.options.sensors.counterIn || this.options.sensors.beams;
  }

  /** Whether the counter or beams see the entries at this door (the one they are fitted at). */
  private entriesSeenAt(door: string | undefined): boolean {
    return this.entriesSeen && door === this.options.sensorsAt;
  }

  private exitsSeenAt(door: string | undefined): boolean {
    return (this.options.sensors.counterOut || this.options.sensors.beams) && door === this.options.sensorsAt;
  }

  private onDoorEntry({ grant, via, door }: DoorEntry): void {
    if (!this.entriesSeenAt(door)) {
      // A grant without a contact to see the door open is taken on trust: the person may not have come in.
      if (via === 'grant') this.trust = 'estimated';
      this.entry(via, grant, door);
      return;
    }
    this.waitingGrants.push(grant);
    if (this.waitingGrants.length > MAX_WAITING_GRANTS) this.waitingGrants.shift();
  }

  private onDoorExit({ via, door }: DoorExit): void {
    if (this.exitsSeenAt(door)) return;
    if (via === 'exit-request') this.trust = 'estimated';
    this.exit(via, door);
  }

  private onPassage(direction: Direction): void {
    if (direction === 'out') {
      this.exit('beams', this.options.sensorsAt);
      return;
    }
    this.entriesThisCycle += 1;
    this.entry('beams', this.waitingGrants.shift(), this.options.sensorsAt);
  }

  private bounced(direction: 'in' | 'out'): boolean {
    const now = this.options.clock.now().getTime();
    const gap = now - this.lastPulse[direction];
    this.lastPulse[direction] = now;
    if (gap >= (this.options.counterMinGapMs ?? COUNTER_MIN_GAP_MS)) return false;
    this.ignored('counter', `counter ${direction} pulses ${gap} ms apart: one person`);
    return true;
  }

  private entry(via: CountSource, grant: GrantReason | undefined, door: string | undefined): void {
    this.set(this.count + 1, 'entry', { via, ...(grant === undefined ? {} : { grant }), ...(door === undefined ? {} : { door }) });
  }

  private exit(via: CountSource, door: string | undefined): void {
    if (this.count === 0) {
      // Someone left whom nobody saw come in: the count missed them, and may have missed others.
      this.trust = 'estimated';
      this.ignored(via, 'an exit with nobody counted inside');
      return;
    }
    this.set(this.count - 1, 'exit', { via, ...(door === undefined ? {} : { door }) });
  }

  private becomeEstimated(): void {
    if (this.trust === 'estimated') return;
    this.trust = 'estimated';
    this.options.persist();
    // Nothing was counted, but the state now says the figure is an estimate.
    this.options.bus.emit('occupancy-changed', this.count);
  }

  private ignored(via: CountSource, detail: string): void {
    this.options.events.record('occupancy', { change: 'ignored', inside: this.count, via, detail, ...this.stamp() });
    this.options.persist();
  }

  private checkTailgating(grants: number): void {
    const entries = this.entriesThisCycle;
    this.entriesThisCycle = 0;
    this.waitingGrants = [];
    if (!this.entriesSeen || entries <= grants) return;
    // The entries are already counted, each as its own entry event: this only flags them.
    this.options.events.record('occupancy', { change: 'tailgate', inside: this.count, entries, grants, ...this.stamp() });
    if (occupancyRules(this.options.policy().rules).tailgating !== 'alarm') return;
    this.options.alarms.repeat('tailgating', `${entries} came in on ${grants} ${grants === 1 ? 'grant' : 'grants'}`);
    this.armTailgatingClear();
  }

  private armTailgatingClear(): void {
    this.options.clock.clearTimeout(this.tailgatingTimer);
    this.tailgatingTimer = this.options.clock.setTimeout(() => {
      this.tailgatingTimer = undefined;
      this.options.alarms.clear('tailgating', `no tailgating for ${TAILGATING_CLEAR_MS / 60_000} min`);
    }, TAILGATING_CLEAR_MS);
  }

  private stamp(): { mode: BranchMode; confidence: CountConfidence } {
    return { mode: this.options.mode(), confidence: this.trust };
  }

  private set(inside: number, change: Change, extra: { actor?: string; via?: CountSource; grant?: GrantReason; door?: string }): void {
    this.count = inside;
    this.options.persist();
    this.options.events.record('occupancy', { change, inside, ...extra, ...this.stamp() });
    this.options.bus.emit('occupancy-changed', inside);
  }
}
