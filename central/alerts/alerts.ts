// The incident side of alerting, put together for central's composition root: incidents, the rules' versions,
// acknowledgement links and the escalation scheduler, fed from central's bus. The outbox (the channels' side) is
// handed in as the scheduler's sink, and gets `incidents` (its DeliveryReports) and `links` (its AckLinkIssuer).
import type { Logger } from 'pino';
import type { ReceivedEvent } from '../../policies/contract/index.js';
import type { CentralBus } from '../bus.js';
import { AckLinks } from './ack-links.js';
import type { AlertsStore } from './alerts-store.js';
import { EscalationScheduler, type Timers } from './escalation.js';
import { Incidents } from './incidents.js';
import { AlertRuleVersions } from './rule-versions.js';
import type { NotificationSink } from './types.js';

export interface AlertsDeps {
  /** Where incidents, rules, links and the outbox are kept (SQLite for one instance, PostgreSQL for several). */
  store: AlertsStore;
  /** Central's time zone (config.timezone): rotas and the times in messages are read in it. */
  timezone: string;
  clock: { now(): Date };
  logger: Pick<Logger, 'error' | 'info'>;
  /** Central's public address for the link page, followed by the token: `https://central.example.org/ack/`. */
  linkPrefix: string | (() => string);
  linkTtlMs?: number;
  timers?: Timers;
  intervalMs?: number;
}

/** What central's bus carries that alerting needs, and where a branch's availability is read. */
export interface AlertSources {
  bus: Pick<CentralBus, 'on' | 'off'>;
  /** The history's site row: online or not, and since when. */
  site(id: string): Promise<{ online: boolean; since: string | null } | null>;
}

type AlarmEvent = Extract<ReceivedEvent, { type: 'alarm'; alarm: string }>;

function isAlarm(event: ReceivedEvent): event is AlarmEvent {
  return event.type === 'alarm' && typeof event.alarm === 'string' && (event.state === 'raised' || event.state === 'cleared');
}

export function createAlerts(deps: AlertsDeps) {
  const incidents = new Incidents(deps.store);
  // The rules are read from the store at each tick (another instance may have saved a version), and by their routes.
  const rules = new AlertRuleVersions(deps.store, { timezone: deps.timezone, logger: deps.logger });
  const links = new AckLinks(deps.store, incidents, { linkPrefix: deps.linkPrefix, ttlMs: deps.linkTtlMs });
  let scheduler: EscalationScheduler | null = null;

  return {
    incidents,
    rules,
    links,

    /** Starts escalation, handing new requests to `sink` (the outbox). */
    start(sink: NotificationSink): EscalationScheduler {
      scheduler?.stop();
      scheduler = new EscalationScheduler({
        incidents,
        rules: () => rules.refresh(),
        sink,
        clock: deps.clock,
        timers: deps.timers,
        intervalMs: deps.intervalMs,
        logger: deps.logger,
      });
      scheduler.start();
      return scheduler;
    },

    /** Stops escalation and waits for the tick under way. */
    async stop(): Promise<void> {
      const stopping = scheduler;
      scheduler = null;
      stopping?.stop();
      await stopping?.settled();
    },

    /** Follows alarm events and availability from ingest; returns the function that stops following. */
    follow(sources: AlertSources): () => void {
      const onEvent = (event: ReceivedEvent): void => {
        if (!isAlarm(event)) return;
        incidents.alarm(event, deps.clock.now()).catch((error: unknown) => {
          deps.logger.error({ site: event.site, err: (error as Error).message }, 'alerts: could not record an alarm as an incident');
        });
      };
      const onSite = (id: string): void => {
        sources
          .site(id)
          .then(async (site) => {
            if (site?.since) await incidents.availability(id, site.online, new Date(site.since));
          })
          .catch((error: unknown) => {
            deps.logger.error({ site: id, err: (error as Error).message }, 'alerts: could not record a branch going offline or online');
          });
      };
      sources.bus.on('event', onEvent);
      sources.bus.on('site', onSite);
      return () => {
        sources.bus.off('event', onEvent);
        sources.bus.off('site', onSite);
      };
    },

    /** Central's retention: incidents cleared before `before`, and links expired before it. */
    async purgeBefore(before: Date): Promise<void> {
      await incidents.prune(before);
      await links.prune(before);
    },
  };
}

export type Alerts = ReturnType<typeof createAlerts>;
