// People inside now. Entries come from the people counter where one is fitted, otherwise from door openings
// after a grant; exits from the counter or exit requests. Never below zero.
import type { EventBus } from './bus.js';
import type { EventLog } from './event-log.js';

export interface OccupancyOptions {
  bus: EventBus;
  events: EventLog;
  hasEntryCounter: boolean;
  hasExitCounter: boolean;
  /** Called on every change so the count survives a restart. */
  persist: (inside: number) => void;
}

export class Occupancy {
  private count = 0;
  private counterEntriesThisCycle = 0;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly options: OccupancyOptions) {
    const { bus } = options;
    const onDoorEntry = (): void => {
      if (!options.hasEntryCounter) this.entry();
    };
    const onExitRequest = (): void => {
      if (!options.hasExitCounter) this.exit();
    };
    const onCycleClosed = ({ grants }: { grants: number }): void => this.checkTailgating(grants);
    // Counter pulses while the door is held free (staffed hours) are not part of any secured door cycle.
    const onModeChange = (): void => {
      this.counterEntriesThisCycle = 0;
    };
    bus.on('door-entry', onDoorEntry);
    bus.on('branch-mode', onModeChange);
    bus.on('exit-request', onExitRequest);
    bus.on('door-cycle-closed', onCycleClosed);
    this.unsubscribe.push(
      () => bus.off('door-entry', onDoorEntry),
      () => bus.off('exit-request', onExitRequest),
      () => bus.off('door-cycle-closed', onCycleClosed),
      () => bus.off('branch-mode', onModeChange),
    );
  }

  get inside(): number {
    return this.count;
  }

  restore(inside: number): void {
    this.count = Math.max(0, Math.trunc(inside));
  }

  /** A pulse from the people counter's "in" output. */
  counterIn(): void {
    this.counterEntriesThisCycle += 1;
    this.entry();
  }

  /** A pulse from the people counter's "out" output. */
  counterOut(): void {
    this.exit();
  }

  reset(actor: string): void {
    this.set(0, 'reset', { actor });
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
  }

  private entry(): void {
    this.set(this.count + 1, 'entry');
  }

  private exit(): void {
    if (this.count === 0) return;
    this.set(this.count - 1, 'exit');
  }

  private checkTailgating(grants: number): void {
    const entries = this.counterEntriesThisCycle;
    this.counterEntriesThisCycle = 0;
    if (this.options.hasEntryCounter && entries > grants) {
      this.options.events.record('occupancy', { change: 'tailgate', inside: this.count, entries, grants });
    }
  }

  private set(inside: number, change: 'entry' | 'exit' | 'reset', extra: Record<string, unknown> = {}): void {
    if (inside === this.count && change !== 'reset') return;
    this.count = inside;
    this.options.persist(inside);
    this.options.events.record('occupancy', { change, inside, ...extra });
    this.options.bus.emit('occupancy-changed', inside);
  }
}
