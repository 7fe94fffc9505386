// Central's composition root: config in, everything built and wired here, nothing read ad hoc elsewhere.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ScryptParams } from '../kit/auth/passwords.js';
import { PSEUDONYM_SECRET_BYTES, createPseudonymizer } from '../policies/pseudonym.js';
import { startCentralAlerts, type CentralAlerts } from './alerts/central-alerts.js';
import { relayHelpAcknowledgements } from './alerts/help-relay.js';
import type { Timers } from './alerts/escalation.js';
import { CENTRAL_SITE, LMS_FEED_ALARM, STORE_ALARM } from './alerts/incident-names.js';
import type { OutboxTimer } from './alerts/outbox.js';
import { oidcRoutes } from './auth/oidc.js';
import { CentralAuth } from './auth/service.js';
import { PgAuthStore } from './auth/pg-auth-store.js';
import { EmbeddedBrokerError, startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { CentralBus } from './bus.js';
import { EMBEDDED_PASSWORD_FILE_REQUIRED, type CentralConfig } from './config.js';
import { defaultAllowedHosts } from './http/host-check.js';
import { buildHttp, type HttpDeps } from './http/server.js';
import { siteDirectory } from './http/summary.js';
import { Ingest, type IngestCommitStats } from './ingest.js';
import { CentralLink } from './link.js';
import { loadCentralKey } from './members/key.js';
import type { PublisherHooks } from './members/publisher.js';
import { MemberDeskChanges } from './members/desk-changes.js';
import { CentralMembers } from './members/service.js';
import { PgMemberStore } from './members/pg-member-store.js';
import { createKohaFeed } from './members/koha/feed.js';
import type { KohaPoller } from './members/koha/poller.js';
import { ExportFolderWatch } from './members/watch.js';
import { loadSigningKey } from './signing-key.js';
import { forgetPersonsBefore } from './person-retention.js';
import { CentralStore } from './store.js';
import { alwaysLeader, CENTRAL_LEADER_KEY, startLeadership, type Leadership } from './cluster/leader.js';
import { startLiveNotify } from './cluster/live-notify.js';
import type { HistoryStore } from './history/history-store.js';
import { openCentralDatabase } from './history/open-history.js';

export interface RunningCentral {
  /** `http://127.0.0.1:8090` — the dashboard; the API is under /api, its OpenAPI document at /api/openapi.json. */
  httpUrl: string;
  /** `mqtt://127.0.0.1:1883` — the broker central listens to (the embedded one, or the configured one). */
  brokerUrl: string;
  /** 4 with the embedded broker (aedes speaks MQTT 3.1.1): gateways pointed at it set `mqtt.protocolVersion: 4`. */
  mqttProtocolVersion: 4 | 5;
  /** Central's own login on its embedded broker, made at this start (null with an external broker). */
  embeddedLogin: { username: string; password: string } | null;
  /** The member list (imports, changes, distribution); null without a deployment key. */
  members: CentralMembers | null;
  /** The Koha poller (members.koha), null without it. */
  koha: KohaPoller | null;
  /** Accounts, sessions, API tokens and the audit (the demo's administrator, tests' tokens). */
  auth: CentralAuth;
  /** Incidents, rules, links and the outbox (docs/alerts.md). */
  alerts: CentralAlerts;
  /** How the events' commits were grouped (the ingest bench prints it). */
  ingestCommits(): IngestCommitStats;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;
/** Central's client id on the embedded broker, which no other user may take. */
const CENTRAL_CLIENT_ID = 'oag-central';

export async function startCentral(
  config: CentralConfig,
  deps: {
    clock: { now(): Date };
    logger: Logger;
    env?: NodeJS.ProcessEnv;
    membersHooks?: PublisherHooks;
    /** Sessions, tokens and sign-in limits run on it (real time when `clock` is the demo's faster one). */
    sessionClock?: { now(): Date };
    /** Tests may lower the password hashing cost. */
    scrypt?: ScryptParams;
    /** Tests and the bench step escalation and the outbox on their own timers. */
    alertTimers?: { escalation?: Timers; outbox?: OutboxTimer };
  },
): Promise<RunningCentral> {
  const { clock } = deps;
  const logger = deps.logger.child({ service: 'central' });
  if (!config.broker && config.embedded === undefined) throw new EmbeddedBrokerError(`embedded.passwordFile: ${EMBEDDED_PASSWORD_FILE_REQUIRED}`);
  // Read before anything starts, so that an unusable key stops central with the reason.
  const key = loadCentralKey(config, deps.env ?? process.env);
  const signingKey = loadSigningKey(config);
  if (config.store.path !== ':memory:') mkdirSync(dirname(config.store.path), { recursive: true });
  const store = new CentralStore(config.store.path, { logger });
  const closers: Array<() => Promise<void> | void> = [() => store.close()];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err }, 'error while closing');
      }
    }
  };

  try {
    const database = await openCentralDatabase(config.store, store, logger);
    closers.push(() => database.close());
    const history: HistoryStore = database.history;
    logger.info({ engine: history.engine, where: database.where }, 'history store open');
    // What must run once for the estate (retention, the member list's announcements and answers) runs on the leader:
    // one central on SQLite always leads; instances sharing PostgreSQL take turns through an advisory lock.
    // Telling (escalation and the outbox) stops when the lead is lost (the lock's connection cut), so that two
    // instances do not tell at once; the leader's other duties ask leadership.isLeader each time.
    const leaderJobs = { lead: (): void => {}, lose: async (): Promise<void> => {} };
    const onLose = (): Promise<void> => leaderJobs.lose();
    const leadership: Leadership =
      database.pool === null
        ? alwaysLeader({ onLead: () => leaderJobs.lead(), onLose, logger })
        : startLeadership({ pool: database.pool, key: CENTRAL_LEADER_KEY, onLead: () => leaderJobs.lead(), onLose, logger });
    closers.push(() => leadership.stop());
    let embedded: EmbeddedBroker | null = null;
    if (!config.broker && config.embedded) {
      embedded = await startEmbeddedBroker({ ...config.embedded, prefix: config.prefix, centralClientId: CENTRAL_CLIENT_ID, logger });
      closers.push(() => embedded?.close());
      logger.info({ url: embedded.url }, 'embedded MQTT broker (aedes, MQTT 3.1.1) listening');
    }
    const brokerUrl = config.broker?.url ?? embedded!.url;
    const brokerOptions = config.broker ?? {
      clientId: CENTRAL_CLIENT_ID,
      protocolVersion: 4 as const,
      sessionExpirySeconds: 0,
      ...embedded!.central,
      // Central reaches its own listener on this machine; the certificate names the public host, not the address
      // dialled, and the password is this start's own, so there is nothing for the check to add.
      ...(config.embedded?.tls ? { tls: { rejectUnauthorized: false } } : {}),
    };

    const bus = new CentralBus();
    bus.onListenerError = ({ event, error }) =>
      logger.error({ event, err: error instanceof Error ? error.message : String(error) }, 'a listener on central\'s bus failed; the others still ran');
    // Before ingest starts, so that the first retained state of each branch is seen by it; the link address is known
    // once central listens (port 0 in tests), hence a function.
    let listeningUrl = '';
    const publicUrl = config.http.publicUrl ?? config.oidc?.publicUrl;
    const alerts = startCentralAlerts({
      db: store.db, pool: database.pool, // on PostgreSQL, alerting is shared by every instance
      config: config.alerts,
      timezone: config.timezone,
      publicUrl: () => publicUrl ?? listeningUrl,
      clock,
      logger,
      bus,
      site: (id) => history.site(id),
      tellWhenLeading: database.pool !== null,
      timers: deps.alertTimers?.escalation,
      outboxTimer: deps.alertTimers?.outbox,
    });
    closers.push(() => alerts.close());
    const ingest = new Ingest({ prefix: config.prefix, store: history, bus, clock, logger });
    // The history refusing writes is an incident of central's own: the branches' events wait in the broker meanwhile.
    const storeProblem = centralProblem(alerts, clock, STORE_ALARM, 'critical');
    bus.on('store', (change) => {
      try {
        if (change.ok) storeProblem.clear();
        else storeProblem.raise(`central's ${history.engine} history refuses writes (${change.error}); the branches' events wait in the broker`);
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'alerts: could not record the history store failing');
      }
    });
    if (database.pool !== null && database.url !== null) {
      // Each instance stores only its share of the events: the others' reach this bus (the dashboard's live stream,
      // and alerting, which records every incident on every instance) through PostgreSQL.
      // Incidents too: one acknowledged through this instance shows at once on the dashboards of the others.
      const live = startLiveNotify({ pool: database.pool, url: database.url, bus, readEvent: (site, id) => history.event(site, id), incidents: alerts.alerts.incidents, logger });
      closers.push(() => live.stop());
    }
    const link = new CentralLink({
      url: brokerUrl,
      broker: brokerOptions,
      prefix: config.prefix,
      commandTimeoutMs: config.commandTimeoutMs,
      signingKey,
      ingest,
      bus,
      clock,
      logger,
    });
    closers.push(() => link.close());
    closers.push(
      relayHelpAcknowledgements({
        incidents: alerts.alerts.incidents,
        bus,
        help: async (id) => (await history.site(id))?.state?.help,
        send: async (site, { actor, name }) => {
          try {
            const outcome = await link.sendCommand(site, { command: 'help-acknowledged', actor, text: name });
            if (outcome.status !== 'answered') return { ok: false, error: 'the branch did not answer' };
            return outcome.reply.ok ? { ok: true } : { ok: false, error: outcome.reply.error };
          } catch (error) {
            return { ok: false, error: (error as Error).message };
          }
        },
        clock,
        logger,
      }),
    );

    // Accounts, sessions and tokens where the history is: in PostgreSQL, any instance serves any signed-in user.
    const auth = new CentralAuth({
      ...(database.pool === null ? { db: store.db } : { store: new PgAuthStore(database.pool) }),
      clock,
      sessionClock: deps.sessionClock,
      config: config.auth,
      cookieSecure: config.http.cookieSecure,
      logger,
      scrypt: deps.scrypt,
    });
    let members: CentralMembers | null = null;
    const pseudonymSecret = await history.secret('pseudonym', PSEUDONYM_SECRET_BYTES);
    if (key !== null) {
      const m = new CentralMembers({
        db: store.db,
        // On PostgreSQL the list is shared: a version made through any instance is the one the leader announces.
        store: database.pool === null ? undefined : PgMemberStore.onPool(database.pool),
        key,
        config: config.members,
        prefix: config.prefix,
        link,
        signingKey,
        clock,
        logger,
        hooks: deps.membersHooks,
        pseudonym: createPseudonymizer(pseudonymSecret),
        leads: () => leadership.isLeader,
      });
      members = m;
      bus.on('members-request', ({ site, payload }) => m.handleRequest(site, payload));
      // Before the link starts (a change queued for central's session arrives at once); the audit names the branch's staff user.
      const desk = new MemberDeskChanges({ members: m, config: config.members.desk, prefix: config.prefix, link, signingKey, audit: auth.audit, clock, logger });
      bus.on('members-change', ({ site, arrival }) => {
        if (leadership.isLeader) void desk.handle(site, arrival);
      });
      bus.on('link-up', () => void m.announce());
      closers.push(() => m.stop());
    } else {
      logger.warn('no deployment key (OAG_DEPLOYMENT_KEY or deploymentKeyFile): central distributes no member list');
      const desk = new MemberDeskChanges({ members: null, config: config.members.desk, prefix: config.prefix, link, signingKey, audit: auth.audit, clock, logger });
      bus.on('members-change', ({ site, arrival }) => {
        if (leadership.isLeader) void desk.handle(site, arrival);
      });
    }
    await link.start();
    members?.start();
    if (members !== null && config.members.watch !== undefined) {
      const m = members;
      const watch = new ExportFolderWatch({
        config: config.members.watch,
        importFile: (file, source) => m.importFile(file, { source }),
        importDelta: (file, source) => m.importDeltaFile(file, { source }),
        clock,
        logger,
      });
      watch.start();
      closers.push(() => watch.stop());
    }
    let koha: KohaPoller | null = null;
    if (members !== null && key !== null && config.members.koha !== undefined) {
      // An unreadable secret stops central here with the field named; a failing Koha later only raises an incident.
      const feed = createKohaFeed({
        config: config.members.koha,
        db: store.db,
        // Its mark where the member list is: on PostgreSQL shared, so a new leader goes on from the last one's.
        pool: database.pool,
        key,
        members,
        problem: centralProblem(alerts, clock, LMS_FEED_ALARM, 'major'),
        clock,
        logger,
      });
      // Started by leaderJobs.lead: one poller for the estate asks Koha.
      closers.push(() => feed.stop());
      koha = feed;
    }

    const { app } = await buildHttp({
      store: history,
      ingest,
      link,
      bus,
      clock,
      logger,
      timezone: config.timezone,
      members,
      auth,
      alerts,
      signingKey,
      sites: siteDirectory(config),
      allowedHosts: config.http.allowedHosts ?? defaultAllowedHosts(config.http.host),
      trustProxy: config.http.trustProxy,
      // A pending sign-in at the provider lasts minutes of real time, like a session.
      oidc: singleSignOn(config, auth, { clock: deps.sessionClock ?? clock, logger }),
    });
    closers.push(() => app.close());
    await app.listen({ host: config.http.host, port: config.http.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    const httpUrl = `http://${host}:${port}`;
    listeningUrl = httpUrl;

    const purge = async (): Promise<void> => {
      const before = new Date(clock.now().getTime() - config.store.retentionDays * DAY_MS);
      // Each purge failing (a locked table, PostgreSQL away) must not stop the rest: tried again tomorrow.
      const attempt = async (what: string, run: () => unknown): Promise<void> => {
        try {
          await run();
        } catch (err) {
          logger.error({ err }, `${what}: purge failed; tried again tomorrow`);
        }
      };
      // What several instances share is purged once, by the leader (on SQLite, the one instance leads).
      if (!leadership.isLeader) return;
      await attempt('audit', () => auth.audit.purgeBefore(before));
      await attempt('alerts', () => alerts.purgeBefore(before));
      await attempt('history', () => history.purgeBefore(before));
      forgetPersons();
    };
    // Person-level retention runs in batches across turns of the loop; one pass at a time, none after the stop.
    let forgetting: Promise<void> | undefined;
    let stopping = false;
    const forgetPersons = (): void => {
      if (forgetting !== undefined) return;
      const before = new Date(clock.now().getTime() - config.store.personRetentionDays * DAY_MS);
      forgetting = forgetPersonsBefore(history, before, { stopped: () => stopping })
        .then((blanked) => {
          if (blanked > 0) logger.info({ blanked, before: before.toISOString() }, 'pseudonyms blanked in events past person-level retention');
        })
        .catch((err: unknown) => logger.error({ err }, 'person-level retention failed; tried again tomorrow'))
        .finally(() => {
          forgetting = undefined;
        });
    };
    // A new leader purges at once (the one before may have died before its day's pass), announces the list and
    // polls Koha from the mark the instances share.
    leaderJobs.lead = () => {
      alerts.startTelling();
      void purge();
      void members?.announce();
      koha?.start();
    };
    leaderJobs.lose = async () => {
      await Promise.all([alerts.stopTelling(), koha?.stop()]);
    };
    if (leadership.isLeader) leaderJobs.lead();
    const purgeTimer = setInterval(() => void purge(), DAY_MS);
    purgeTimer.unref();
    closers.push(async () => {
      clearInterval(purgeTimer);
      stopping = true;
      await forgetting;
    });

    logger.info({ httpUrl, brokerUrl }, 'central started');
    return { httpUrl, brokerUrl, mqttProtocolVersion: brokerOptions.protocolVersion, embeddedLogin: embedded?.central ?? null, members, koha, auth, alerts, ingestCommits: () => ingest.commits, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A fault of central's own as an incident (docs/alerts.md), raised with its reason and cleared when it is over:
 * Koha failing poll after poll, the history store refusing writes.
 */
function centralProblem(alerts: CentralAlerts, clock: { now(): Date }, alarm: string, severity: 'critical' | 'major'): { raise(reason: string): void; clear(): void } {
  const report = (state: 'raised' | 'cleared', detail?: string): void => {
    const now = clock.now();
    void alerts.centralAlarm({ site: CENTRAL_SITE, alarm, state, severity, detail, at: now.toISOString() }, now);
  };
  return { raise: (reason) => report('raised', reason), clear: () => report('cleared') };
}

/** Single sign-on's routes (central/auth/oidc.ts) and its button on the sign-in page, when `oidc:` is configured. */
function singleSignOn(config: CentralConfig, auth: CentralAuth, deps: { clock: { now(): Date }; logger: Logger }): HttpDeps['oidc'] {
  if (config.oidc === undefined) return undefined;
  // An unreadable client secret throws here, and central stops with the reason.
  return { label: config.oidc.label, routes: oidcRoutes({ config: config.oidc, startSession: auth.startSession, logger: deps.logger, clock: deps.clock }) };
}

export { CentralConfigSchema, loadCentralConfig, parseCentralConfig } from './config.js';
export type { CentralConfig, CentralConfigInput } from './config.js';
