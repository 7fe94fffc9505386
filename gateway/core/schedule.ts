// Follows the policy's schedule: knows the mode now and wakes at the next change. Timers are capped so that
// a clock step (NTP sync after boot) or a policy change is picked up within a minute at worst.
import { modeAt } from '../../policies/index.js';
import type { ModeSpan, Policy } from '../../policies/index.js';
import type { EventBus } from './bus.js';
import type { Clock, Timer } from './clock.js';
import type { EventLog } from './event-log.js';

/** The longest any schedule-following timer sleeps: a clock step (NTP after boot) or a new policy is picked up within it. */
export const MAX_SLEEP_MS = 60_000;

export class ScheduleRunner {
  private span: ModeSpan | undefined;
  private timer: Timer | undefined;

  constructor(
    private readonly deps: { policy: () => Policy; clock: Clock; bus: EventBus; events: EventLog },
  ) {}

  get current(): ModeSpan {
    if (this.span === undefined) this.span = modeAt(this.deps.policy(), this.deps.clock.now());
    return this.span;
  }

  start(): void {
    this.evaluate(true);
  }

  /** Re-evaluate now, e.g. after a new policy was applied. */
  refresh(): void {
    this.evaluate(false);
  }

  stop(): void {
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private evaluate(initial: boolean): void {
    this.deps.clock.clearTimeout(this.timer);
    const now = this.deps.clock.now();
    const previous = this.span;
    const next = modeAt(this.deps.policy(), now);
    this.span = next;
    const changed = previous === undefined || previous.mode !== next.mode || previous.until?.getTime() !== next.until?.getTime();
    if (changed) {
      if (!initial && previous !== undefined && previous.mode !== next.mode) {
        this.deps.events.record('mode', { from: previous.mode, to: next.mode, until: next.until?.toISOString() ?? null });
      }
      this.deps.bus.emit('schedule-mode', { from: initial ? null : (previous?.mode ?? null), to: next.mode, until: next.until });
    }
    const untilMs = next.until === null ? Number.POSITIVE_INFINITY : next.until.getTime() - now.getTime();
    this.timer = this.deps.clock.setTimeout(() => this.evaluate(false), Math.max(0, Math.min(untilMs, MAX_SLEEP_MS)));
  }
}
