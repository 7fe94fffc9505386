// Incidents at central: each alarm a branch raises, each branch offline for too long, each channel that fails.
// Lifecycle raised → notified → acknowledged → cleared, every step in the history with who and when. One open
// incident per (site, alarm). Time is always handed in (`at`), never read here.
import { EventEmitter } from 'node:events';
import type { Database as Db } from 'better-sqlite3';
import { z } from 'zod';
import { ALARM_NAMES, ALARM_SEVERITY, ActorSchema, isKnown } from '../../policies/contract/common.js';
import { validate } from '../../policies/errors.js';
import { CENTRAL_SITE, channelFailedAlarm, OFFLINE_ALARM } from './incident-names.js';
import { severityRank } from './rules.js';
import { IncidentTables, type IncidentRow, type IncidentStatus, type NotificationRow } from './incident-store.js';
import { notificationKey, type Channel, type DeliveryReports, type NotificationRequest } from './types.js';

export type { IncidentStatus } from './incident-store.js';

export interface Incident {
  id: number;
  /** A site id, or `(central)` for central's own (a failing channel). */
  site: string;
  alarm: string;
  /** False for an alarm name this central does not know (a newer gateway's): shown as unknown, still handled. */
  known: boolean;
  /** As the alarm came (`critical`, `major`, `minor`, or a newer name), else the contract's, else `warning`. */
  severity: string;
  detail: string | null;
  status: IncidentStatus;
  /** When the branch says it was raised. */
  raisedAt: string;
  /** When central opened the incident: escalation and time to acknowledge count from here. */
  openedAt: string;
  notifiedAt: string | null;
  acknowledged: { by: string; at: string; note: string | null } | null;
  cleared: { by: string; at: string } | null;
}

export const HISTORY_KINDS = [
  'raised',
  /** Raised again while the incident was open. */
  'raised-again',
  /** Handed to the outbox: the note says which step and whom. */
  'notified',
  'delivered',
  'delivery-failed',
  'acknowledged',
  /** By the branch (the alarm cleared, the branch came back) or by central (the channel works again). */
  'cleared',
  /** Closed by an operator. */
  'resolved',
] as const;
export type HistoryKind = (typeof HISTORY_KINDS)[number];

export interface HistoryEntry {
  at: string;
  kind: HistoryKind;
  actor: string;
  note: string | null;
}

export interface NotificationRecord {
  step: number;
  repeat: number;
  recipient: string;
  channel: string;
  address: string;
  handedAt: string;
  deliveredAt: string | null;
  failed: string | null;
}

export interface IncidentDetail extends Incident {
  history: HistoryEntry[];
  notifications: NotificationRecord[];
}

/** An alarm event as the contract's reader gives it (ReceivedEvent of type `alarm` fits). */
export interface AlarmReport {
  site: string;
  alarm: string;
  state: 'raised' | 'cleared';
  severity?: string | undefined;
  detail?: string | undefined;
  /** ISO 8601, from the branch. */
  at: string;
}

export interface IncidentChange {
  kind: HistoryKind;
  incident: Incident;
}

export type ChangeOutcome =
  | { ok: true; incident: Incident }
  | { ok: false; code: 'invalid' | 'not-found' | 'already-acknowledged' | 'cleared'; error: string };

export interface IncidentFigures {
  from: string;
  to: string;
  total: number;
  byAlarm: Array<{ alarm: string; count: number }>;
  bySite: Array<{ site: string; count: number }>;
  bySiteAndAlarm: Array<{ site: string; alarm: string; count: number }>;
  /** Over the incidents opened in the range that were acknowledged; nearest rank. */
  timeToAcknowledge: { count: number; medianSeconds: number | null; p95Seconds: number | null };
  unacknowledged: number;
}

function isControl(ch: string): boolean {
  const c = ch.codePointAt(0) ?? 0;
  return (c < 0x20 && ch !== '\n' && ch !== '\r' && ch !== '\t') || c === 0x7f;
}

/** Free text from a person: at most `max` characters, no control characters but line breaks and tabs. */
function personText(max: number) {
  return z
    .string()
    .max(max)
    .refine((s) => ![...s].some(isControl), { error: 'must not contain control characters (line breaks and tabs are fine)' })
    .refine((s) => !s.includes('\uFFFD'), { error: 'contains U+FFFD (\uFFFD), left where the text was not valid UTF-8' });
}

export const MAX_NOTE_CHARS = 500;

/** What a person sends to acknowledge or resolve (an HTTP body, the form behind a link). */
export const IncidentNoteSchema = z.strictObject({
  note: personText(MAX_NOTE_CHARS).optional(),
});
export type IncidentNote = z.output<typeof IncidentNoteSchema>;

const ActionSchema = z.strictObject({ actor: ActorSchema, note: personText(MAX_NOTE_CHARS).optional() });

/** The longest range the figures cover at once. */
export const MAX_FIGURES_DAYS = 400;
export const MAX_OPEN_LISTED = 1000;
const MAX_DETAIL_CHARS = 500;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function toIncident(r: IncidentRow): Incident {
  return {
    id: r.id,
    site: r.site,
    alarm: r.alarm,
    known: r.known === 1,
    severity: r.severity,
    detail: r.detail,
    status: r.status,
    raisedAt: new Date(r.raised_ms).toISOString(),
    openedAt: new Date(r.opened_ms).toISOString(),
    notifiedAt: iso(r.notified_ms),
    acknowledged: r.acknowledged_ms === null ? null : { by: r.acknowledged_by ?? '', at: new Date(r.acknowledged_ms).toISOString(), note: r.ack_note },
    cleared: r.cleared_ms === null ? null : { by: r.cleared_by ?? '', at: new Date(r.cleared_ms).toISOString() },
  };
}

function toNotification(r: NotificationRow): NotificationRecord {
  return {
    step: r.step,
    repeat: r.repeat,
    recipient: r.recipient,
    channel: r.channel,
    address: r.address,
    handedAt: new Date(r.handed_ms).toISOString(),
    deliveredAt: iso(r.delivered_ms),
    failed: r.failed,
  };
}

/** Nearest rank: the smallest value with at least p of the values at or below it. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? null;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function siteActor(site: string): string {
  return `site:${site}`;
}

export class Incidents extends EventEmitter<{ change: [IncidentChange] }> implements DeliveryReports {
  readonly tables: IncidentTables;

  constructor(readonly db: Db) {
    super();
    this.setMaxListeners(0);
    this.tables = new IncidentTables(db);
  }

  // ---- what happens at the branches ---------------------------------------------------------------------------

  /**
   * An alarm event from a branch, `now` being when central received it. A raise opens an incident, or is history on
   * the one already open; a clear closes the open one (a clear with none open changes nothing).
   */
  alarm(report: AlarmReport, now: Date): Incident | null {
    if (report.state === 'raised') {
      const raisedMs = Date.parse(report.at);
      const known = isKnown(ALARM_NAMES, report.alarm);
      const severity = report.severity ?? (known ? ALARM_SEVERITY[report.alarm as keyof typeof ALARM_SEVERITY] : 'warning');
      return this.raise(
        {
          site: report.site,
          alarm: report.alarm,
          known,
          severity,
          detail: report.detail ?? null,
          raisedMs: Number.isFinite(raisedMs) ? raisedMs : now.getTime(),
          actor: siteActor(report.site),
        },
        now,
      );
    }
    return this.clear(report.site, report.alarm, siteActor(report.site), now);
  }

  /**
   * A branch's availability (its retained message or last will), `at` being since when. Going offline is only
   * noted: it becomes an incident when `raiseOverdueOffline` finds it lasted long enough. Coming back clears it.
   */
  availability(site: string, online: boolean, at: Date): void {
    if (online) {
      const cleared = this.db.transaction(() => {
        this.tables.online(site);
        return this.clearRow(site, OFFLINE_ALARM, siteActor(site), at, 'online again');
      })();
      if (cleared) this.emit('change', { kind: 'cleared', incident: cleared });
      return;
    }
    this.tables.offline(site, at.getTime());
  }

  /** Opens an `offline` incident for each branch offline since `afterMs` before `now` or longer (once per absence). */
  raiseOverdueOffline(now: Date, afterMs: number, severity: string): Incident[] {
    const out: Incident[] = [];
    for (const { site, since_ms } of this.tables.overdueOffline(now.getTime() - afterMs)) {
      const minutes = Math.floor((now.getTime() - since_ms) / 60_000);
      this.tables.offlineRaised(site);
      out.push(this.raise({ site, alarm: OFFLINE_ALARM, known: true, severity, detail: `offline for ${minutes} min`, raisedMs: since_ms, actor: 'central' }, now));
    }
    return out;
  }

  // ---- what people do ------------------------------------------------------------------------------------------

  /** Acknowledge: whoever `actor` is takes it on, and escalation stops. Refused, naming why, when already done. */
  acknowledge(id: number, action: { actor: string; note?: string | undefined }, at: Date): ChangeOutcome {
    return this.act(id, action, at, 'acknowledged', (row, { actor, note }) => {
      if (row.acknowledged_ms !== null) {
        return { ok: false, code: 'already-acknowledged', error: `incident ${id} was already acknowledged at ${iso(row.acknowledged_ms)} by ${row.acknowledged_by}` };
      }
      this.tables.acknowledge(id, at.getTime(), actor, note);
      return undefined;
    });
  }

  /** An operator closes the incident (whatever the branch says; a new raise then opens a new one). */
  resolve(id: number, action: { actor: string; note?: string | undefined }, at: Date): ChangeOutcome {
    return this.act(id, action, at, 'resolved', (_row, { actor }) => {
      this.tables.clear(id, at.getTime(), actor);
      return undefined;
    });
  }

  /**
   * What a person does to an open incident, in one transaction: the action checked, the incident found and not yet
   * cleared, `apply` (which may refuse), the history row, then the change told to listeners.
   */
  private act(
    id: number,
    action: { actor: string; note?: string | undefined },
    at: Date,
    kind: 'acknowledged' | 'resolved',
    apply: (row: IncidentRow, action: { actor: string; note: string | null }) => Extract<ChangeOutcome, { ok: false }> | undefined,
  ): ChangeOutcome {
    const checked = validate(ActionSchema, action);
    if (!checked.ok) return { ok: false, code: 'invalid', error: checked.errors.join('; ') };
    const actor = checked.value.actor;
    const note = checked.value.note ?? null;
    const result = this.db.transaction((): ChangeOutcome => {
      const row = this.tables.byId(id);
      if (!row) return { ok: false, code: 'not-found', error: `no incident ${id}` };
      if (row.cleared_ms !== null) {
        return { ok: false, code: 'cleared', error: `incident ${id} was already cleared at ${iso(row.cleared_ms)} by ${row.cleared_by}` };
      }
      const refused = apply(row, { actor, note });
      if (refused !== undefined) return refused;
      this.tables.addHistory(id, at.getTime(), kind, actor, note);
      return { ok: true, incident: toIncident(this.tables.byId(id) as IncidentRow) };
    })();
    if (result.ok) this.emit('change', { kind, incident: result.incident });
    return result;
  }

  // ---- what the scheduler and the outbox report ----------------------------------------------------------------

  /** Open incidents nobody has acknowledged yet, oldest first: the ones escalation works on. */
  awaitingAcknowledgement(): Incident[] {
    return this.tables.awaitingAcknowledgement().map(toIncident);
  }

  /** The once-only keys (`notificationKey`) already handed over for this incident. */
  handedKeys(id: number): Set<string> {
    return new Set(
      this.tables
        .notificationsOf(id)
        .map((n) => notificationKey({ incidentId: n.incident_id, step: n.step, repeat: n.repeat, recipient: { name: n.recipient, channel: n.channel as Channel, address: n.address } })),
    );
  }

  /**
   * Notes requests as handed to the outbox (call it in the same transaction as the outbox's write). Returns the
   * ones not handed before; the incident becomes `notified` with its first.
   */
  recordHanded(requests: readonly NotificationRequest[], at: Date): NotificationRequest[] {
    const fresh = requests.filter((r) =>
      this.tables.hand({
        incident_id: r.incidentId,
        step: r.step,
        repeat: r.repeat,
        channel: r.recipient.channel,
        address: r.recipient.address,
        recipient: r.recipient.name,
        handed_ms: at.getTime(),
      }),
    );
    const byRound = new Map<string, NotificationRequest[]>();
    for (const r of fresh) {
      const key = `${r.incidentId}:${r.step}:${r.repeat}`;
      byRound.set(key, [...(byRound.get(key) ?? []), r]);
    }
    for (const round of byRound.values()) {
      const first = round[0] as NotificationRequest;
      const whom = round.map((r) => `${r.recipient.name} (${r.recipient.channel})`).join(', ');
      const what = first.repeat === 0 ? `step ${first.step + 1}` : `step ${first.step + 1}, reminder ${first.repeat}`;
      this.tables.markNotified(first.incidentId, at.getTime());
      this.tables.addHistory(first.incidentId, at.getTime(), 'notified', 'central', shorten(`${what}: ${whom}`, MAX_DETAIL_CHARS));
    }
    return fresh;
  }

  delivered(request: NotificationRequest, at: Date): void {
    if (!this.tables.markDelivered(this.keyOf(request), at.getTime())) return;
    this.tables.addHistory(request.incidentId, at.getTime(), 'delivered', 'central', `${request.recipient.name} (${request.recipient.channel})`);
    this.changed(request.incidentId, 'delivered');
  }

  gaveUp(request: NotificationRequest, reason: string, at: Date): void {
    const why = shorten(reason, 200);
    if (!this.tables.markFailed(this.keyOf(request), why)) return;
    this.tables.addHistory(
      request.incidentId,
      at.getTime(),
      'delivery-failed',
      'central',
      `${request.recipient.name} (${request.recipient.channel}): ${why}`,
    );
    this.changed(request.incidentId, 'delivery-failed');
  }

  channelFailed(channel: Channel, reason: string, at: Date): void {
    this.raise(
      {
        site: CENTRAL_SITE,
        alarm: channelFailedAlarm(channel),
        known: true,
        severity: 'major',
        detail: shorten(reason, MAX_DETAIL_CHARS),
        raisedMs: at.getTime(),
        actor: 'central',
      },
      at,
    );
  }

  channelRecovered(channel: Channel, at: Date): void {
    this.clear(CENTRAL_SITE, channelFailedAlarm(channel), 'central', at);
  }

  // ---- what the dashboard reads --------------------------------------------------------------------------------

  /** Open incidents (acknowledged ones too, until cleared), newest first. */
  open(limit = 200): Incident[] {
    return this.tables.open(Math.min(Math.max(1, Math.floor(limit)), MAX_OPEN_LISTED)).map(toIncident);
  }

  /** A page of incidents, newest first (by id): open ones only, or all; of one site or alarm; before an id. */
  list(filter: { state: 'open' | 'all'; site?: string | undefined; alarm?: string | undefined; before?: number | undefined; limit: number }): Incident[] {
    return this.tables
      .page({
        openOnly: filter.state === 'open',
        site: filter.site ?? null,
        alarm: filter.alarm ?? null,
        beforeId: filter.before ?? Number.MAX_SAFE_INTEGER,
        limit: Math.min(Math.max(1, Math.floor(filter.limit)), MAX_OPEN_LISTED),
      })
      .map(toIncident);
  }

  get(id: number): IncidentDetail | null {
    const row = this.tables.byId(id);
    if (!row) return null;
    return {
      ...toIncident(row),
      history: this.tables.historyOf(id).map((h) => ({ at: new Date(h.at_ms).toISOString(), kind: h.kind as HistoryKind, actor: h.actor, note: h.note })),
      notifications: this.tables.notificationsOf(id).map(toNotification),
    };
  }

  /** Incidents opened in [from, to): counts by type and branch, and time to acknowledge. */
  figures(from: Date, to: Date): IncidentFigures {
    const a = from.getTime();
    const b = to.getTime();
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new RangeError('from and to must be dates');
    if (b <= a) throw new RangeError('to must be after from');
    if (b - a > MAX_FIGURES_DAYS * 86_400_000) throw new RangeError(`the range must be at most ${MAX_FIGURES_DAYS} days`);
    const rows = this.tables.countsBetween(a, b);
    const sum = (key: (r: (typeof rows)[number]) => string): Map<string, number> => {
      const m = new Map<string, number>();
      for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + r.n);
      return m;
    };
    const sorted = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
    const times = this.tables.ackTimesBetween(a, b);
    const seconds = (ms: number | null): number | null => (ms === null ? null : Math.round(ms / 1000));
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      total: rows.reduce((n, r) => n + r.n, 0),
      byAlarm: sorted(sum((r) => r.alarm)).map(([alarm, count]) => ({ alarm, count })),
      bySite: sorted(sum((r) => r.site)).map(([site, count]) => ({ site, count })),
      bySiteAndAlarm: rows.map((r) => ({ site: r.site, alarm: r.alarm, count: r.n })),
      timeToAcknowledge: { count: times.length, medianSeconds: seconds(percentile(times, 0.5)), p95Seconds: seconds(percentile(times, 0.95)) },
      unacknowledged: this.tables.unacknowledgedBetween(a, b),
    };
  }

  /** Deletes incidents cleared before `before` with their history (central's retention). */
  prune(before: Date): number {
    return this.db.transaction(() => this.tables.prune(before.getTime()))();
  }

  // ---- inside ------------------------------------------------------------------------------------------------------

  private raise(
    r: { site: string; alarm: string; known: boolean; severity: string; detail: string | null; raisedMs: number; actor: string },
    now: Date,
  ): Incident {
    const { incident, kind } = this.db.transaction(() => {
      const open = this.tables.openFor(r.site, r.alarm);
      if (open) {
        // A higher severity on the repeat (a newer gateway's reading) is kept; a lower one never hides the first.
        if (severityRank(r.severity) > severityRank(open.severity)) this.tables.setSeverity(open.id, r.severity);
        this.tables.addHistory(open.id, now.getTime(), 'raised-again', r.actor, r.detail === null ? null : shorten(r.detail, MAX_DETAIL_CHARS));
        return { incident: toIncident(this.tables.byId(open.id) as IncidentRow), kind: 'raised-again' as const };
      }
      const detail = r.detail === null ? null : shorten(r.detail, MAX_DETAIL_CHARS);
      const id = this.tables.insert({
        site: r.site,
        alarm: r.alarm,
        known: r.known ? 1 : 0,
        severity: r.severity,
        detail,
        raised_ms: r.raisedMs,
        opened_ms: now.getTime(),
      });
      this.tables.addHistory(id, now.getTime(), 'raised', r.actor, detail);
      return { incident: toIncident(this.tables.byId(id) as IncidentRow), kind: 'raised' as const };
    })();
    this.emit('change', { kind, incident });
    return incident;
  }

  private clear(site: string, alarm: string, actor: string, at: Date): Incident | null {
    const cleared = this.db.transaction(() => this.clearRow(site, alarm, actor, at, null))();
    if (cleared) this.emit('change', { kind: 'cleared', incident: cleared });
    return cleared;
  }

  private clearRow(site: string, alarm: string, actor: string, at: Date, note: string | null): Incident | null {
    const open = this.tables.openFor(site, alarm);
    if (!open) return null;
    this.tables.clear(open.id, at.getTime(), actor);
    this.tables.addHistory(open.id, at.getTime(), 'cleared', actor, note);
    return toIncident(this.tables.byId(open.id) as IncidentRow);
  }

  private keyOf(r: NotificationRequest) {
    return { incidentId: r.incidentId, step: r.step, repeat: r.repeat, channel: r.recipient.channel, address: r.recipient.address };
  }

  /** Tells the listeners (the dashboard) that this incident changed, e.g. after a hand-over's transaction committed. */
  changed(id: number, kind: HistoryKind): void {
    const row = this.tables.byId(id);
    if (row) this.emit('change', { kind, incident: toIncident(row) });
  }
}

