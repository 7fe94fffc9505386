// One leader among central's instances on a real PostgreSQL (central/cluster/leader.ts): three candidates, one
// leads; its session terminated, the server restarted, or the leader stopped, another leads, and the one that lost
// is told. Counts and states, waited for with until(): no clocks.
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alwaysLeader, startLeadership, type Leadership } from '../../central/cluster/leader.js';
import { openPg, type PgPool } from '../../central/pg/pool.js';
import { startPostgres, type RunningPostgres } from '../helpers/postgres.js';
import { until } from '../helpers/until.js';

const KEY = 4242;
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

interface Candidate {
  name: string;
  leadership: Leadership;
  leads: number;
  losses: number;
}

let server: RunningPostgres;
let pool: PgPool;
const candidates: Candidate[] = [];

function candidate(name: string, where: { url: string } | { pool: PgPool }): Candidate {
  const c: Candidate = { name, leadership: undefined as unknown as Leadership, leads: 0, losses: 0 };
  c.leadership = startLeadership({
    ...where,
    key: KEY,
    retryMs: 50,
    logger,
    onLead: () => void c.leads++,
    // A failing duty is logged and does not stop the candidate from leading again later.
    onLose: () => {
      c.losses++;
      throw new Error('stopping the duties failed');
    },
  });
  candidates.push(c);
  return c;
}

const leaders = (): Candidate[] => candidates.filter((c) => c.leadership.isLeader);

async function oneLeader(what: string): Promise<Candidate> {
  await until(() => leaders().length === 1, () => `one leader ${what}; leading: ${leaders().map((c) => c.name).join(', ') || 'none'}`);
  return leaders()[0]!;
}

/** Backends waiting for the lock, as PostgreSQL sees them. */
async function waitingFor(key: number): Promise<number> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND objsubid = 1 AND NOT granted", [key]);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

/** The backend holding the lock, as PostgreSQL sees it. */
async function lockHolder(key = KEY): Promise<number[]> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND objsubid = 1 AND granted", [key]);
    return rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}

async function terminate(pid: number): Promise<void> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  server = await startPostgres();
  pool = openPg(server.url, { logger, max: 3 });
  candidate('a', { url: server.url });
  candidate('b', { url: server.url });
  candidate('c', { pool });
});

afterAll(async () => {
  for (const c of candidates) await c.leadership.stop();
  await pool?.end();
  await server?.stop();
});

describe('taking over', () => {
  it("does not wait for the follower's next try: it is waiting in the lock's queue, and has the lock the moment the leader's session ends", async () => {
    // Tries ten minutes apart: a take-over within until()'s wait can only be PostgreSQL handing the lock over.
    const slow = (counts: { leads: number }): Leadership =>
      startLeadership({ url: server.url, key: KEY + 1, retryMs: 600_000, logger, onLead: () => void counts.leads++, onLose: () => {} });
    const first = { leads: 0 };
    const second = { leads: 0 };
    const a = slow(first);
    await until(() => a.isLeader, 'the first to lead');
    const b = slow(second);
    try {
      // b is in the queue once PostgreSQL shows its wait.
      await until(async () => (await waitingFor(KEY + 1)) === 1, "the second waiting in the lock's queue");
      expect(b.isLeader).toBe(false);
      const [pid] = await lockHolder(KEY + 1);
      await terminate(pid!);
      await until(() => b.isLeader, 'the second to lead');
      expect(second.leads).toBe(1);
      expect(a.isLeader).toBe(false);
    } finally {
      // A follower's stop ends its wait in the queue rather than hanging on it.
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('one leader among three central instances', () => {
  it('has exactly one of three lead, holding one advisory lock', async () => {
    const first = await oneLeader('at the start');
    expect(first.leads).toBe(1);
    expect(candidates.reduce((n, c) => n + c.leads, 0)).toBe(1);
    expect(await lockHolder()).toHaveLength(1);
  });

  it("hands over when the leader's session is terminated, and tells the one that lost", async () => {
    const before = leaders()[0]!;
    const [pid] = await lockHolder();
    await terminate(pid!);
    await until(() => before.losses === 1, `${before.name} to be told it lost`);
    const next = await oneLeader('after the termination');
    // The old one may win it back (it tries again too): either way one leads, and the lock is held once.
    expect(candidates.reduce((n, c) => n + c.leads, 0)).toBe(2);
    expect(next.leadership.isLeader).toBe(true);
    expect(await lockHolder()).toHaveLength(1);
  });

  it('loses every leader with the server, and has one lead again once it is back', async () => {
    const leadsBefore = candidates.reduce((n, c) => n + c.leads, 0);
    const lossesBefore = candidates.reduce((n, c) => n + c.losses, 0);
    await server.restart();
    await until(() => candidates.reduce((n, c) => n + c.losses, 0) === lossesBefore + 1, 'the leader to be told it lost with the server');
    await until(() => candidates.reduce((n, c) => n + c.leads, 0) === leadsBefore + 1, 'a leader after the restart');
    await oneLeader('after the restart');
    expect(await lockHolder()).toHaveLength(1);
  });

  it("hands over when the leader stops: another leads, and the stopped one is told it no longer does", async () => {
    const stopping = await oneLeader('before the stop');
    const losses = stopping.losses;
    await stopping.leadership.stop();
    expect(stopping.leadership.isLeader).toBe(false);
    expect(stopping.losses).toBe(losses + 1);
    const next = await oneLeader('after the stop');
    expect(next).not.toBe(stopping);
    expect(stopping.leadership.isLeader).toBe(false);
  });

  it('a single instance on SQLite leads from the start until it stops', async () => {
    let leads = 0;
    let losses = 0;
    const alone = alwaysLeader({ logger, onLead: () => void leads++, onLose: () => void losses++ });
    expect(alone.isLeader).toBe(true);
    await until(() => leads === 1, 'onLead');
    await alone.stop();
    expect(alone.isLeader).toBe(false);
    expect([leads, losses]).toEqual([1, 1]);
  });
});
