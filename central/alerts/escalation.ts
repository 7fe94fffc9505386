// Escalation: who should have been told about an incident by now (`due`, pure), and the scheduler that asks it on
// a clock and hands each new request to the outbox once.
//
// A rule's steps fire one after another while nobody acknowledges: step i at the incident's opening plus the
// afterMinutes of steps 0..i. With repeatMinutes, everyone told so far is told again that often. Only a step's
// latest round is due: after central was down for an hour a contact gets one reminder, not six.
import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import type { Incident, IncidentChange, Incidents } from './incidents.js';
import { CENTRAL_SITE } from './incident-names.js';
import type { AlertRules, Rule } from './rules.js';
import { notificationKey, type NotificationRequest, type NotificationSink, type Recipient } from './types.js';

/** What the planner reads of an incident. */
export type PlannableIncident = Pick<Incident, 'id' | 'site' | 'alarm' | 'known' | 'severity' | 'detail' | 'status' | 'raisedAt' | 'openedAt'>;

const MINUTE = 60_000;
const MAX_SUBJECT = 200;
const MAX_TEXT = 2000;
/**
 * Reminders stop after this many (a week at one a minute), so that an incident nobody will ever acknowledge keeps
 * its history and the outbox bounded.
 */
export const MAX_REPEATS = 9_999;

/** One step's latest round due: when it fell due and whom it tells. */
export interface DueRound {
  step: number;
  repeat: number;
  dueAt: Date;
  recipients: Recipient[];
}

/**
 * The rounds due for `incident` at `now` (the latest of each step), and when the next one falls due (null: never,
 * unless the incident or the rules change). Cheap: no message is written, so a scheduler can ask it often.
 */
export function plan(incident: PlannableIncident, rules: AlertRules, now: Date): { rule: Rule | null; rounds: DueRound[]; next: Date | null } {
  if (incident.status !== 'raised' && incident.status !== 'notified') return { rule: null, rounds: [], next: null };
  const match = rules.match(incident);
  if (!match) return { rule: null, rounds: [], next: null };
  const { rule } = match;
  const nowMs = now.getTime();
  const every = rule.repeatMinutes === undefined ? null : rule.repeatMinutes * MINUTE;
  const rounds: DueRound[] = [];
  let next = Infinity;
  let stepAt = Date.parse(incident.openedAt);
  for (const [step, s] of rule.steps.entries()) {
    stepAt += s.afterMinutes * MINUTE;
    if (stepAt > nowMs) {
      next = Math.min(next, stepAt);
      break;
    }
    const repeat = every === null ? 0 : Math.min(MAX_REPEATS, Math.floor((nowMs - stepAt) / every));
    if (every !== null && repeat < MAX_REPEATS) next = Math.min(next, stepAt + (repeat + 1) * every);
    // The on-call person is the one on call when this round fell due, whenever the scheduler gets to it.
    const dueAt = new Date(stepAt + repeat * (every ?? 0));
    rounds.push({ step, repeat, dueAt, recipients: rules.recipients(s, dueAt) });
  }
  return { rule, rounds, next: Number.isFinite(next) ? new Date(next) : null };
}

/** Every request due for `incident` at `now` under `rules`: empty once it is acknowledged or cleared. */
export function due(incident: PlannableIncident, rules: AlertRules, now: Date): NotificationRequest[] {
  const { rule, rounds } = plan(incident, rules, now);
  if (rule === null) return [];
  return rounds.flatMap((round) => requestsOf(incident, rules, rule, round, round.recipients));
}

function requestsOf(incident: PlannableIncident, rules: AlertRules, rule: Rule, round: DueRound, recipients: readonly Recipient[]): NotificationRequest[] {
  if (recipients.length === 0) return [];
  const message = compose(incident, rules, rule, { step: round.step, repeat: round.repeat, waitedMs: round.dueAt.getTime() - Date.parse(incident.openedAt) });
  return recipients.map((recipient) => ({ incidentId: incident.id, step: round.step, repeat: round.repeat, recipient, ...message }));
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function compose(
  incident: PlannableIncident,
  rules: AlertRules,
  rule: Rule,
  at: { step: number; repeat: number; waitedMs: number },
): { subject: string; text: string } {
  const where = incident.site === CENTRAL_SITE ? 'central' : incident.site;
  const waited = Math.round(at.waitedMs / MINUTE);
  const late = at.step > 0 || at.repeat > 0 ? `: not acknowledged for ${waited} min` : '';
  const subject = `[${incident.severity.toUpperCase()}] ${incident.alarm} at ${where}${late}`;
  const local = (iso: string): string =>
    DateTime.fromMillis(Date.parse(iso), { zone: rules.zone.name, locale: 'en-GB' }).toFormat('ccc d LLL yyyy, HH:mm ZZZZ');
  const lines = [
    `${incident.alarm} at ${where} (${incident.severity})`,
    incident.known ? null : `This central does not know the alarm "${incident.alarm}" (a newer gateway's): look at the branch.`,
    incident.detail === null ? null : `Detail: ${incident.detail.replace(/\s+/g, ' ')}`,
    `Raised at the branch: ${local(incident.raisedAt)}`,
    `Incident opened at central: ${local(incident.openedAt)}`,
    late === '' ? null : `Nobody has acknowledged it for ${waited} minutes.`,
    `Incident ${incident.id}, rule ${rule.id}, step ${at.step + 1}${at.repeat > 0 ? `, reminder ${at.repeat}` : ''}.`,
  ];
  return { subject: shorten(subject, MAX_SUBJECT), text: shorten(lines.filter((l) => l !== null).join('\n'), MAX_TEXT) };
}

// ---- the scheduler ---------------------------------------------------------------------------------------------

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const NODE_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface EscalationDeps {
  incidents: Incidents;
  /** The rules in force now (read on every tick, so a change saved on any instance applies at the next one). */
  rules: () => AlertRules | Promise<AlertRules>;
  sink: NotificationSink;
  clock: { now(): Date };
  timers?: Timers;
  /** How often escalation and offline branches are looked at; a new incident is looked at at once. */
  intervalMs?: number;
  logger?: Pick<Logger, 'error' | 'info'>;
}

export interface TickReport {
  /** Branches whose absence became an incident. */
  offline: number;
  /** Requests handed to the outbox. */
  handed: number;
  /** Incidents whose hand-over failed (tried again next tick). */
  failed: number;
}

export const DEFAULT_ESCALATION_INTERVAL_MS = 15_000;

export class EscalationScheduler {
  private timer: unknown = null;
  private kicked = false;
  private running = false;
  private readonly timers: Timers;
  private readonly intervalMs: number;
  private firing: Promise<void> = Promise.resolve();
  /** When each incident next has something due (ms), as last planned with `plannedWith`. */
  private readonly nextDue = new Map<number, number>();
  private plannedWith: AlertRules | null = null;
  /** The tick under way: ticks never overlap (a slow database, a kick during a tick). */
  private ticking: Promise<TickReport> | null = null;
  private readonly onChange = (change: IncidentChange): void => {
    // A repeat raise may carry a higher severity, and so another rule.
    if (change.kind === 'raised-again') this.nextDue.delete(change.incident.id);
    if (change.kind === 'raised') this.kick();
  };

  constructor(private readonly deps: EscalationDeps) {
    this.timers = deps.timers ?? NODE_TIMERS;
    this.intervalMs = deps.intervalMs ?? DEFAULT_ESCALATION_INTERVAL_MS;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.deps.incidents.on('change', this.onChange);
    // At start at once: requests that fell due while central was stopped go out now.
    this.kick();
  }

  stop(): void {
    this.running = false;
    this.deps.incidents.off('change', this.onChange);
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.kicked = false;
  }

  /** Look now (a new incident), rather than at the next interval; many kicks in one turn make one tick. */
  kick(): void {
    if (!this.running || this.kicked) return;
    this.kicked = true;
    this.arm(0);
  }

  /** One look: offline branches, then every incident awaiting acknowledgement (after the one under way, if any). */
  async tick(): Promise<TickReport> {
    while (this.ticking !== null) await this.ticking.catch(() => undefined);
    const ticking = this.look();
    this.ticking = ticking;
    try {
      return await ticking;
    } finally {
      if (this.ticking === ticking) this.ticking = null;
    }
  }

  private async look(): Promise<TickReport> {
    const { incidents, sink } = this.deps;
    const now = this.deps.clock.now();
    const rules = await this.deps.rules();
    if (rules !== this.plannedWith) {
      // Other rules may route an incident elsewhere or on other times: plan everything again.
      this.nextDue.clear();
      this.plannedWith = rules;
    }
    const report: TickReport = { offline: 0, handed: 0, failed: 0 };
    report.offline = (await incidents.raiseOverdueOffline(now, rules.offlineAfterMs, rules.doc.offline.severity)).length;
    const awaiting = await incidents.awaitingAcknowledgement();
    const open = new Set<number>();
    for (const incident of awaiting) {
      open.add(incident.id);
      // Nothing new falls due before this: most incidents, most ticks (a burst is 100 incidents among 1,000 sites).
      if ((this.nextDue.get(incident.id) ?? -Infinity) > now.getTime()) continue;
      try {
        const { rule, rounds, next } = plan(incident, rules, now);
        const handed = rule === null || rounds.length === 0 ? new Set<string>() : await incidents.handedKeys(incident.id);
        const fresh =
          rule === null
            ? []
            : rounds.flatMap((round) => {
                const recipients = round.recipients.filter((recipient) => !handed.has(notificationKey({ incidentId: incident.id, ...round, recipient })));
                return requestsOf(incident, rules, rule, round, recipients);
              });
        if (fresh.length > 0) {
          const recorded = await incidents.handOver(fresh, now, sink, incident.severity);
          report.handed += recorded.length;
          if (recorded.length > 0) await incidents.changed(incident.id, 'notified');
        }
        this.nextDue.set(incident.id, next === null ? Infinity : next.getTime());
      } catch (error) {
        // One incident's failure (the outbox refusing, a disk error) must not keep the others from being told.
        this.nextDue.delete(incident.id);
        report.failed++;
        this.deps.logger?.error({ incident: incident.id, err: (error as Error).message }, 'alerts: could not hand notifications to the outbox; trying again');
      }
    }
    for (const id of this.nextDue.keys()) if (!open.has(id)) this.nextDue.delete(id);
    return report;
  }

  private arm(ms: number): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timer = null;
    this.kicked = false;
    this.firing = this.tick().then(
      () => undefined,
      (error: unknown) => this.deps.logger?.error({ err: (error as Error).message }, 'alerts: escalation tick failed; trying again'),
    );
    if (this.running) this.arm(this.intervalMs);
  }

  /** Resolves when the tick a timer started is done (tests on fake timers; an orderly stop). */
  async settled(): Promise<void> {
    await this.firing;
    while (this.ticking !== null) await this.ticking.catch(() => undefined);
  }
}
