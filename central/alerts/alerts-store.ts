// What alerting keeps, and where: incidents with their history and hand-overs, the branches offline, the branches
// whose state was seen, the rules' versions, acknowledgement links, the outbox and each channel's health, behind one
// asynchronous store. One central instance keeps them in its SQLite file (sqlite-alerts-store.ts); several share
// them in PostgreSQL (pg-alerts-store.ts), so that an incident acknowledged through one instance is acknowledged on
// the leader, which tells.
//
// Every change that reads before it writes, or that must commit with another (the planner's hand-over with the
// outbox's rows, a link used with its acknowledgement), is ONE method here, so that each store makes it atomic its
// own way: a SQLite transaction, a PostgreSQL transaction with the rows locked.
import type { HistoryRow, IncidentRow, NewIncident, NotificationKeyParts, NotificationRow } from './incident-store.js';
import type { NewRow, OutboxRow, OutboxState, SendingRow, ChannelHealthRow } from './outbox-store.js';

export type { HistoryRow, IncidentRow, NewIncident, NotificationKeyParts, NotificationRow } from './incident-store.js';
export type { NewRow, OutboxRow, OutboxState, SendingRow, ChannelHealthRow } from './outbox-store.js';

/** A raise: a new incident, or history on the one open for (site, alarm). */
export interface RaiseInput extends Omit<NewIncident, 'opened_ms'> {
  actor: string;
  /** The alarm event's id, when it came from one: an event handed to several instances is recorded once. */
  eventId: string | null;
}

export interface Raised {
  row: IncidentRow;
  kind: 'raised' | 'raised-again';
}

/** What a person does to an open incident. */
export interface ActInput {
  id: number;
  kind: 'acknowledged' | 'resolved';
  actor: string;
  note: string | null;
  atMs: number;
}

export type ActResult =
  | { ok: true; row: IncidentRow }
  | { ok: false; code: 'not-found' }
  | { ok: false; code: 'cleared' | 'already-acknowledged'; row: IncidentRow };

/** A request handed to the outbox, as the incident's record of it. */
export type HandRow = Omit<NotificationRow, 'delivered_ms' | 'failed'>;

/** An outbox row to insert; `refused` (not null) records it failed at once with that reason. */
export interface OutboxInsert {
  row: NewRow;
  refused: string | null;
}

/** What the planner's hand-over writes besides the requests: a history line per round, the outbox's rows. */
export interface HandOverPlan {
  notified: Array<{ incidentId: number; note: string }>;
  outbox: OutboxInsert[];
}

export interface LinkRow {
  incident_id: number;
  contact: string;
  issued_ms: number;
  expires_ms: number;
  used_ms: number | null;
}

export interface RuleVersionRow {
  version: number;
  doc: string;
  actor: string;
  created_ms: number;
}

export interface AlertsStore {
  // ---- incidents ----
  incident(id: number): Promise<IncidentRow | undefined>;
  openIncidents(limit: number): Promise<IncidentRow[]>;
  incidentPage(filter: { openOnly: boolean; site: string | null; alarm: string | null; beforeId: number; limit: number }): Promise<IncidentRow[]>;
  awaitingAcknowledgement(): Promise<IncidentRow[]>;
  historyOf(id: number): Promise<HistoryRow[]>;
  notificationsOf(id: number): Promise<NotificationRow[]>;
  /** Opens an incident, or adds `raised-again` to the open one (keeping the higher severity). */
  raise(r: RaiseInput, nowMs: number): Promise<Raised>;
  /** Clears the open incident of (site, alarm) with a `cleared` line; `online` also forgets the site's absence. */
  clearOpen(c: { site: string; alarm: string; actor: string; atMs: number; note: string | null; online?: boolean }): Promise<IncidentRow | null>;
  act(a: ActInput): Promise<ActResult>;
  /** The site's last will said offline (the first `since` stands until it is back). */
  offline(site: string, sinceMs: number): Promise<void>;
  /** Branches offline since `beforeMs` or longer not raised yet, marked raised as they are returned (each once). */
  claimOverdueOffline(beforeMs: number): Promise<Array<{ site: string; since_ms: number }>>;
  /**
   * The planner's hand-over, in one transaction: each request recorded once (those handed before are left out),
   * then `plan(fresh)`'s history lines (the incident becomes notified) and outbox rows.
   */
  handOver(requests: readonly HandRow[], atMs: number, plan: (fresh: HandRow[]) => HandOverPlan): Promise<{ fresh: HandRow[]; outbox: Array<{ id: number; created: boolean }> }>;
  /** The outbox's outcome on the incident's record, with its history line; false when already recorded. */
  reportDelivery(key: NotificationKeyParts, atMs: number, outcome: { delivered: true } | { failed: string }, note: string): Promise<boolean>;
  countsBetween(fromMs: number, toMs: number): Promise<Array<{ site: string; alarm: string; n: number }>>;
  ackTimesBetween(fromMs: number, toMs: number): Promise<number[]>;
  unacknowledgedBetween(fromMs: number, toMs: number): Promise<number>;
  /** Incidents cleared before `beforeMs`, with their history and hand-overs. */
  pruneIncidents(beforeMs: number): Promise<number>;

  // ---- branches seen ----
  /** The first time `site` is seen: records it and raises `raises`, in one transaction; null when seen before. */
  firstSight(site: string, raises: readonly RaiseInput[], nowMs: number): Promise<Raised[] | null>;

  // ---- rule versions ----
  ruleVersions(limit: number): Promise<RuleVersionRow[]>;
  ruleVersion(version: number): Promise<RuleVersionRow | undefined>;
  /** A new version, unless `basedOn` is given and another was saved since (then the latest is returned). */
  saveRuleVersion(doc: string, actor: string, atMs: number, basedOn: number | undefined): Promise<{ ok: true; version: number } | { ok: false; latest: number }>;

  // ---- acknowledgement links ----
  insertLink(hash: Buffer, incidentId: number, contact: string, issuedMs: number, expiresMs: number): Promise<void>;
  link(hash: Buffer): Promise<LinkRow | undefined>;
  /** Uses the link (unused, not expired) and acknowledges its incident as `actor`, in one transaction: both or neither. */
  acknowledgeByLink(hash: Buffer, act: ActInput): Promise<ActResult | { ok: false; code: 'used' }>;
  pruneLinks(beforeMs: number): Promise<number>;

  // ---- outbox ----
  outboxInsert(rows: readonly OutboxInsert[], nowMs: number): Promise<Array<{ id: number; created: boolean }>>;
  outboxRow(id: number): Promise<OutboxRow | undefined>;
  outboxForIncident(incidentId: string): Promise<OutboxRow[]>;
  /**
   * Claims due rows (marked sending, the attempt counted), critical first: a row is claimed by one caller only,
   * whichever instance's outbox asks at the same moment.
   */
  claimDue(nowMs: number, excludeChannels: readonly string[], limit: number): Promise<SendingRow[]>;
  outboxDelivered(id: number, nowMs: number): Promise<boolean>;
  outboxRetry(id: number, nextMs: number, error: string): Promise<boolean>;
  outboxFailed(id: number, nowMs: number, error: string): Promise<boolean>;
  outboxCancel(incidentId: string, nowMs: number, reason: string): Promise<number>;
  /**
   * Rows left `sending` are due again at `nowMs`: all of them, or those claimed at or before `claimedBeforeMs` (with
   * several instances, a claim that recent may be another's send under way).
   */
  resumeSending(nowMs: number, claimedBeforeMs?: number): Promise<number>;
  /** When the row `sending` the longest was claimed (null when none is). */
  oldestSendingMs(): Promise<number | null>;
  nextDueMs(): Promise<number | null>;
  outboxCounts(): Promise<Record<OutboxState, number>>;
  waitingByChannel(): Promise<Map<string, number>>;
  purgeFinishedBefore(beforeMs: number): Promise<number>;
  channelHealth(): Promise<ChannelHealthRow[]>;
  putChannelHealth(channel: string, ok: boolean, sinceMs: number, reason: string): Promise<void>;
}
