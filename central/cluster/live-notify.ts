// The dashboard's live stream across central's instances. Each instance's ingest tells only its own bus that a
// branch's tile changed ('site') or that an event was stored ('event'), and with a share group each event reaches one
// instance. This bridge sends what its bus hears to the others with pg_notify('oag_live', …) and, on a connection of
// its own that LISTENs, emits what the others sent on its bus as the same bus events, so the live stream and the
// alerts need no change. Its own notifications come back to it too, and are known by the instance id and left.
// Incident changes go the same way, by id and kind only: the other instance reads the incident from the shared store
// and tells its own listeners (its dashboards' live streams) as a change made there would.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import pg from 'pg';
import { z } from 'zod';
import { formatIssues } from '../../policies/errors.js';
import { ReceivedEventSchema, SiteIdSchema, type ReceivedEvent } from '../../policies/contract/index.js';
import { HISTORY_KINDS, type IncidentChange } from '../alerts/incidents.js';
import type { CentralBus } from '../bus.js';
import { describePgUrl, type PgPool } from '../pg/pool.js';
import type { LeaderTimers } from './leader.js';

export const LIVE_CHANNEL = 'oag_live';

const DEFAULT_FLUSH_MS = 20;

/** pg_notify takes at most 8,000 bytes: a notification is kept below this, and an event larger goes by its id. */
const MAX_NOTIFY_BYTES = 7500;

/** One notification: who sent it, the sites whose tile changed, the events stored (whole, or by id when large). */
export const LiveNotificationSchema = z.strictObject({
  from: z.string().min(1).max(64),
  sites: z.array(SiteIdSchema).max(1000).default([]),
  events: z
    .array(z.strictObject({ site: SiteIdSchema, id: z.string().min(1).max(64), event: z.unknown().optional() }))
    .max(1000)
    .default([]),
  incidents: z
    .array(z.strictObject({ id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER), kind: z.enum(HISTORY_KINDS) }))
    .max(1000)
    .default([]),
});
type LiveNotification = z.input<typeof LiveNotificationSchema>;
type IncidentNote = z.output<typeof LiveNotificationSchema>['incidents'][number];

/** The incidents' side: changes made here to send, and a change another instance made to tell here (Incidents). */
export interface IncidentRelay {
  on(event: 'change', listener: (change: IncidentChange) => void): unknown;
  off(event: 'change', listener: (change: IncidentChange) => void): unknown;
  relay(id: number, kind: IncidentChange['kind']): Promise<unknown>;
}

export interface LiveNotifyOptions {
  /** Sends the notifications (any connection of it). */
  pool: PgPool;
  /** The LISTEN connection's URL: a connection of its own, kept open. */
  url: string;
  bus: CentralBus;
  /** The full event when a notification carries only its id. Without it, such an event is not shown live. */
  readEvent?: ((site: string, id: string) => Promise<ReceivedEvent | null>) | undefined;
  /** Incident changes to relay both ways (without it, only the bus's). */
  incidents?: IncidentRelay | undefined;
  logger: Logger;
  /** Marks this instance's notifications (default a random one per start). */
  instanceId?: string | undefined;
  /** How long what the bus says is gathered into one notification (default 20 ms: the dashboards are that much later). */
  flushMs?: number | undefined;
  /** How soon a dropped LISTEN connection is opened again (default 2 s). */
  retryMs?: number | undefined;
  timers?: LeaderTimers | undefined;
}

export interface LiveNotify {
  readonly instanceId: string;
  /** True while the LISTEN connection is open and listening. */
  readonly listening: boolean;
  stop(): Promise<void>;
}

/** `items` as notifications of at most MAX_NOTIFY_BYTES each (JSON). */
function packNotifications(from: string, sites: string[], events: ReceivedEvent[], incidents: IncidentNote[] = []): string[] {
  const out: string[] = [];
  let current: Required<LiveNotification> = { from, sites: [], events: [], incidents: [] };
  const size = (n: LiveNotification): number => Buffer.byteLength(JSON.stringify(n));
  const flush = (): void => {
    if (current.sites.length + current.events.length + current.incidents.length > 0) {
      // Only the fields it carries: an instance of the version before incidents were relayed still reads the others.
      const { incidents: carried, ...rest } = current;
      out.push(JSON.stringify(carried.length > 0 ? current : rest));
    }
    current = { from, sites: [], events: [], incidents: [] };
  };
  const add = (put: (n: Required<LiveNotification>) => void, take: (n: Required<LiveNotification>) => void): void => {
    put(current);
    if (size(current) <= MAX_NOTIFY_BYTES) return;
    take(current);
    flush();
    put(current);
  };
  for (const site of sites) add((n) => n.sites.push(site), (n) => n.sites.pop());
  for (const event of events) {
    const whole = { site: event.site, id: event.id, event };
    const small = size({ from, events: [whole] }) <= MAX_NOTIFY_BYTES;
    add((n) => n.events.push(small ? whole : { site: event.site, id: event.id }), (n) => n.events.pop());
  }
  // Incidents in notifications of their own (see flush).
  flush();
  for (const incident of incidents) add((n) => n.incidents.push(incident), (n) => n.incidents.pop());
  flush();
  return out;
}

export function startLiveNotify(options: LiveNotifyOptions): LiveNotify {
  const { bus, pool } = options;
  const instanceId = options.instanceId ?? randomUUID();
  const log = options.logger.child({ module: 'central-live-notify' });
  const timers: LeaderTimers = options.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  const retryMs = options.retryMs ?? 2000;
  const flushMs = options.flushMs ?? DEFAULT_FLUSH_MS;

  let stopped = false;
  let listener: pg.Client | null = null;
  let listening = false;
  let listenedBefore = false;
  let retry: unknown = null;
  /** True while this bridge emits what another instance sent: its own listeners must not send it back out. */
  let replaying = false;
  let sendFailing = false;

  // What the bus said in the last few milliseconds, sent together: an instance takes its messages one at a time, so
  // one notification per turn of the loop was one more round trip to PostgreSQL for every event stored.
  const sites = new Set<string>();
  const events: ReceivedEvent[] = [];
  const incidentNotes: IncidentNote[] = [];
  let flush: unknown = null;
  let sending: Promise<void> = Promise.resolve();

  const send = async (payloads: string[]): Promise<void> => {
    for (const payload of payloads) {
      try {
        await pool.query('SELECT pg_notify($1, $2)', [LIVE_CHANNEL, payload]);
        if (sendFailing) log.info('live: notifying the other instances again');
        sendFailing = false;
      } catch (err) {
        // Live updates only: what could not be sent is not kept (the pages read the store when they load).
        if (!sendFailing) log.warn({ err: (err as Error).message }, 'live: cannot notify the other instances; their dashboards miss these updates');
        sendFailing = true;
      }
    }
  };

  const sendGathered = (): void => {
    flush = null;
    const payloads = packNotifications(instanceId, [...sites], events.splice(0), incidentNotes.splice(0));
    sites.clear();
    sending = sending.then(() => send(payloads));
  };
  const schedule = (): void => {
    flush ??= timers.setTimeout(sendGathered, flushMs);
  };
  const onSite = (site: string): void => {
    if (replaying || stopped) return;
    sites.add(site);
    schedule();
  };
  const onEvent = (event: ReceivedEvent): void => {
    if (replaying || stopped) return;
    events.push(event);
    schedule();
  };
  const onIncident = (change: IncidentChange): void => {
    // One told here by another instance is not sent back out.
    if (change.relayed === true || stopped) return;
    incidentNotes.push({ id: change.incident.id, kind: change.kind });
    schedule();
  };
  bus.on('site', onSite);
  bus.on('event', onEvent);
  options.incidents?.on('change', onIncident);

  const emit = (fn: () => void): void => {
    replaying = true;
    try {
      fn();
    } finally {
      replaying = false;
    }
  };

  // In the order they came: an event read by its id must not overtake the ones after it.
  let received: Promise<void> = Promise.resolve();
  const receive = (payload: string | undefined): void => {
    let json: unknown;
    try {
      json = JSON.parse(payload ?? '');
    } catch {
      log.warn('live: a notification that is not JSON; ignored');
      return;
    }
    const parsed = LiveNotificationSchema.safeParse(json);
    if (!parsed.success) {
      log.warn({ errors: formatIssues(parsed.error) }, 'live: a notification that does not match; ignored');
      return;
    }
    const n = parsed.data;
    if (n.from === instanceId) return;
    received = received.then(async () => {
      if (stopped) return;
      emit(() => n.sites.forEach((site) => bus.emit('site', site)));
      for (const item of n.events) {
        const event = item.event === undefined ? await readEvent(item.site, item.id) : readInline(item.event);
        if (event && !stopped) emit(() => bus.emit('event', event));
      }
      for (const { id, kind } of n.incidents) {
        if (stopped || options.incidents === undefined) break;
        try {
          await options.incidents.relay(id, kind);
        } catch (err) {
          log.warn({ incident: id, err: (err as Error).message }, 'live: could not read an incident another instance changed');
        }
      }
    });
  };

  const readInline = (raw: unknown): ReceivedEvent | null => {
    const event = ReceivedEventSchema.safeParse(raw);
    if (event.success) return event.data;
    log.warn({ errors: formatIssues(event.error) }, 'live: an event in a notification that does not match; ignored');
    return null;
  };

  const readEvent = async (site: string, id: string): Promise<ReceivedEvent | null> => {
    if (!options.readEvent) return null;
    try {
      return await options.readEvent(site, id);
    } catch (err) {
      log.warn({ site, id, err: (err as Error).message }, 'live: could not read an event another instance stored');
      return null;
    }
  };

  const reconnect = (why: string): void => {
    if (stopped) return;
    if (listening) log.warn({ why }, 'live: the LISTEN connection dropped; opening it again (updates from the other instances meanwhile are missed)');
    listening = false;
    retry ??= timers.setTimeout(() => {
      retry = null;
      void listen();
    }, retryMs);
  };

  const listen = async (): Promise<void> => {
    if (stopped) return;
    const client = new pg.Client({
      connectionString: options.url,
      keepAlive: true,
      application_name: `oag-live-${instanceId}`.slice(0, 63),
      connectionTimeoutMillis: 10_000,
    });
    const gone = (why: string): void => {
      if (listener !== client) return;
      listener = null;
      client.removeAllListeners('error');
      client.on('error', () => {});
      void client.end().catch(() => {});
      reconnect(why);
    };
    listener = client;
    client.on('error', (err) => gone(err.message));
    client.on('end', () => gone('the connection ended'));
    client.on('notification', (msg) => {
      if (msg.channel === LIVE_CHANNEL) receive(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${LIVE_CHANNEL}`);
      if (listener !== client) return;
      listening = true;
      log.info({ db: describePgUrl(options.url), instanceId }, listenedBefore ? 'live: listening again' : 'live: listening to the other instances');
      listenedBefore = true;
    } catch (err) {
      if (!stopped) log.warn({ err: (err as Error).message }, 'live: cannot LISTEN yet; trying again');
      gone((err as Error).message);
    }
  };

  void listen();

  return {
    instanceId,
    get listening() {
      return listening;
    },
    async stop() {
      stopped = true;
      bus.off('site', onSite);
      bus.off('event', onEvent);
      options.incidents?.off('change', onIncident);
      // What was gathered still goes: the others' dashboards and alerting hear of the last events stored here.
      if (flush !== null) {
        timers.clearTimeout(flush);
        sendGathered();
      }
      timers.clearTimeout(retry);
      retry = null;
      listening = false;
      const client = listener;
      listener = null;
      if (client) {
        client.removeAllListeners('error');
        client.on('error', () => {});
        await client.end().catch(() => {});
      }
      await sending;
    },
  };
}
