// Several central instances, measured (issue #20): how long the estate goes without a leader when the leader is
// killed -9, and how much later a dashboard on another instance than the one that stored an event shows it (the
// LISTEN/NOTIFY hop). Debian's PostgreSQL and Mosquitto (MQTT 5, TLS, the ACL), each instance `oag central` in a
// process of its own (the ingest bench's child, scripts/bench/ingest-central.ts).
//
//   npx tsx scripts/bench/cluster.ts [--kills 5] [--events 200]      (or: oag bench --cluster-only)
//
// 1. Take-over: three instances with a member list each; the leader killed -9 at a random moment of the followers'
//    retry cycle; timed from the kill to PostgreSQL letting go of the advisory lock (seen in pg_locks), to another
//    instance's log saying it leads, and to its member-list announcement reaching a branch's MQTT client. The lock is
//    freed once PostgreSQL sees the session end, and the followers wait in its queue (central/cluster/leader.ts): the
//    lock's release is the floor, and the take-over is printed beside it as a ratio.
// 2. Live latency: two instances; only A takes the branches' events (B runs on another topic prefix, which the broker's
//    ACL gives it nothing on), so each event is stored by A and reaches B's dashboard through pg_notify. A viewer's
//    live stream (/api/live?site=…, as the branch page's EventSource) open on each; an event published at QoS 1 by the
//    branch's own login, one at a time, timed from the publish to its arrival on each stream. A's own stream is the
//    floor: the same path without the NOTIFY hop.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type pg from 'pg';
import type { CentralChildJob, CentralChildMessage } from './ingest-central.js';
import type { RunningMosquitto } from '../../test/helpers/mosquitto.js';
import type { RunningPostgres } from '../../test/helpers/postgres.js';
import { childGone, endChild, forkBenchChild, nextMessage } from './bench-child.js';
import { fileURLToPath } from 'node:url';

export interface ClusterBenchOptions {
  /** Leaders killed, one after the other (default 5). */
  kills?: number;
  /** Events timed on the live streams (default 200), after a few not counted. */
  events?: number;
}

export interface TakeoverRound {
  /** Instance killed, and the one that led next (1-based). */
  killed: number;
  next: number;
  /** Milliseconds from the kill. */
  lockFreedMs: number;
  leadsMs: number;
  announcedMs: number;
}

export interface ClusterBenchResult {
  machine: { cores: number; model: string; loadAverage: number };
  /** A follower's retry interval (central/cluster/leader.ts). */
  retryMs: number;
  takeover: { instances: number; rounds: TakeoverRound[] } | { skipped: string };
  live: { events: number; warmup: number; a: number[]; b: number[]; lost: number; gatherMs: number } | { skipped: string };
}

// A follower tries for the lock this often, and live-notify gathers what the bus says this long before it notifies:
// both are the modules' defaults, which central's config does not change.
const LEADER_RETRY_MS = 5000;
const LIVE_GATHER_MS = 20;

const CENTRAL_PASSWORD = 'central-bench-pw';
const SITE_PASSWORD = 'site-bench-pw';
const SITE = 's0000';
const PREFIX = 'oa/v1';
/** B's prefix: one the ACL grants central nothing on, so B subscribes to no branch's events. */
const B_PREFIX = 'oa/bench-no-sites';
const MEMBERS = 25;
const MEMBERS_HEADER = 'card_number,date_of_birth,expiry_date,blocked,blocked_until,open_access,staff,groups';
const WARMUP_EVENTS = 10;
const POLL_MS = 10;
const LEADS = 'leader: this instance leads';
const LOST = /leader: (no longer leading|stopping)/;

/** How long one clean-up step may take before the next goes anyway (a client's end() on a dead connection never settles). */
const CLEANUP_STEP_MS = 15_000;

/** What must go when the bench ends, failed or not, last in first out. */
class Cleanup {
  private readonly steps: (() => unknown)[] = [];
  add(step: () => unknown): void {
    this.steps.push(step);
  }
  /** One for a part of the bench, run at the part's end, or with this one's if it comes first (a signal). */
  part(): Cleanup {
    const child = new Cleanup();
    this.add(() => child.run());
    return child;
  }
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([step(), new Promise((r) => (timer = setTimeout(r, CLEANUP_STEP_MS)))]);
      } catch {
        // the rest still goes
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== null && got !== undefined && got !== false) return got;
    if (Date.now() > end) throw new Error(`gave up waiting ${Math.round(timeoutMs / 1000)} s for ${what}`);
    await sleep(POLL_MS);
  }
}

interface LogLine {
  time: number;
  msg: string;
}

function readLog(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  const out: LogLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      const l = JSON.parse(line) as Partial<LogLine>;
      if (typeof l.time === 'number' && typeof l.msg === 'string') out.push({ time: l.time, msg: l.msg });
    } catch {
      // a line cut by the kill
    }
  }
  return out;
}

/** One `oag central` process, started again on the same config (client id, port, files) after a kill. */
interface Instance {
  k: number;
  token: string;
  httpUrl: string;
  running(): boolean;
  /** Its log since its last start. */
  log(): LogLine[];
  /** Its log says it leads now: "this instance leads" with no loss since. */
  leads(): boolean;
  kill9(): Promise<void>;
  start(): Promise<void>;
}

function instance(k: number, dir: string, config: () => Record<string, unknown>, cleanup: Cleanup): Instance {
  let child: ChildProcess | null = null;
  let starts = 0;
  const logFile = (): string => join(dir, `central-${k}.${starts}.log`);
  const self: Instance = {
    k,
    token: '',
    httpUrl: '',
    running: () => child !== null && !childGone(child),
    log: () => (starts > 0 ? readLog(logFile()) : []),
    leads: () => {
      if (!self.running()) return false;
      const lines = self.log();
      for (let n = lines.length - 1; n >= 0; n--) {
        if (lines[n]!.msg === LEADS) return true;
        if (LOST.test(lines[n]!.msg)) return false;
      }
      return false;
    },
    kill9: async () => {
      if (!child || childGone(child)) return;
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    start: async () => {
      if (self.running()) throw new Error(`central ${k} is already running`);
      starts += 1;
      const c = forkBenchChild('ingest-central', '--central');
      child = c;
      cleanup.add(() => endChild(c));
      const answer = nextMessage<CentralChildMessage>(c, `central ${k}`);
      c.send({ config: config(), logFile: logFile(), tokenRole: 'viewer' } satisfies CentralChildJob);
      const m = await answer;
      if (!('ready' in m)) throw new Error(`central ${k} did not start: ${m.error}`);
      self.token = m.token;
      self.httpUrl = m.httpUrl;
    },
  };
  return self;
}

interface Infra {
  dir: string;
  broker: RunningMosquitto;
  tls: { ca: string; cert: string; key: string };
  urlFile: string;
  databaseUrl: string;
  signingKeyFile: string;
}

/** A fresh Mosquitto (central's login and one branch's) and a new database on the bench's PostgreSQL. */
async function infra(postgres: RunningPostgres, name: string, cleanup: Cleanup): Promise<Infra> {
  const dir = mkdtempSync(join(tmpdir(), `oag-bench-cluster-${name}-`));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const { startMosquitto } = await import('../../test/helpers/mosquitto.js');
  const broker = await startMosquitto({ users: { central: CENTRAL_PASSWORD, [SITE]: SITE_PASSWORD }, centralUser: 'central' });
  cleanup.add(() => broker.stop());
  const databaseUrl = await postgres.newDatabase();
  const urlFile = join(dir, 'postgres-url');
  writeFileSync(urlFile, databaseUrl, { mode: 0o600 });
  const { makeSigningKeyFiles } = await import('../../central/signing-key.js');
  const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
  return { dir, broker, tls, urlFile, databaseUrl, signingKeyFile: makeSigningKeyFiles(dir).keyFile };
}

/** Central's config for one instance of the bench's: its client id, its SQLite file, the shared PostgreSQL history. */
function centralConfig(x: Infra, k: number, port: number, more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    broker: { url: x.broker.url, username: 'central', password: CENTRAL_PASSWORD, tls: x.tls, clientId: `oag-bench-central-${k}`, shareGroup: 'central' },
    http: { port },
    store: { path: join(x.dir, `central-${k}.sqlite`), postgres: { urlFile: x.urlFile } },
    signing: { keyFile: x.signingKeyFile },
    ...more,
  };
}

/** The branch's own MQTT 5 login, as its uplink connects. */
async function siteClient(x: Infra, clientId: string): Promise<MqttClient> {
  const { connectAsync } = await import('mqtt');
  return connectAsync(x.broker.url, {
    protocolVersion: 5,
    clientId,
    username: SITE,
    password: SITE_PASSWORD,
    ca: readFileSync(x.tls.ca),
    cert: readFileSync(x.tls.cert),
    key: readFileSync(x.tls.key),
    reconnectPeriod: 0,
  });
}

async function pgClient(url: string): Promise<pg.Client> {
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** 1. The leader killed -9, `kills` times, the killed one started again after each. */
async function benchTakeover(postgres: RunningPostgres, kills: number, cleanup: Cleanup): Promise<TakeoverRound[]> {
  const x = await infra(postgres, 'takeover', cleanup);
  const { freePort } = await import('../../test/helpers/free-port.js');
  const { CENTRAL_LEADER_KEY } = await import('../../central/cluster/leader.js');
  const keyFile = join(x.dir, 'deployment-key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const csv = [MEMBERS_HEADER, ...Array.from({ length: MEMBERS }, (_, i) => `21${String(i).padStart(12, '0')},1980-05-01,2030-01-31,N,,Y,N,`), ''].join('\n');

  const instances: Instance[] = [];
  for (let k = 1; k <= 3; k++) {
    // Each instance imports the LMS export dropped in its own folder (the file goes once imported): whichever leads
    // next has a list to announce, whether the member lists are each instance's or shared.
    const drop = join(x.dir, `drop-${k}`);
    mkdirSync(drop);
    writeFileSync(join(drop, 'nightly.csv'), csv);
    const port = await freePort();
    instances.push(
      instance(k, x.dir, () => centralConfig(x, k, port, { deploymentKeyFile: keyFile, members: { pollSeconds: 1, watch: { folder: drop, intervalSeconds: 1, settleSeconds: 0 } } }), cleanup),
    );
  }
  for (const i of instances) await i.start();
  // A failure names what each instance said last, which is where to look.
  const said = (err: unknown): never => {
    const last = instances.map((i) => `central ${i.k}: ${i.log().at(-1)?.msg ?? '(nothing)'}`).join('; ');
    throw new Error(`${(err as Error).message} (${last})`);
  };
  await until('each instance to import its member list', 120_000, () => instances.every((i) => i.log().some((l) => l.msg === 'member export imported'))).catch(said);

  // What a branch sees: each announcement of the current list, with when it arrived.
  const watcher = await siteClient(x, 'oag-bench-watcher');
  cleanup.add(() => watcher.endAsync(true));
  const announcements: { at: number; count: number }[] = [];
  watcher.on('message', (topic, payload) => {
    if (topic !== `${PREFIX}/members/current`) return;
    const { count } = JSON.parse(payload.toString()) as { count?: number };
    announcements.push({ at: Date.now(), count: count ?? 0 });
  });
  await watcher.subscribeAsync(`${PREFIX}/members/current`, { qos: 1 });

  const db = await pgClient(x.databaseUrl);
  cleanup.add(() => db.end());
  const holder = async (): Promise<number | null> =>
    (await db.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND objsubid = 1 AND granted", [CENTRAL_LEADER_KEY])).rows[0]?.pid ?? null;

  const rounds: TakeoverRound[] = [];
  for (let r = 0; r < kills; r++) {
    const leader = await until('one instance leading', 60_000, () => {
      const leading = instances.filter((i) => i.leads());
      return leading.length === 1 ? leading[0]! : null;
    }).catch(said);
    await until('the member list announced by the leader', 30_000, () => announcements.some((a) => a.count === MEMBERS)).catch(said);
    const held = await until('the advisory lock held', 30_000, holder);
    // Anywhere in the followers' retry cycle: their phase against the kill is what the take-over time depends on.
    await sleep(Math.random() * LEADER_RETRY_MS);
    const announcedBefore = announcements.length;
    const t0 = Date.now();
    await leader.kill9();
    const freedAt = await until('PostgreSQL to let go of the lock', 30_000, async () => ((await holder()) !== held ? Date.now() : null));
    const next = await until('another instance to lead', 60_000, () => instances.find((i) => i !== leader && i.leads())).catch(said);
    const leadsAt = next.log().findLast((l) => l.msg === LEADS)!.time;
    const announced = await until('the new leader to announce the member list', 60_000, () => announcements.slice(announcedBefore).find((a) => a.count === MEMBERS)).catch(said);
    rounds.push({ killed: leader.k, next: next.k, lockFreedMs: freedAt - t0, leadsMs: leadsAt - t0, announcedMs: announced.at - t0 });
    // As systemd would: the killed one back on its client id, port and files, a follower now.
    await leader.start();
  }
  return rounds;
}

interface LiveStream {
  /** When each event (by id) arrived, performance.now(). */
  arrivals: Map<string, number>;
  close(): void;
}

/** A viewer's live stream of one branch, as the branch page's EventSource opens it; resolves once its snapshot came. */
async function openLiveStream(httpUrl: string, token: string, cleanup: Cleanup): Promise<LiveStream> {
  const abort = new AbortController();
  cleanup.add(() => abort.abort());
  const res = await fetch(`${httpUrl}/api/live?site=${SITE}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
  if (!res.ok || res.body === null) throw new Error(`${httpUrl}/api/live answered ${res.status}`);
  const arrivals = new Map<string, number>();
  let snapshot: () => void = () => {};
  const snapshotCame = new Promise<void>((r) => (snapshot = r));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const now = performance.now();
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(message)?.[1];
          const data = /^data: (.*)$/m.exec(message)?.[1];
          if (name === 'sites') snapshot();
          if (name === 'event' && data !== undefined) {
            const { id } = JSON.parse(data) as { id: string };
            if (!arrivals.has(id)) arrivals.set(id, now);
          }
        }
      }
    } catch {
      // aborted at the end
    }
  })();
  await Promise.race([snapshotCame, sleep(10_000).then(() => Promise.reject(new Error(`no snapshot on ${httpUrl}/api/live within 10 s`)))]);
  return { arrivals, close: () => abort.abort() };
}

/** 2. Publish → the event on A's live stream (A stored it) and on B's (through LISTEN/NOTIFY), one event at a time. */
async function benchLive(postgres: RunningPostgres, events: number, cleanup: Cleanup): Promise<{ a: number[]; b: number[]; lost: number }> {
  const x = await infra(postgres, 'live', cleanup);
  const a = instance(1, x.dir, () => centralConfig(x, 1, 0), cleanup);
  // B subscribes where no branch publishes: every event on its stream came through PostgreSQL.
  const b = instance(2, x.dir, () => centralConfig(x, 2, 0, { prefix: B_PREFIX }), cleanup);
  await a.start();
  await b.start();
  const streamA = await openLiveStream(a.httpUrl, a.token, cleanup);
  const streamB = await openLiveStream(b.httpUrl, b.token, cleanup);
  const { ulid } = await import('../../policies/contract/ulid.js');
  const branch = await siteClient(x, 'oag-bench-branch');
  cleanup.add(() => branch.endAsync(true));

  const lat = { a: [] as number[], b: [] as number[], lost: 0 };
  for (let n = 0; n < WARMUP_EVENTS + events; n++) {
    const at = new Date();
    const id = ulid(at.getTime());
    const payload = JSON.stringify({ id, at: at.toISOString(), site: SITE, type: 'occupancy', change: 'entry', inside: (n % 50) + 1 });
    const t0 = performance.now();
    await branch.publishAsync(`${PREFIX}/sites/${SITE}/events`, payload, { qos: 1 });
    const both = await until('the event on both streams', 10_000, () => streamA.arrivals.has(id) && streamB.arrivals.has(id)).catch(() => false);
    if (n >= WARMUP_EVENTS) {
      if (!both) lat.lost++;
      else {
        lat.a.push(streamA.arrivals.get(id)! - t0);
        lat.b.push(streamB.arrivals.get(id)! - t0);
      }
    }
    // Apart, and not in step with A's gathering timer.
    await sleep(10 + Math.random() * 30);
  }
  streamA.close();
  streamB.close();
  return lat;
}

async function postgresMissing(): Promise<string | null> {
  if (!existsSync('/usr/sbin/mosquitto')) return "no Mosquitto here: apt-get install mosquitto";
  try {
    const { postgresBinDir } = await import('../../test/helpers/postgres.js');
    postgresBinDir();
  } catch (err) {
    return `no PostgreSQL here: ${(err as Error).message}`;
  }
  return null;
}

export async function benchCluster(options: ClusterBenchOptions = {}): Promise<ClusterBenchResult> {
  const kills = options.kills ?? 5;
  const events = options.events ?? 200;
  const machine = { cores: cpus().length, model: cpus()[0]?.model.trim() ?? 'unknown', loadAverage: loadavg()[0]! };
  const missing = await postgresMissing();
  if (missing !== null) return { machine, retryMs: LEADER_RETRY_MS, takeover: { skipped: missing }, live: { skipped: missing } };

  const cleanup = new Cleanup();
  // Ctrl-C in the middle still stops what the bench started: PostgreSQL and Mosquitto are processes of their own.
  const onSignal = (signal: NodeJS.Signals): void => {
    void cleanup.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { startPostgres } = await import('../../test/helpers/postgres.js');
    const postgres = await startPostgres();
    cleanup.add(() => postgres.stop());
    let part = cleanup.part();
    let takeover: ClusterBenchResult['takeover'];
    try {
      if (kills < 1) throw new Error('--kills 0');
      takeover = { instances: 3, rounds: await benchTakeover(postgres, kills, part) };
    } catch (err) {
      takeover = { skipped: kills < 1 ? 'not asked for (--kills 0)' : `failed: ${(err as Error).message}` };
    } finally {
      await part.run();
    }
    let live: ClusterBenchResult['live'];
    part = cleanup.part();
    try {
      if (events < 1) throw new Error('--events 0');
      live = { events, warmup: WARMUP_EVENTS, gatherMs: LIVE_GATHER_MS, ...(await benchLive(postgres, events, part)) };
    } catch (err) {
      live = { skipped: events < 1 ? 'not asked for (--events 0)' : `failed: ${(err as Error).message}` };
    } finally {
      await part.run();
    }
    return { machine, retryMs: LEADER_RETRY_MS, takeover, live };
  } finally {
    await cleanup.run();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Nearest rank. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const secs = (ms: number): string => (ms / 1000).toFixed(2);
const millis = (ms: number): string => ms.toFixed(1);

export function printClusterBench(r: ClusterBenchResult): void {
  const m = r.machine;
  console.log('central cluster: leader take-over and the dashboard through LISTEN/NOTIFY (Debian PostgreSQL and Mosquitto, MQTT 5 over TLS)');
  console.log(`machine: ${m.cores} × ${m.model}, load average ${m.loadAverage.toFixed(1)} at the start (the instances share the cores)`);

  if ('skipped' in r.takeover) console.log(`leader take-over: skipped: ${r.takeover.skipped}`);
  else {
    const rounds = r.takeover.rounds;
    console.log(`leader take-over: ${r.takeover.instances} instances, the leader killed -9 ${rounds.length} times (each at a random moment of the followers' retry cycle), seconds from the kill`);
    console.log(`  ${''.padEnd(54)} ${'min'.padStart(6)} ${'median'.padStart(7)} ${'mean'.padStart(6)} ${'max'.padStart(6)} ${'median / freed'.padStart(15)}`);
    const freed = percentile(rounds.map((x) => x.lockFreedMs), 50);
    const row = (name: string, ms: number[]): void => {
      const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
      const cells = [secs(Math.min(...ms)).padStart(6), secs(percentile(ms, 50)).padStart(7), secs(mean).padStart(6), secs(Math.max(...ms)).padStart(6)];
      console.log(`  ${name.padEnd(54)} ${cells.join(' ')} ${(percentile(ms, 50) / Math.max(1, freed)).toFixed(1).padStart(15)}`);
    };
    row('PostgreSQL lets go of the lock (the session ended)', rounds.map((x) => x.lockFreedMs));
    row('another instance leads (its log)', rounds.map((x) => x.leadsMs));
    row('it announces the member list (at a branch, MQTT)', rounds.map((x) => x.announcedMs));
    console.log(`  each round, s: ${rounds.map((x) => `${x.killed}→${x.next} ${secs(x.leadsMs)}`).join(', ')}`);
    console.log(
      `  the followers wait in the lock's queue (each wait bounded by retryMs, ${secs(r.retryMs)} s; central/cluster/leader.ts): PostgreSQL hands the lock to the first the moment the killed session ends, so the floor is that release`,
    );
  }

  if ('skipped' in r.live) console.log(`dashboard latency: skipped: ${r.live.skipped}`);
  else {
    const l = r.live;
    console.log(`dashboard latency: publish (QoS 1, the branch's login) → the event on a viewer's live stream (/api/live, SSE), ${l.a.length} events one at a time (${l.warmup} before them not counted), ms`);
    console.log(`  ${''.padEnd(54)} ${'p50'.padStart(6)} ${'p95'.padStart(6)} ${'max'.padStart(6)}`);
    const row = (name: string, ms: number[]): void =>
      console.log(`  ${name.padEnd(54)} ${millis(percentile(ms, 50)).padStart(6)} ${millis(percentile(ms, 95)).padStart(6)} ${millis(Math.max(...ms)).padStart(6)}`);
    if (l.a.length > 0) {
      row("A's stream, A stored it (the floor: no NOTIFY hop)", l.a);
      row("B's stream (A → pg_notify → B's LISTEN)", l.b);
      const ratio = (p: number): string => (percentile(l.b, p) / percentile(l.a, p)).toFixed(1);
      const hop = l.b.map((b, i) => b - l.a[i]!);
      console.log(`  B / A: ${ratio(50)}× at p50, ${ratio(95)}× at p95; the hop itself ${millis(percentile(hop, 50))} ms at p50, of which A gathers ${l.gatherMs} ms before it notifies (central/cluster/live-notify.ts)`);
    }
    if (l.lost > 0) console.log(`  ${l.lost} events did not reach both streams within 10 s`);
  }
}

/** `oag bench --cluster-only`, and its part of `npm run bench`. */
export async function runClusterBench(options: ClusterBenchOptions = {}): Promise<void> {
  printClusterBench(await benchCluster(options));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  try {
    await runClusterBench({ kills: arg('kills', 5), events: arg('events', 200) });
    process.exit(0);
  } catch (err) {
    console.error(`cluster bench: ${(err as Error).message}`);
    process.exit(1);
  }
}
