// One leader among central's instances, for what must run once for the whole estate (escalations, retention, the
// member-list announcement): a PostgreSQL session advisory lock, held on a connection of its own. The lock lives as
// long as that session: when the connection ends (the server restarted, the backend terminated, the network cut), the
// server lets go of it and hands it to the instance waiting first in its queue. A single instance on SQLite leads alone.
import type { Logger } from 'pino';
import pg from 'pg';
import { describePgUrl, type PgPool } from '../pg/pool.js';

export interface Leadership {
  /** True from onLead until the lock's connection is known lost or stop() is called. */
  readonly isLeader: boolean;
  /** Lets go of the lock (the next instance in its queue takes it) and ends the connection; onLose if leading. */
  stop(): Promise<void>;
}

export interface LeaderTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LeadershipOptions {
  /** Where the lock is taken: a connection of its own, out of the pool (kept, so one less for queries) or from a URL. */
  pool?: PgPool | undefined;
  url?: string | undefined;
  /** The advisory lock's key: the same for every instance of one estate. */
  key: number | bigint;
  /** Called once each time this instance becomes leader; an error is logged. */
  onLead: () => void | Promise<void>;
  /** Called once each time it stops being leader (after onLead has settled); an error is logged. */
  onLose: () => void | Promise<void>;
  logger: Logger;
  /** How long a follower waits in the lock's queue at a time, and how often a leader checks its connection (default 5 s). */
  retryMs?: number | undefined;
  timers?: LeaderTimers | undefined;
}

/** Central's lock key: any number, the same for every instance ('oag' in ASCII; pg_locks shows it as objid 7299431). */
export const CENTRAL_LEADER_KEY = 0x6f6167;

const DEFAULT_RETRY_MS = 5000;
/** PostgreSQL's SQLSTATE when lock_timeout ends a wait. */
const LOCK_NOT_AVAILABLE = '55P03';

function code(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

interface LockConnection {
  query(text: string, values?: unknown[]): Promise<Array<Record<string, unknown>>>;
  on(event: 'error' | 'end', listener: (err?: Error) => void): unknown;
  removeAllListeners(event?: string): unknown;
  /** Ends the session (the server lets go of the lock). */
  close(err?: Error): Promise<void>;
}

export function startLeadership(options: LeadershipOptions): Leadership {
  if ((options.pool === undefined) === (options.url === undefined)) throw new Error('startLeadership: give either pool or url');
  const log = options.logger.child({ module: 'central-leader' });
  const timers: LeaderTimers = options.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  const key = String(options.key);
  // A leader's check must not wait on a connection that no longer answers (a network cut sends no FIN).
  const queryTimeoutMs = Math.max(retryMs, 1000);

  let stopped = false;
  let leader = false;
  let conn: LockConnection | null = null;
  let timer: unknown = null;
  // onLead and onLose run one after the other, in the order things happened.
  let callbacks: Promise<void> = Promise.resolve();

  const call = (what: 'onLead' | 'onLose'): void => {
    const fn = options[what];
    callbacks = callbacks.then(async () => {
      try {
        await fn();
      } catch (err) {
        log.error({ err: (err as Error).message }, `leader: ${what} failed`);
      }
    });
  };

  const lead = (): void => {
    leader = true;
    log.info({ key }, 'leader: this instance leads');
    call('onLead');
  };

  const lose = (why: string): void => {
    if (!leader) return;
    leader = false;
    log.warn({ key, why }, 'leader: no longer leading');
    call('onLose');
  };

  const schedule = (): void => {
    if (stopped) return;
    timers.clearTimeout(timer);
    timer = timers.setTimeout(() => void tick(), retryMs);
  };

  /** The connection is gone (or useless): not leader from this moment, and a new one at the next try. */
  const drop = (c: LockConnection, why: string, err?: Error): void => {
    if (conn !== c) return;
    conn = null;
    lose(why);
    c.removeAllListeners('error');
    c.removeAllListeners('end');
    c.on('error', () => {}); // a late error of a connection already given up
    void c.close(err).catch(() => {});
    schedule();
  };

  /** A query that gives up after `within` ms (queryTimeoutMs): the connection is then treated as lost. */
  const ask = (c: LockConnection, text: string, values?: unknown[], within = queryTimeoutMs): Promise<Array<Record<string, unknown>>> =>
    new Promise((resolve, reject) => {
      const t = timers.setTimeout(() => reject(new Error(`no answer within ${within} ms`)), within);
      c.query(text, values).then(
        (rows) => {
          timers.clearTimeout(t);
          resolve(rows);
        },
        (err: unknown) => {
          timers.clearTimeout(t);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });

  const open = async (): Promise<LockConnection> => {
    if (options.pool) {
      const client = await options.pool.connect();
      return { query: async (text, values) => (await client.query(text, values)).rows, on: (e, l) => client.on(e as 'error', l), removeAllListeners: (e) => client.removeAllListeners(e), close: async (err) => client.release(err ?? true) };
    }
    const client = new pg.Client({ connectionString: options.url, keepAlive: true, application_name: 'oag-central-leader', connectionTimeoutMillis: 10_000 });
    // Listening before connect: a failed connect must not leave an unhandled 'error'.
    client.on('error', () => {});
    await client.connect();
    return { query: async (text, values) => (await client.query(text, values)).rows, on: (e, l) => client.on(e as 'error', l), removeAllListeners: (e) => client.removeAllListeners(e), close: () => client.end() };
  };

  const tick = async (): Promise<void> => {
    timer = null;
    if (stopped) return;
    let c = conn;
    try {
      if (c === null) {
        c = await open();
        if (stopped) return void (await c.close().catch(() => {}));
        const mine = c;
        conn = mine;
        mine.removeAllListeners('error');
        mine.on('error', (err) => drop(mine, `the lock's connection failed: ${err?.message ?? 'error'}`, err));
        mine.on('end', () => drop(mine, "the lock's connection ended"));
      }
      if (leader) {
        // Still ours while the session lives; this only finds out whether it does.
        await ask(c, 'SELECT 1');
      } else {
        // Waiting in the lock's queue rather than asking again every retryMs: PostgreSQL hands the lock over the
        // moment the leader's session ends. lock_timeout bounds each wait, so that a follower still finds out at
        // least as often whether its own connection lives.
        await ask(c, "SELECT set_config('lock_timeout', $1, false)", [`${retryMs}ms`]);
        await ask(c, 'SELECT pg_advisory_lock($1::bigint)', [key], retryMs + queryTimeoutMs);
        if (stopped || conn !== c) return;
        lead();
      }
      schedule();
    } catch (err) {
      if (code(err) === LOCK_NOT_AVAILABLE && c !== null && conn === c && !stopped) {
        // Another instance still leads: straight back into the queue.
        timer = timers.setTimeout(() => void tick(), 0);
        return;
      }
      const message = (err as Error).message;
      if (c === null) {
        log.warn({ err: message, db: options.url === undefined ? 'pool' : describePgUrl(options.url) }, 'leader: cannot reach PostgreSQL; trying again');
        schedule();
      } else drop(c, `the lock's connection failed: ${message}`, err as Error); // nothing when its error event came first
    }
  };

  void tick();

  return {
    get isLeader() {
      return leader;
    },
    async stop() {
      stopped = true;
      timers.clearTimeout(timer);
      timer = null;
      const c = conn;
      conn = null;
      const wasLeader = leader;
      if (leader) {
        leader = false;
        log.info({ key }, 'leader: stopping; another instance takes over');
        call('onLose');
      }
      if (c) {
        c.removeAllListeners('error');
        c.removeAllListeners('end');
        c.on('error', () => {});
        // Ending the session lets go of the lock; an explicit unlock first does it without waiting for the server. A
        // follower's connection may be waiting in the lock's queue: closing it ends the wait.
        if (wasLeader) await ask(c, 'SELECT pg_advisory_unlock_all()').catch(() => {});
        await c.close().catch(() => {});
      }
      await callbacks;
    },
  };
}

/** The same shape for one instance on SQLite: it leads from the start until stop(). */
export function alwaysLeader(options: Pick<LeadershipOptions, 'onLead' | 'onLose' | 'logger'>): Leadership {
  const log = options.logger.child({ module: 'central-leader' });
  let leader = true;
  const safely = async (what: 'onLead' | 'onLose'): Promise<void> => {
    try {
      await options[what]();
    } catch (err) {
      log.error({ err: (err as Error).message }, `leader: ${what} failed`);
    }
  };
  const led = safely('onLead');
  return {
    get isLeader() {
      return leader;
    },
    async stop() {
      await led;
      if (!leader) return;
      leader = false;
      await safely('onLose');
    },
  };
}
