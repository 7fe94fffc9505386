// Alerting as central runs it: the incident side (alerts.ts) and the outbox with its channels (outbox-sink.ts) put
// together, fed from central's bus, with what the dashboard asks of it (status: is anybody being told?). Built by
// central/main.ts whenever central runs: with no channel configured, incidents still open and show, and the status
// says nobody is told. Nothing here may stop central or ingest: a fault is logged and is itself shown.
import type { Database as Db } from 'better-sqlite3';
import type { PgPool } from '../pg/pool.js';
import type { Logger } from 'pino';
import type { CentralBus } from '../bus.js';
import type { SiteRow } from '../history/history-store.js';
import { createAlerts, type Alerts } from './alerts.js';
import type { AlertChannelsConfig } from './channels-config.js';
import { createAlertChannels, type AlertChannels } from './channels/create.js';
import type { Timers } from './escalation.js';
import { createIncidentOutbox, type IncidentOutbox } from './outbox-sink.js';
import type { OutboxTimer, ChannelHealth } from './outbox.js';
import type { AlertsStore } from './alerts-store.js';
import { PgAlertsStore } from './pg-alerts-store.js';
import { SqliteAlertsStore } from './sqlite-alerts-store.js';

export interface CentralAlertsConfig extends AlertChannelsConfig {
  linkTtlMinutes: number;
  tickSeconds: number;
}

export interface CentralAlertsDeps {
  /** Central's own SQLite file: where alerting is kept when there is no shared database. */
  db: Db;
  /**
   * The shared PostgreSQL (store.postgres): when set, incidents, rules, links and the outbox live there, for every
   * instance (an incident acknowledged through one is acknowledged on the leader, which tells).
   */
  pool?: PgPool | null | undefined;
  config: CentralAlertsConfig;
  timezone: string;
  /** Central's public address (http.publicUrl, else oidc.publicUrl, else where it listens), without a trailing slash. */
  publicUrl: () => string;
  clock: { now(): Date };
  logger: Logger;
  bus: Pick<CentralBus, 'on' | 'off'>;
  site(id: string): Promise<Pick<SiteRow, 'online' | 'since' | 'state'> | null>;
  /**
   * Escalation and the outbox (the telling) wait for startTelling(): of several central instances only the leader
   * tells, so that a person is told once; the others record the same incidents. Default: they start at once.
   */
  tellWhenLeading?: boolean | undefined;
  /** Tests step escalation and the outbox on fake time. */
  timers?: Timers | undefined;
  outboxTimer?: OutboxTimer | undefined;
}

/** What the dashboard shows above the incidents: whether anybody is being told, and why not. */
export interface AlertsStatus {
  /** False when no channel is configured, every channel is failing, or no rule tells anyone. */
  told: boolean;
  /** Why nobody is told (empty when somebody is). */
  problems: string[];
  channels: Array<Omit<ChannelHealth, 'since'> & { since: string | null }>;
  outbox: Record<string, number>;
  rules: { version: number | null; rules: number; contacts: number };
  open: number;
}

export interface CentralAlerts {
  readonly alerts: Alerts;
  readonly io: IncidentOutbox;
  readonly store: AlertsStore;
  status(): Promise<AlertsStatus>;
  /** A fault of central's own raised or cleared (an incident at `(central)`); a failure to record it is logged. */
  centralAlarm(report: { site: string; alarm: string; state: 'raised' | 'cleared'; severity?: string | undefined; detail?: string | undefined; at: string }, now: Date): Promise<void>;
  /** Starts escalation and the outbox (with tellWhenLeading, when this instance leads); nothing when they run. */
  startTelling(): void;
  /**
   * Stops escalation and the outbox, and waits for the sends under way (this instance no longer leads: another
   * tells from now on). What is left is told by whichever instance tells next.
   */
  stopTelling(): Promise<void>;
  /** Whether escalation and the outbox run here. */
  readonly telling: boolean;
  /** Central's daily purge. */
  purgeBefore(before: Date): Promise<void>;
  close(): Promise<void>;
}

/**
 * How old a claim of a shared outbox row must be before another instance sends the row again: longer than a send can
 * take on any configured channel (each is cut off at its timeoutMs; an e-mail's several steps each), so that a leader
 * that lost its lock mid-send is not doubled by the next one, and one that died has its rows sent about a minute late.
 */
export function resumeAfterMs(config: Pick<AlertChannelsConfig, 'channels'>): number {
  const longest = Math.max(10_000, ...Object.values(config.channels).map((c) => c.timeoutMs));
  return 3 * longest + 10_000;
}

/**
 * Builds and starts alerting. Throws only for a configuration central cannot start with (a secret file missing, two
 * channels of one type with neither named after it): the reason names the field.
 */
export function startCentralAlerts(deps: CentralAlertsDeps): CentralAlerts {
  const logger = deps.logger.child({ module: 'alerts' });
  const channels: AlertChannels = createAlertChannels(deps.config, { clock: deps.clock }, 'alerts');
  const store: AlertsStore = deps.pool ? PgAlertsStore.onPool(deps.pool) : new SqliteAlertsStore(deps.db);
  const alerts = createAlerts({
    store,
    timezone: deps.timezone,
    clock: deps.clock,
    logger,
    linkPrefix: () => `${deps.publicUrl().replace(/\/+$/, '')}/ack/`,
    linkTtlMs: deps.config.linkTtlMinutes * 60_000,
    timers: deps.timers,
    intervalMs: deps.config.tickSeconds * 1000,
  });
  const io = createIncidentOutbox({
    store,
    channels: channels.byName,
    clock: deps.clock,
    logger,
    config: deps.config.outbox,
    timer: deps.outboxTimer,
    reports: alerts.incidents,
    links: alerts.links,
    changes: alerts.incidents,
    // Shared by instances: a row another one claimed is taken over only when no send of it can still be under way.
    resumeAfterMs: deps.pool ? resumeAfterMs(deps.config) : 0,
  });
  let telling = false;
  // A start waits for the stop before it: the outbox must not be started while its last sends are being awaited.
  let stopping: Promise<void> | null = null;
  const begin = (): void => {
    if (!telling) return;
    io.outbox.start();
    alerts.start(io.sink);
    logger.info('alerts: this instance tells (escalation and the outbox run here)');
  };
  const startTelling = (): void => {
    if (telling) return;
    telling = true;
    if (stopping === null) begin();
    else void stopping.then(begin);
  };
  const stopTelling = async (): Promise<void> => {
    if (!telling) return stopping ?? undefined;
    telling = false;
    logger.warn('alerts: this instance stops telling (escalation and the outbox stop here)');
    const stop = (stopping ?? Promise.resolve()).then(async () => {
      await alerts.stop();
      await io.outbox.stop();
    });
    stopping = stop;
    await stop;
    if (stopping === stop) stopping = null;
  };
  if (deps.tellWhenLeading !== true) startTelling();
  const unfollow = alerts.follow({ bus: deps.bus, site: (id) => deps.site(id) });

  // An alarm already active in a branch's retained state when this central first sees the branch (raised before
  // central's database existed, or while its events were lost) would otherwise never be an incident.
  const onSite = (id: string): void => {
    deps.site(id).then(
      (row) => alarmsActiveAtFirstSight(id, row?.state),
      (error: unknown) => logger.error({ site: id, err: (error as Error).message }, 'alerts: could not read a branch state for active alarms'),
    );
  };
  const alarmsActiveAtFirstSight = async (id: string, state: SiteRow['state'] | undefined): Promise<void> => {
    try {
      if (!state) return;
      const reports = state.alarms.map((alarm) => ({ site: id, alarm, state: 'raised' as const, at: state.at, detail: 'already active when central first saw this branch' }));
      const raised = await alerts.incidents.firstSight(id, reports, deps.clock.now());
      if (raised !== null && state.alarms.length > 0) logger.info({ site: id, alarms: state.alarms }, 'alerts: alarms already active at a branch seen for the first time');
    } catch (error) {
      logger.error({ site: id, err: (error as Error).message }, 'alerts: could not record the alarms active at a branch seen for the first time');
    }
  };
  deps.bus.on('site', onSite);

  const status = async (): Promise<AlertsStatus> => {
    const health = await io.outbox.channelHealth();
    const rules = await alerts.rules.refresh();
    const doc = rules.doc;
    const problems: string[] = [];
    if (health.length === 0) problems.push('no notification channel is configured (alerts.channels in central’s config)');
    else if (health.every((h) => !h.ok)) problems.push(`every channel is failing: ${health.map((h) => `${h.channel}: ${h.reason ?? 'failing'}`).join('; ')}`);
    if (doc.rules.length === 0) problems.push('no alert rule tells anyone (the rules page)');
    return {
      told: problems.length === 0,
      problems,
      channels: health.map((h) => ({ ...h, since: h.since?.toISOString() ?? null })),
      outbox: await io.outbox.counts(),
      rules: { version: rules.version === 0 ? null : rules.version, rules: doc.rules.length, contacts: doc.contacts.length },
      open: (await alerts.incidents.open(1000)).length,
    };
  };

  return {
    alerts,
    io,
    store,
    status,
    startTelling,
    stopTelling,
    get telling() {
      return telling;
    },
    async centralAlarm(report, now) {
      try {
        await alerts.incidents.alarm(report, now);
      } catch (error) {
        logger.error({ alarm: report.alarm, err: (error as Error).message }, 'alerts: could not record a fault of central as an incident');
      }
    },
    async purgeBefore(before) {
      await alerts.purgeBefore(before);
      await io.outbox.purgeFinishedBefore(before);
    },
    async close() {
      deps.bus.off('site', onSite);
      unfollow();
      await alerts.stop();
      await io.stop();
      await channels.close();
    },
  };
}
