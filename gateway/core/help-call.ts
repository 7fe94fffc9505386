// The help-call button: someone in the unstaffed building asks for a person. A press opens a call, raised as the
// critical `help-requested` alarm (so central pages on it) and shown at the door; whoever takes it on, from central
// or at the console, acknowledges it, and the door then says someone is coming. The call ends when staff reset the
// alarms at the branch, or a while after the acknowledgement. None of it touches the door: a help call never locks
// or releases anything.
import { DisplayNameSchema } from '../../policies/contract/common.js';
import type { Alarms } from './alarms.js';
import type { EventBus } from './bus.js';
import type { Clock, Timer } from './clock.js';
import type { EventLog } from './event-log.js';
import type { Feedback } from './feedback.js';

export const HELP_ALARM = 'help-requested';
export const HELP_ACKNOWLEDGED_ACTION = 'help-acknowledged';
/** How long an acknowledged call stays open, unless staff reset it first: long enough for someone to arrive. */
export const DEFAULT_HELP_CLEAR_AFTER_MS = 30 * 60_000;
/**
 * Another press of an open call is an event at most this often (the count in the state takes every one): a
 * frightened person pressing again and again must not flood the outbox, nor page anyone more than once.
 */
export const REPEAT_PRESS_EVENT_GAP_MS = 10_000;

/** The call as the state shows it (`help` in the contract, 1.4). */
export interface HelpState {
  requested: boolean;
  since: string | null;
  presses: number;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
}

/** What survives a restart: an open call, with its acknowledgement. */
export interface HelpSnapshot {
  since: string;
  presses: number;
  lastPressAt: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
}

export interface HelpCallDeps {
  alarms: Alarms;
  events: EventLog;
  bus: EventBus;
  clock: Clock;
  feedback: Feedback;
  /** Save the gateway's runtime state (the snapshot is part of it). */
  persist: () => void;
  clearAfterAcknowledgedMs?: number | undefined;
}

export type HelpResult = { ok: true } | { ok: false; error: string };

interface OpenCall {
  since: Date;
  presses: number;
  lastPressAt: Date;
  lastPressEventAt: Date;
  acknowledgedBy: string | null;
  acknowledgedAt: Date | null;
}

export class HelpCall {
  private call: OpenCall | undefined;
  private clearTimer: Timer | undefined;
  private readonly clearAfterMs: number;

  constructor(private readonly deps: HelpCallDeps) {
    this.clearAfterMs = deps.clearAfterAcknowledgedMs ?? DEFAULT_HELP_CLEAR_AFTER_MS;
  }

  get state(): HelpState {
    const call = this.call;
    if (call === undefined) return { requested: false, since: null, presses: 0, acknowledgedBy: null, acknowledgedAt: null };
    return {
      requested: true,
      since: call.since.toISOString(),
      presses: call.presses,
      acknowledgedBy: call.acknowledgedBy,
      acknowledgedAt: call.acknowledgedAt?.toISOString() ?? null,
    };
  }

  get open(): boolean {
    return this.call !== undefined;
  }

  snapshot(): HelpSnapshot | null {
    const call = this.call;
    if (call === undefined) return null;
    return {
      since: call.since.toISOString(),
      presses: call.presses,
      lastPressAt: call.lastPressAt.toISOString(),
      acknowledgedBy: call.acknowledgedBy,
      acknowledgedAt: call.acknowledgedAt?.toISOString() ?? null,
    };
  }

  /**
   * After a restart: the call that was open goes on, as the alarm restored with it says. An alarm without a saved
   * call (a store from before the call was saved) is a call of unknown start, not acknowledged.
   */
  restore(saved: HelpSnapshot | null | undefined, alarmActive: boolean): void {
    if (!alarmActive) return;
    const now = this.deps.clock.now();
    const date = (iso: string | null | undefined): Date | null => {
      if (iso === null || iso === undefined) return null;
      const ms = Date.parse(iso);
      return Number.isFinite(ms) ? new Date(ms) : null;
    };
    const since = date(saved?.since) ?? now;
    const acknowledgedBy = saved?.acknowledgedBy ?? null;
    const acknowledgedAt = acknowledgedBy === null ? null : date(saved?.acknowledgedAt);
    const lastPressAt = date(saved?.lastPressAt) ?? since;
    this.call = {
      since,
      presses: Math.max(1, saved?.presses ?? 1),
      lastPressAt,
      lastPressEventAt: lastPressAt,
      acknowledgedBy: acknowledgedAt === null ? null : acknowledgedBy,
      acknowledgedAt,
    };
    if (this.call.acknowledgedAt === null) {
      this.deps.feedback.show('help-waiting');
    } else {
      this.deps.feedback.show('help-coming');
      this.armClear();
    }
  }

  /** The button went down. */
  press(): void {
    const { clock, alarms } = this.deps;
    const now = clock.now();
    const call = this.call;
    if (call === undefined) {
      this.call = { since: now, presses: 1, lastPressAt: now, lastPressEventAt: now, acknowledgedBy: null, acknowledgedAt: null };
      this.deps.feedback.show('help-waiting');
      // The alarm's own listeners save the call and republish the state.
      if (alarms.has(HELP_ALARM)) this.changed();
      else alarms.raise(HELP_ALARM, 'the help-call button was pressed');
      return;
    }
    call.presses += 1;
    call.lastPressAt = now;
    // Someone still waiting for whoever is coming: the call stays open a full while from this press.
    if (call.acknowledgedAt !== null) this.armClear();
    if (now.getTime() - call.lastPressEventAt.getTime() >= REPEAT_PRESS_EVENT_GAP_MS) {
      call.lastPressEventAt = now;
      alarms.repeat(HELP_ALARM, `pressed again (${call.presses} presses since ${call.since.toISOString()})`);
    }
    this.changed();
  }

  /** Someone takes the call on: `by` is the name the branch shows, `actor` who asked (a console account, central). */
  acknowledge(by: string, actor: string): HelpResult {
    const name = DisplayNameSchema.safeParse(by);
    if (!name.success) return { ok: false, error: `who acknowledged: ${name.error.issues[0]?.message ?? 'invalid'}` };
    const call = this.call;
    if (call === undefined) return { ok: false, error: 'no help call is open at the branch' };
    // Central may send it again (a retry, a second person): the first stays the one the door and the state show.
    if (call.acknowledgedAt !== null) return { ok: true };
    call.acknowledgedBy = name.data;
    call.acknowledgedAt = this.deps.clock.now();
    this.deps.events.record('staff', { action: HELP_ACKNOWLEDGED_ACTION, actor, text: name.data });
    this.deps.feedback.show('help-coming');
    this.armClear();
    this.changed();
    return { ok: true };
  }

  /** Staff reset the alarms at the branch: the call is over. */
  reset(actor: string): void {
    this.end(`reset by ${actor}`);
  }

  stop(): void {
    this.deps.clock.clearTimeout(this.clearTimer);
    this.clearTimer = undefined;
  }

  private end(detail: string): void {
    if (this.call === undefined) return;
    this.stop();
    this.call = undefined;
    this.deps.feedback.show(undefined);
    if (this.deps.alarms.has(HELP_ALARM)) this.deps.alarms.clear(HELP_ALARM, detail);
    else this.changed();
  }

  /** Counted from the acknowledgement, or from a press after it. */
  private armClear(): void {
    const call = this.call;
    if (call === undefined || call.acknowledgedAt === null) return;
    this.deps.clock.clearTimeout(this.clearTimer);
    const from = Math.max(call.acknowledgedAt.getTime(), call.lastPressAt.getTime());
    const delay = Math.max(0, from + this.clearAfterMs - this.deps.clock.now().getTime());
    const by = call.acknowledgedBy;
    this.clearTimer = this.deps.clock.setTimeout(() => {
      this.clearTimer = undefined;
      this.end(`cleared ${Math.round(this.clearAfterMs / 60_000)} min after ${by ?? 'someone'} acknowledged`);
    }, delay);
  }

  private changed(): void {
    this.deps.persist();
    this.deps.bus.emit('state-changed');
  }
}
