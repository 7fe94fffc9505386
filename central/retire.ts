// Retiring a central instance for good (`oag central retire`). In a share group the broker hands each instance's
// share of the branches' events to its persistent session, also while it is down: an instance taken away with
// nothing more would leave the events queued for it unstored until the session expires, and then lose them. This
// connects once more on the instance's client id, leaves every subscription (nothing new joins the queue), stores what
// the session holds through the same ingest as a running instance (each acknowledged once committed), tells the
// running instances of it as an instance does (LISTEN/NOTIFY: their dashboards show it, their alerting records an
// alarm among it and the leader tells people), and then has the broker forget the session.
import { connect as connectTcp } from 'node:net';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { CentralBus } from './bus.js';
import type { CentralConfig } from './config.js';
import { startLiveNotify } from './cluster/live-notify.js';
import { openCentralDatabase } from './history/open-history.js';
import { Ingest } from './ingest.js';
import { CentralLink } from './link.js';
import { loadSigningKey } from './signing-key.js';
import { CentralStore } from './store.js';

export class RetireRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetireRefusedError';
  }
}

export interface RetireSummary {
  clientId: string;
  /** Messages the session held (events, and any state or reply queued with them). */
  messages: number;
  /** Messages stored (events, states, availability). */
  stored: number;
  /** Already stored (by this instance before it stopped, or sent twice). */
  duplicates: number;
  rejected: number;
  /** Where they were stored (a URL without its password, or the SQLite file). */
  where: string;
}

/** Whether something accepts connections on the instance's HTTP address: the instance itself, still running. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port, timeout: 2000 });
    const done = (yes: boolean): void => {
      socket.destroy();
      resolve(yes);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

export async function retireCentralInstance(
  config: CentralConfig,
  deps: { logger: Logger; clock: { now(): Date }; quietMs?: number; maxMs?: number },
): Promise<RetireSummary> {
  const broker = config.broker;
  if (broker === undefined) {
    throw new RetireRefusedError('broker: not set: an instance on the embedded broker has no session elsewhere to retire (stopping it is enough)');
  }
  if (await answers(config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host, config.http.port)) {
    throw new RetireRefusedError(
      `something answers on this instance's http address (${config.http.host}:${config.http.port}): stop the instance first (its client id ${broker.clientId} can be connected only once)`,
    );
  }
  if (config.store.path !== ':memory:') mkdirSync(dirname(config.store.path), { recursive: true });
  const sqlite = new CentralStore(config.store.path, { logger: deps.logger });
  try {
    const database = await openCentralDatabase(config.store, sqlite, deps.logger);
    try {
      const bus = new CentralBus();
      const ingest = new Ingest({ prefix: config.prefix, store: database.history, bus, clock: deps.clock, logger: deps.logger });
      const history = database.history;
      const live =
        database.pool !== null && database.url !== null
          ? startLiveNotify({ pool: database.pool, url: database.url, bus, readEvent: (site, id) => history.event(site, id), logger: deps.logger })
          : null;
      const link = new CentralLink({
        url: broker.url,
        broker,
        prefix: config.prefix,
        commandTimeoutMs: config.commandTimeoutMs,
        signingKey: loadSigningKey(config),
        ingest,
        bus,
        clock: deps.clock,
        logger: deps.logger,
        retiring: true,
      });
      try {
        await link.start(10_000);
        if (!link.connected) throw new RetireRefusedError(`broker.url: cannot reach ${broker.url} as ${broker.clientId} (the session stays; try again)`);
        const { messages } = await link.drain({ quietMs: deps.quietMs ?? 3000, maxMs: deps.maxMs ?? 10 * 60_000 }).catch((err: unknown) => {
          throw new RetireRefusedError((err as Error).message);
        });
        if (ingest.stats.storeFailures > 0) {
          // Unacknowledged, so still in the session: ending it now would lose them.
          throw new RetireRefusedError(`the store refused ${ingest.stats.storeFailures} messages (${database.where}): the session stays with them; nothing is lost, run it again once the store is back`);
        }
        await link.endSession();
        return { clientId: broker.clientId, messages, stored: ingest.stats.stored, duplicates: ingest.stats.duplicates, rejected: ingest.stats.rejected, where: database.where };
      } finally {
        await link.close();
        // Sends what it gathered last before it ends.
        await live?.stop();
      }
    } finally {
      await database.close();
    }
  } finally {
    sqlite.close();
  }
}
