// Incidents at central: each alarm a branch raises, each branch offline for too long, each channel that fails.
// Lifecycle raised → notified → acknowledged → cleared, every step in the history with who and when. One open
// incident per (site, alarm). Time is always handed in (`at`), never read here.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { ALARM_NAMES, ALARM_SEVERITY, ActorSchema, isKnown } from '../../policies/contract/common.js';
import { validate } from '../../policies/errors.js';
import { CENTRAL_SITE, channelFailedAlarm, OFFLINE_ALARM } from './incident-names.js';
import type { ActInput, ActResult, AlertsStore, OutboxInsert, RaiseInput } from './alerts-store.js';
import type { IncidentRow, IncidentStatus, NotificationRow } from './incident-store.js';
import { notificationKey, type Channel, type DeliveryReports, type NotificationRequest, type NotificationSink } from './types.js';

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
  /** The event's id (ReceivedEvent's): each instance of a cluster is handed it, and it is recorded once. */
  id?: string | undefined;
}

export interface IncidentChange {
  kind: HistoryKind;
  incident: Incident;
  /**
   * Another instance made the change and told this one (central/cluster/live-notify.ts): this instance's dashboards
   * show it, and what the change sets off once (the branch told of an acknowledged help call) was done there.
   */
  relayed?: true | undefined;
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

interface RaiseRequest {
  site: string;
  alarm: string;
  known: boolean;
  severity: string;
  detail: string | null;
  raisedMs: number;
  actor: string;
  eventId?: string | undefined;
}

function raiseOf(report: AlarmReport, now: Date): RaiseRequest {
  const raisedMs = Date.parse(report.at);
  const known = isKnown(ALARM_NAMES, report.alarm);
  const severity = report.severity ?? (known ? ALARM_SEVERITY[report.alarm as keyof typeof ALARM_SEVERITY] : 'warning');
  return {
    site: report.site,
    alarm: report.alarm,
    known,
    severity,
    detail: report.detail ?? null,
    raisedMs: Number.isFinite(raisedMs) ? raisedMs : now.getTime(),
    actor: siteActor(report.site),
    eventId: report.id,
  };
}

function toRaise(r: RaiseRequest): RaiseInput {
  return {
    site: r.site,
    alarm: r.alarm,
    known: r.known ? 1 : 0,
    severity: r.severity,
    detail: r.detail === null ? null : shorten(r.detail, MAX_DETAIL_CHARS),
    raised_ms: r.raisedMs,
    actor: r.actor,
    eventId: r.eventId ?? null,
  };
}

function handKey(incidentId: number, step: number, repeat: number, channel: string, address: string): string {
  return `${incidentId}\n${step}\n${repeat}\n${channel}\n${address}`;
}

export class Incidents extends EventEmitter<{ change: [IncidentChange] }> implements DeliveryReports {
  constructor(readonly store: AlertsStore) {
    super();
    this.setMaxListeners(0);
  }

  // ---- what happens at the branches ---------------------------------------------------------------------------

  /**
   * An alarm event from a branch, `now` being when central received it. A raise opens an incident, or is history on
   * the one already open; a clear closes the open one (a clear with none open changes nothing).
   */
  async alarm(report: AlarmReport, now: Date): Promise<Incident | null> {
    if (report.state === 'raised') return this.raise(raiseOf(report, now), now);
    return this.clear(report.site, report.alarm, siteActor(report.site), now);
  }

  /**
   * The first time this instance's store sees a branch's state: its active alarms become incidents, once whichever
   * instance sees it first (not again at every restart). Null when the branch was seen before.
   */
  async firstSight(site: string, reports: readonly AlarmReport[], now: Date): Promise<Incident[] | null> {
    const raised = await this.store.firstSight(site, reports.map((r) => toRaise(raiseOf(r, now))), now.getTime());
    if (raised === null) return null;
    return raised.map(({ row, kind }) => {
      const incident = toIncident(row);
      this.emit('change', { kind, incident });
      return incident;
    });
  }

  /**
   * A branch's availability (its retained message or last will), `at` being since when. Going offline is only
   * noted: it becomes an incident when `raiseOverdueOffline` finds it lasted long enough. Coming back clears it.
   */
  async availability(site: string, online: boolean, at: Date): Promise<void> {
    if (online) {
      const cleared = await this.store.clearOpen({ site, alarm: OFFLINE_ALARM, actor: siteActor(site), atMs: at.getTime(), note: 'online again', online: true });
      if (cleared) this.emit('change', { kind: 'cleared', incident: toIncident(cleared) });
      return;
    }
    await this.store.offline(site, at.getTime());
  }

  /** Opens an `offline` incident for each branch offline since `afterMs` before `now` or longer (once per absence). */
  async raiseOverdueOffline(now: Date, afterMs: number, severity: string): Promise<Incident[]> {
    const out: Incident[] = [];
    for (const { site, since_ms } of await this.store.claimOverdueOffline(now.getTime() - afterMs)) {
      const minutes = Math.floor((now.getTime() - since_ms) / 60_000);
      out.push(await this.raise({ site, alarm: OFFLINE_ALARM, known: true, severity, detail: `offline for ${minutes} min`, raisedMs: since_ms, actor: 'central' }, now));
    }
    return out;
  }

  // ---- what people do ------------------------------------------------------------------------------------------

  /** Acknowledge: whoever `actor` is takes it on, and escalation stops. Refused, naming why, when already done. */
  acknowledge(id: number, action: { actor: string; note?: string | undefined }, at: Date): Promise<ChangeOutcome> {
    return this.act<never>(id, action, at, 'acknowledged', (a) => this.store.act(a));
  }

  /** An operator closes the incident (whatever the branch says; a new raise then opens a new one). */
  resolve(id: number, action: { actor: string; note?: string | undefined }, at: Date): Promise<ChangeOutcome> {
    return this.act<never>(id, action, at, 'resolved', (a) => this.store.act(a));
  }

  /**
   * What a person does to an open incident, in one store call (`apply`: the incident found and not yet cleared,
   * changed, its history row), then the change told to listeners. `apply` may use a link up with it (ack-links.ts).
   */
  async act<R extends { ok: false; code: string }>(
    id: number,
    action: { actor: string; note?: string | undefined },
    at: Date,
    kind: 'acknowledged' | 'resolved',
    apply: (a: ActInput) => Promise<ActResult | R>,
  ): Promise<ChangeOutcome | R> {
    const checked = validate(ActionSchema, action);
    if (!checked.ok) return { ok: false, code: 'invalid', error: checked.errors.join('; ') };
    const done = await apply({ id, kind, actor: checked.value.actor, note: checked.value.note ?? null, atMs: at.getTime() });
    if (done.ok) {
      const incident = toIncident(done.row);
      this.emit('change', { kind, incident });
      return { ok: true, incident };
    }
    if (done.code === 'not-found') return { ok: false, code: 'not-found', error: `no incident ${id}` };
    if ('row' in done && done.code === 'cleared') {
      const row = done.row as IncidentRow;
      return { ok: false, code: 'cleared', error: `incident ${id} was already cleared at ${iso(row.cleared_ms)} by ${row.cleared_by}` };
    }
    if ('row' in done && done.code === 'already-acknowledged') {
      const row = done.row as IncidentRow;
      return { ok: false, code: 'already-acknowledged', error: `incident ${id} was already acknowledged at ${iso(row.acknowledged_ms)} by ${row.acknowledged_by}` };
    }
    return done as R;
  }

  // ---- what the scheduler and the outbox report ----------------------------------------------------------------

  /** Open incidents nobody has acknowledged yet, oldest first: the ones escalation works on. */
  async awaitingAcknowledgement(): Promise<Incident[]> {
    return (await this.store.awaitingAcknowledgement()).map(toIncident);
  }

  /** The once-only keys (`notificationKey`) already handed over for this incident. */
  async handedKeys(id: number): Promise<Set<string>> {
    return new Set(
      (await this.store.notificationsOf(id)).map((n) =>
        notificationKey({ incidentId: n.incident_id, step: n.step, repeat: n.repeat, recipient: { name: n.recipient, channel: n.channel as Channel, address: n.address } }),
      ),
    );
  }

  /**
   * Hands requests to the outbox (`sink`) in one transaction with their record here: the ones not handed before
   * are noted, the incident becomes `notified` with its first, and the outbox's rows are written; then the sink is
   * told they committed. Returns the ones not handed before.
   */
  async handOver(requests: readonly NotificationRequest[], at: Date, sink: NotificationSink, severity?: string): Promise<NotificationRequest[]> {
    const byKey = new Map(requests.map((r) => [handKey(r.incidentId, r.step, r.repeat, r.recipient.channel, r.recipient.address), r]));
    const rows = requests.map((r) => ({
      incident_id: r.incidentId,
      step: r.step,
      repeat: r.repeat,
      channel: r.recipient.channel,
      address: r.recipient.address,
      recipient: r.recipient.name,
      handed_ms: at.getTime(),
    }));
    let fresh: NotificationRequest[] = [];
    let planned: OutboxInsert[] = [];
    const result = await this.store.handOver(rows, at.getTime(), (handed) => {
      fresh = handed.map((h) => byKey.get(handKey(h.incident_id, h.step, h.repeat, h.channel, h.address)) as NotificationRequest);
      const byRound = new Map<string, NotificationRequest[]>();
      for (const r of fresh) {
        const key = `${r.incidentId}:${r.step}:${r.repeat}`;
        byRound.set(key, [...(byRound.get(key) ?? []), r]);
      }
      const notified = [...byRound.values()].map((round) => {
        const first = round[0] as NotificationRequest;
        const whom = round.map((r) => `${r.recipient.name} (${r.recipient.channel})`).join(', ');
        const what = first.repeat === 0 ? `step ${first.step + 1}` : `step ${first.step + 1}, reminder ${first.repeat}`;
        return { incidentId: first.incidentId, note: shorten(`${what}: ${whom}`, MAX_DETAIL_CHARS) };
      });
      planned = fresh.length === 0 ? [] : sink.rows(fresh, at, severity);
      return { notified, outbox: planned };
    });
    if (fresh.length > 0) await sink.handed(planned, result.outbox, at);
    return fresh;
  }

  async delivered(request: NotificationRequest, at: Date): Promise<void> {
    if (!(await this.store.reportDelivery(this.keyOf(request), at.getTime(), { delivered: true }, `${request.recipient.name} (${request.recipient.channel})`))) return;
    await this.changed(request.incidentId, 'delivered');
  }

  async gaveUp(request: NotificationRequest, reason: string, at: Date): Promise<void> {
    const why = shorten(reason, 200);
    const note = `${request.recipient.name} (${request.recipient.channel}): ${why}`;
    if (!(await this.store.reportDelivery(this.keyOf(request), at.getTime(), { failed: why }, note))) return;
    await this.changed(request.incidentId, 'delivery-failed');
  }

  async channelFailed(channel: Channel, reason: string, at: Date): Promise<void> {
    await this.raise(
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

  async channelRecovered(channel: Channel, at: Date): Promise<void> {
    await this.clear(CENTRAL_SITE, channelFailedAlarm(channel), 'central', at);
  }

  // ---- what the dashboard reads --------------------------------------------------------------------------------

  /** Open incidents (acknowledged ones too, until cleared), newest first. */
  async open(limit = 200): Promise<Incident[]> {
    return (await this.store.openIncidents(Math.min(Math.max(1, Math.floor(limit)), MAX_OPEN_LISTED))).map(toIncident);
  }

  /** A page of incidents, newest first (by id): open ones only, or all; of one site or alarm; before an id. */
  async list(filter: { state: 'open' | 'all'; site?: string | undefined; alarm?: string | undefined; before?: number | undefined; limit: number }): Promise<Incident[]> {
    return (
      await this.store.incidentPage({
        openOnly: filter.state === 'open',
        site: filter.site ?? null,
        alarm: filter.alarm ?? null,
        beforeId: filter.before ?? Number.MAX_SAFE_INTEGER,
        limit: Math.min(Math.max(1, Math.floor(filter.limit)), MAX_OPEN_LISTED),
      })
    ).map(toIncident);
  }

  async get(id: number): Promise<IncidentDetail | null> {
    const row = await this.store.incident(id);
    if (!row) return null;
    const [history, notifications] = await Promise.all([this.store.historyOf(id), this.store.notificationsOf(id)]);
    return {
      ...toIncident(row),
      history: history.map((h) => ({ at: new Date(h.at_ms).toISOString(), kind: h.kind as HistoryKind, actor: h.actor, note: h.note })),
      notifications: notifications.map(toNotification),
    };
  }

  /** Incidents opened in [from, to): counts by type and branch, and time to acknowledge. */
  async figures(from: Date, to: Date): Promise<IncidentFigures> {
    const a = from.getTime();
    const b = to.getTime();
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new RangeError('from and to must be dates');
    if (b <= a) throw new RangeError('to must be after from');
    if (b - a > MAX_FIGURES_DAYS * 86_400_000) throw new RangeError(`the range must be at most ${MAX_FIGURES_DAYS} days`);
    const rows = await this.store.countsBetween(a, b);
    const sum = (key: (r: (typeof rows)[number]) => string): Map<string, number> => {
      const m = new Map<string, number>();
      for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + r.n);
      return m;
    };
    const sorted = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
    const times = await this.store.ackTimesBetween(a, b);
    const seconds = (ms: number | null): number | null => (ms === null ? null : Math.round(ms / 1000));
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      total: rows.reduce((n, r) => n + r.n, 0),
      byAlarm: sorted(sum((r) => r.alarm)).map(([alarm, count]) => ({ alarm, count })),
      bySite: sorted(sum((r) => r.site)).map(([site, count]) => ({ site, count })),
      bySiteAndAlarm: rows.map((r) => ({ site: r.site, alarm: r.alarm, count: r.n })),
      timeToAcknowledge: { count: times.length, medianSeconds: seconds(percentile(times, 0.5)), p95Seconds: seconds(percentile(times, 0.95)) },
      unacknowledged: await this.store.unacknowledgedBetween(a, b),
    };
  }

  /** Deletes incidents cleared before `before` with their history (central's retention). */
  prune(before: Date): Promise<number> {
    return this.store.pruneIncidents(before.getTime());
  }

  // ---- inside ------------------------------------------------------------------------------------------------------

  private async raise(r: RaiseRequest, now: Date): Promise<Incident> {
    const { row, kind } = await this.store.raise(toRaise(r), now.getTime());
    const incident = toIncident(row);
    this.emit('change', { kind, incident });
    return incident;
  }

  private async clear(site: string, alarm: string, actor: string, at: Date): Promise<Incident | null> {
    const row = await this.store.clearOpen({ site, alarm, actor, atMs: at.getTime(), note: null });
    if (!row) return null;
    const cleared = toIncident(row);
    this.emit('change', { kind: 'cleared', incident: cleared });
    return cleared;
  }

  private keyOf(r: NotificationRequest) {
    return { incidentId: r.incidentId, step: r.step, repeat: r.repeat, channel: r.recipient.channel, address: r.recipient.address };
  }

  /**
   * A change another instance made, told to this one's listeners as the incident now stands in the shared store
   * (false when it is gone, purged meanwhile).
   */
  async relay(id: number, kind: HistoryKind): Promise<boolean> {
    const row = await this.store.incident(id);
    if (row) this.emit('change', { kind, incident: toIncident(row), relayed: true });
    return row !== undefined;
  }

  /** Tells the listeners (the dashboard) that this incident changed, e.g. after a hand-over's transaction committed. */
  async changed(id: number, kind: HistoryKind): Promise<void> {
    const row = await this.store.incident(id);
    if (row) this.emit('change', { kind, incident: toIncident(row) });
  }
}

