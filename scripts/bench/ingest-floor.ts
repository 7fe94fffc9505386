// Central's ingest beside its floor (issue #20): one published load of valid contract events, QoS 1 over MQTT 5 and
// TLS, through one Debian Mosquitto, received at the same time by a plain `mosquitto_sub -q 1` with a persistent
// session (the floor: a C client that only prints) and by central, counted in its store. Each is timed from the
// publisher's start to its last event, so the ratio says what central costs over the broker's own delivery.
//
//   npx tsx scripts/bench/ingest-floor.ts [--events 20000] [--sites 200]      (or: oag bench --ingest-only)
//
// The publisher is a process of its own with its payloads built beforehand and a window of publishes in flight per
// site; it is measured alone first (nobody subscribed), so a floor close to it says the publisher, not the broker,
// set the pace. Everything shares the machine's cores: each round prints the CPU each process took, and from it what
// bounded the figure, and how many events each of central's commits held (group commit, central/history/event-batcher.ts).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PublisherJob, PublisherMessage } from './ingest-publisher.js';
import type { CentralChildMessage, CentralCommitsMessage } from './ingest-central.js';
import type { IngestCommitStats } from '../../central/ingest.js';
import type { RunningMosquitto } from '../../test/helpers/mosquitto.js';
import type { RunningPostgres } from '../../test/helpers/postgres.js';
import { endChild, forkBenchChild, nextMessage } from './bench-child.js';
import { fileURLToPath } from 'node:url';

export interface IngestFloorOptions {
  /** Events in the load (default 20,000). */
  events?: number;
  /** Sites publishing them, one MQTT connection and login each (default 200). */
  sites?: number;
  /** Upper bound for each round, from the publisher's start. */
  maxSeconds?: number;
  /** QoS 1 publishes in flight per site. */
  window?: number;
}

export interface Received {
  name: string;
  received: number;
  /** From the publisher's start to the last event received (or to the give-up time). */
  seconds: number;
  eventsPerSecond: number;
  complete: boolean;
}

export interface PublisherRun {
  acked: number;
  seconds: number;
  eventsPerSecond: number;
  connectSeconds: number;
  /** CPU the publisher took while publishing. */
  cpuMs: number;
}

export interface IngestRound {
  /** What central ran on in this round, e.g. "SQLite, 1 instance". */
  label: string;
  /** Why the round did not run (a missing database, a config central does not have yet). */
  skipped?: string;
  publisher?: PublisherRun;
  floor?: Received;
  central?: Received;
  /** CPU milliseconds each process took from the publisher's start to the round's end. */
  cpuMs?: Record<string, number>;
  /** How busy all the machine's cores were meanwhile, ours and everyone else's, in % of one core. */
  machineBusy?: number;
  /** Each instance's commits of events: how many, holding how many events (group commit). */
  commits?: IngestCommitStats[];
  /** Central's event loop, averaged over its instances, as shares of the wall time: running, waiting for a core, asleep. */
  centralThread?: { running: number; waitingForCore: number; asleep: number };
  wallSeconds?: number;
}

export interface IngestFloorResult {
  events: number;
  sites: number;
  payloadBytes: number;
  machine: { cores: number; model: string; loadAverage: number };
  /** The publisher with nobody subscribed: the most the load can be offered at on this machine. */
  alone: PublisherRun;
  rounds: IngestRound[];
}

const SITE_PASSWORD = 'site-pw';
const CENTRAL_PASSWORD = 'central-pw';
const FLOOR_CLIENT_ID = 'oag-bench-floor';
const POLL_MS = 20;

interface Broker {
  m: RunningMosquitto;
  tls: { ca: string; cert: string; key: string };
}

/** What receives the load in a round besides the floor: started before the publisher, counted while it runs. */
interface Consumer {
  name: string;
  /** Events in its store. */
  count(): Promise<number>;
  /** Its CPU time so far, by process name. */
  cpuMs(): Record<string, number>;
  /** Each instance's main thread (its event loop): time on a core and time waiting for one, so far. */
  threads(): ThreadTimes[];
  /** Each instance's commits of events so far. */
  commits(): Promise<IngestCommitStats[]>;
  close(): Promise<void>;
}

const siteName = (i: number): string => `s${String(i).padStart(4, '0')}`;

/** user + system CPU of a process by pid, from /proc (0 once it is gone). */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

const CLOCK_TICKS = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ThreadTimes {
  runMs: number;
  waitMs: number;
}

/**
 * A process's main thread from /proc/PID/schedstat: time it ran, and time it was ready to run but waited for a core.
 * The rest of the wall time it slept: waiting on a socket or a timer.
 */
function threadTimes(pid: number): ThreadTimes {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { runMs: run! / 1e6, waitMs: wait! / 1e6 };
  } catch {
    return { runMs: 0, waitMs: 0 };
  }
}

/** Busy and total jiffies of all cores together, from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = f.slice(0, 8).map(Number);
  const total = n.reduce((a, b) => a + b, 0);
  return { busy: total - n[3]! - n[4]!, total };
}


async function startBroker(sites: number): Promise<Broker> {
  const { startMosquitto } = await import('../../test/helpers/mosquitto.js');
  const users: Record<string, string> = { central: CENTRAL_PASSWORD };
  for (let i = 0; i < sites; i++) users[siteName(i)] = SITE_PASSWORD;
  const m = await startMosquitto({ users, centralUser: 'central' });
  return { m, tls: { ca: m.certs.ca, cert: m.certs.clientCert, key: m.certs.clientKey } };
}

/** The publisher process, connected and with its payloads built; `go()` starts it. */
async function startPublisher(broker: Broker, o: Required<IngestFloorOptions>): Promise<{ go(): Promise<PublisherRun>; connectSeconds: number; payloadBytes: number; child: ChildProcess }> {
  const child = forkBenchChild('ingest-publisher', '--publisher');
  const next = async (): Promise<PublisherMessage> => {
    const m = await nextMessage<PublisherMessage>(child, 'the publisher');
    if ('error' in m) throw new Error(`the publisher failed: ${m.error}`);
    return m;
  };
  const job: PublisherJob = { url: broker.m.url, sites: Array.from({ length: o.sites }, (_, i) => siteName(i)), events: o.events, password: SITE_PASSWORD, tls: broker.tls, window: o.window };
  const readyMessage = next();
  child.send(job);
  const ready = await readyMessage;
  if (!('ready' in ready)) throw new Error('the publisher answered out of turn');
  return {
    child,
    connectSeconds: ready.connectMs / 1000,
    payloadBytes: ready.payloadBytes,
    go: async () => {
      const doneMessage = next();
      child.send('go');
      const done = await doneMessage;
      if (!('done' in done)) throw new Error('the publisher answered out of turn');
      if (done.failed > 0) throw new Error(`the broker refused ${done.failed} of the publisher's events`);
      return { acked: done.acked, seconds: done.ms / 1000, eventsPerSecond: done.acked / (done.ms / 1000), connectSeconds: ready.connectMs / 1000, cpuMs: done.cpuMs };
    },
  };
}

/**
 * The floor: `mosquitto_sub -q 1 -V mqttv5 -c -i …`, a persistent session as central's, its output to a file whose
 * lines are counted. The session and its subscription are made first (-E exits on the SUBACK), so nothing the
 * publisher sends can pass it by; then the one that receives, which is waited for until the broker logs it connected.
 */
async function startFloor(broker: Broker, dir: string): Promise<{ lines(): number; lastWriteMs(): number; pid: number; stop(): void }> {
  const sub = '/usr/bin/mosquitto_sub';
  const args = ['-h', '127.0.0.1', '-p', String(broker.m.port), '--cafile', broker.tls.ca, '--cert', broker.tls.cert, '--key', broker.tls.key];
  args.push('-u', 'central', '-P', CENTRAL_PASSWORD, '-V', 'mqttv5', '-q', '1', '-c', '-i', FLOOR_CLIENT_ID, '-t', 'oa/v1/sites/+/events');
  execFileSync(sub, [...args, '-E'], { stdio: 'pipe', timeout: 10_000 });
  const out = join(dir, 'floor.out');
  const fd = openSync(out, 'w');
  const child = spawn(sub, args, { stdio: ['ignore', fd, 'ignore'] });
  closeSync(fd);
  const until = Date.now() + 10_000;
  // Its second connection in the log: the first was the -E one.
  while (broker.m.log().split(` as ${FLOOR_CLIENT_ID} `).length < 3) {
    if (Date.now() > until || child.exitCode !== null) throw new Error('mosquitto_sub did not connect within 10 s');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const reader = openSync(out, 'r');
  const chunk = Buffer.alloc(1 << 20);
  let offset = 0;
  let lines = 0;
  return {
    pid: child.pid!,
    lines: () => {
      for (let n; (n = readSync(reader, chunk, 0, chunk.length, offset)) > 0; offset += n) {
        for (let i = 0; i < n; i++) if (chunk[i] === 10) lines++;
      }
      return lines;
    },
    // The file's own clock: when mosquitto_sub wrote its last line, however late this process looks.
    lastWriteMs: () => statSync(out).mtimeMs,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      closeSync(reader);
    },
  };
}

/**
 * Central, `instances` of it, each in a process of its own as `oag central` runs, against the round's Mosquitto;
 * several share the events through `$share/central/…` (broker.shareGroup), and with `postgresUrlFile` keep their
 * history in that database. Counted by the first one's /api/stats (its store's event count, the database's for all).
 */
async function startCentrals(broker: Broker, dir: string, label: string, instances: number, postgresUrlFile?: string): Promise<Consumer> {
  const { makeSigningKeyFiles } = await import('../../central/signing-key.js');
  const signing = makeSigningKeyFiles(dir);
  const children: ChildProcess[] = [];
  const ready: { httpUrl: string; token: string }[] = [];
  try {
    for (let k = 1; k <= instances; k++) {
      const child = forkBenchChild('ingest-central', '--central');
      children.push(child);
      const answer = nextMessage<CentralChildMessage>(child, `central ${k}`);
      child.send({
        broker: { url: broker.m.url, username: 'central', password: CENTRAL_PASSWORD, tls: broker.tls, clientId: `oag-central-bench-${k}`, ...(instances > 1 ? { shareGroup: 'central' } : {}) },
        http: { port: 0 },
        store: { path: join(dir, `central-${k}.sqlite`), ...(postgresUrlFile ? { postgres: { urlFile: postgresUrlFile } } : {}) },
        signing: { keyFile: signing.keyFile },
      });
      const m = await answer;
      if (!('ready' in m)) throw new Error(`central ${k} did not start: ${m.error}`);
      ready.push(m);
    }
  } catch (err) {
    await Promise.all(children.map(endChild));
    throw err;
  }
  const headers = { authorization: `Bearer ${ready[0]!.token}` };
  return {
    name: `central, ${label}`,
    count: async () => ((await (await fetch(`${ready[0]!.httpUrl}/api/stats`, { headers })).json()) as { events: number }).events,
    cpuMs: () => Object.fromEntries(children.map((c, i) => [instances === 1 ? 'central' : `central ${i + 1}`, procCpuMs(c.pid!)])),
    threads: () => children.map((c) => threadTimes(c.pid!)),
    commits: () =>
      Promise.all(
        children.map(async (c, i) => {
          const answer = nextMessage<CentralCommitsMessage>(c, `central ${i + 1}`);
          c.send('commits');
          return (await answer).commits;
        }),
      ),
    close: async () => {
      await Promise.all(children.map(endChild));
    },
  };
}

/** user + system CPU of PostgreSQL: the postmaster and its backends (the pool's connections among them). */
function postgresCpuMs(postmaster: number): number {
  let ms = procCpuMs(postmaster);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) ms += procCpuMs(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return ms;
}

/** (c) Central on PostgreSQL: `instances` of it on a new database of the bench's cluster. */
async function centralOnPostgres(broker: Broker, dir: string, instances: number, cluster: RunningPostgres): Promise<Consumer | { skipped: string }> {
  const url = await cluster.newDatabase();
  const urlFile = join(dir, 'postgres-url');
  writeFileSync(urlFile, url, { mode: 0o600 });
  const centrals = await startCentrals(broker, dir, `PostgreSQL, ${instances} instance${instances > 1 ? 's' : ''}`, instances, urlFile);
  // A central that takes store.postgres in its config but does not use it yet leaves the database empty: say so
  // rather than wait for events that go elsewhere.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const made = (await client.query<{ t: string | null }>("SELECT to_regclass('events')::text AS t")).rows[0]?.t;
  await client.end();
  if (!made) {
    await centrals.close();
    return { skipped: 'central started without making its tables in PostgreSQL: store.postgres is not used yet' };
  }
  return { ...centrals, cpuMs: () => ({ ...centrals.cpuMs(), postgres: postgresCpuMs(cluster.pid()) }) };
}

/** Why (c) cannot run here, or null: central's config must take store.postgres and broker.shareGroup, and PostgreSQL be installed. */
async function postgresMissing(): Promise<string | null> {
  const { parseCentralConfig } = await import('../../central/config.js');
  try {
    parseCentralConfig({ broker: { url: 'mqtts://127.0.0.1:8883', shareGroup: 'central' }, store: { postgres: { urlFile: 'postgres-url' } } });
  } catch {
    return "central's config takes no store.postgres or broker.shareGroup yet";
  }
  try {
    const { postgresBinDir } = await import('../../test/helpers/postgres.js');
    postgresBinDir();
  } catch (err) {
    return `no PostgreSQL here: ${(err as Error).message}`;
  }
  return null;
}

/** One round: a fresh Mosquitto, the floor and `consumer` subscribed, then the load published once and timed. */
async function round(label: string, o: Required<IngestFloorOptions>, consumer: ((broker: Broker, dir: string) => Promise<Consumer | { skipped: string }>) | null): Promise<IngestRound & { payloadBytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-ingest-'));
  const broker = await startBroker(o.sites);
  const cleanup: (() => unknown)[] = [() => broker.m.stop(), () => rmSync(dir, { recursive: true, force: true })];
  try {
    const publisher = await startPublisher(broker, o);
    cleanup.unshift(() => publisher.child.exitCode === null && publisher.child.kill());
    let central: Consumer | null = null;
    let floor: Awaited<ReturnType<typeof startFloor>> | null = null;
    if (consumer !== null) {
      const started = await consumer(broker, dir);
      if ('skipped' in started) return { label, skipped: started.skipped, payloadBytes: publisher.payloadBytes };
      central = started;
      cleanup.unshift(() => central!.close());
      floor = await startFloor(broker, dir);
      cleanup.unshift(() => floor!.stop());
    }

    const cpu = (): Record<string, number> => ({
      mosquitto: procCpuMs(broker.m.pid()),
      ...(floor ? { mosquitto_sub: procCpuMs(floor.pid) } : {}),
      ...central?.cpuMs(),
    });
    const cpuBefore = cpu();
    const threadsBefore = central?.threads() ?? [];
    const jiffiesBefore = machineJiffies();
    const t0 = Date.now();
    const deadline = t0 + o.maxSeconds * 1000;
    const published = publisher.go();
    let floorRun: Received | undefined;
    let centralRun: Received | undefined;
    const rate = (name: string, received: number, endMs: number, complete: boolean): Received => {
      const seconds = (endMs - t0) / 1000;
      return { name, received, seconds, eventsPerSecond: received / seconds, complete };
    };
    while (floor && central && (!floorRun || !centralRun)) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const late = Date.now() > deadline;
      if (!floorRun) {
        const n = floor.lines();
        if (n >= o.events) floorRun = rate('mosquitto_sub -q 1 (the floor)', n, floor.lastWriteMs(), true);
        else if (late) floorRun = rate('mosquitto_sub -q 1 (the floor)', n, Date.now(), false);
      }
      if (!centralRun) {
        const n = await central.count();
        if (n >= o.events || late) centralRun = rate(central.name, n, Date.now(), n >= o.events);
      }
    }
    const pub = await published;
    const wallSeconds = (Date.now() - t0) / 1000;
    const after = cpu();
    const threadsAfter = central?.threads() ?? [];
    const commits = await central?.commits();
    const jiffies = machineJiffies();
    // The publisher has gone by now: it counts its own.
    const cpuMs = { publisher: pub.cpuMs, ...Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (cpuBefore[k] ?? 0)])) };
    const machineBusy = (100 * cpus().length * (jiffies.busy - jiffiesBefore.busy)) / Math.max(1, jiffies.total - jiffiesBefore.total);
    const share = (f: (t: ThreadTimes) => number): number =>
      threadsAfter.reduce((a, t, i) => a + f(t) - f(threadsBefore[i]!), 0) / Math.max(1, threadsAfter.length) / (wallSeconds * 1000);
    const running = share((t) => t.runMs);
    const waitingForCore = share((t) => t.waitMs);
    const centralThread = { running, waitingForCore, asleep: Math.max(0, 1 - running - waitingForCore) };
    return { label, publisher: pub, floor: floorRun, central: centralRun, cpuMs, machineBusy, centralThread, wallSeconds, payloadBytes: publisher.payloadBytes, ...(commits ? { commits } : {}) };
  } finally {
    for (const c of cleanup) await c();
  }
}

export async function benchIngestFloor(options: IngestFloorOptions = {}): Promise<IngestFloorResult> {
  const o: Required<IngestFloorOptions> = { events: 20_000, sites: 200, maxSeconds: 120, window: 20, ...options };
  if (!existsSync('/usr/sbin/mosquitto') || !existsSync('/usr/bin/mosquitto_sub')) {
    throw new Error('the ingest floor bench needs Debian\'s mosquitto and mosquitto-clients: apt-get install mosquitto mosquitto-clients');
  }
  const loadAverage = loadavg()[0]!;
  const alone = await round('publisher alone', o, null);
  const rounds: IngestRound[] = [await round('SQLite, 1 instance', o, (broker, dir) => startCentrals(broker, dir, 'SQLite, 1 instance', 1))];
  const missing = await postgresMissing();
  const cluster = missing === null ? await (await import('../../test/helpers/postgres.js')).startPostgres() : null;
  try {
    for (const instances of [1, 3]) {
      const label = `PostgreSQL, ${instances} instance${instances > 1 ? 's' : ''}`;
      rounds.push(cluster === null ? { label, skipped: missing! } : await round(label, o, (broker, dir) => centralOnPostgres(broker, dir, instances, cluster)));
    }
  } finally {
    await cluster?.stop();
  }
  return {
    events: o.events,
    sites: o.sites,
    payloadBytes: alone.payloadBytes,
    machine: { cores: cpus().length, model: cpus()[0]?.model.trim() ?? 'unknown', loadAverage },
    alone: alone.publisher!,
    rounds,
  };
}

const int = (n: number): string => Math.round(n).toLocaleString('en-GB');

/** All central instances' CPU. */
const centralCpuMs = (cpuMs: Record<string, number>): number => Object.entries(cpuMs).reduce((a, [k, v]) => a + (k.startsWith('central') ? v : 0), 0);

/**
 * What set central's pace, from where its event loop's time went: running (its own thread), waiting for a core (the machine's
 * cores, taken by the rest of the bench or by other work), or asleep (waiting on the broker or the database).
 */
export function boundBy(r: IngestRound, cores: number): string {
  if (!r.cpuMs || !r.wallSeconds || r.machineBusy === undefined || !r.centralThread) return 'unknown';
  const pct = (share: number): string => `${int(100 * share)}%`;
  const t = r.centralThread;
  const ours = Object.values(r.cpuMs).reduce((a, b) => a + b, 0) / (r.wallSeconds * 1000);
  const how = `central's event loop ran ${pct(t.running)} of the time, waited for a core ${pct(t.waitingForCore)}, slept ${pct(t.asleep)}; the machine was ${int(r.machineBusy)}% of ${cores * 100}% busy, this bench's processes ${pct(ours)}`;
  // Whichever of the three took most of central's time.
  if (t.asleep >= t.running && t.asleep >= t.waitingForCore) return `round trips: central waited on the broker or its database (${how})`;
  if (t.waitingForCore >= t.running) return `${ours * 100 >= 0.7 * r.machineBusy ? 'the cores' : 'the cores, shared with other work'} (${how})`;
  return `central's one thread (${how})`;
}

export function printIngestFloor(r: IngestFloorResult): void {
  const m = r.machine;
  console.log(`central ingest beside its floor: ${int(r.events)} events (${int(r.payloadBytes / r.events)} B each) from ${r.sites} sites, QoS 1, MQTT 5 over TLS, one Mosquitto per round`);
  console.log(`machine: ${m.cores} × ${m.model}, load average ${m.loadAverage.toFixed(1)} at the start (the cores are shared by everything below)`);
  const row = (name: string, events: number, seconds: number, perSecond: number, ratio: string): void =>
    console.log(`  ${name.padEnd(36)} ${int(events).padStart(8)} ${seconds.toFixed(2).padStart(8)} ${int(perSecond).padStart(10)} ${ratio.padStart(8)}`);
  console.log(`  ${''.padEnd(36)} ${'events'.padStart(8)} ${'seconds'.padStart(8)} ${'events/s'.padStart(10)} ${'× floor'.padStart(8)}`);
  row('publisher alone (nobody subscribed)', r.alone.acked, r.alone.seconds, r.alone.eventsPerSecond, '');
  for (const x of r.rounds) {
    console.log(`central on ${x.label}:${x.skipped ? ` skipped: ${x.skipped}` : ''}`);
    if (x.skipped || !x.publisher || !x.floor || !x.central) continue;
    row('publisher', x.publisher.acked, x.publisher.seconds, x.publisher.eventsPerSecond, '');
    row(x.floor.name + (x.floor.complete ? '' : ' (gave up)'), x.floor.received, x.floor.seconds, x.floor.eventsPerSecond, '1.00');
    row(x.central.name + (x.central.complete ? '' : ' (gave up)'), x.central.received, x.central.seconds, x.central.eventsPerSecond, (x.central.eventsPerSecond / x.floor.eventsPerSecond).toFixed(2));
    const cpu = Object.entries(x.cpuMs ?? {}).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`);
    console.log(`  CPU in its ${x.wallSeconds!.toFixed(1)} s: ${cpu.join(', ')}`);
    // Per event, central's CPU says what it would reach with a core to itself, whatever else ran meanwhile.
    const perEvent = Object.entries(x.cpuMs ?? {}).map(([k, v]) => `${k} ${int((v * 1000) / r.events)} µs`);
    const centralUs = (centralCpuMs(x.cpuMs ?? {}) * 1000) / x.central.received;
    console.log(`  CPU per event: ${perEvent.join(', ')} (central with a core to itself: about ${int(1e6 / centralUs)} events/s)`);
    if (x.commits) {
      // Group commit: the events that came while a commit ran went into the next one together.
      const each = x.commits.map((c, i) => `${x.commits!.length > 1 ? `central ${i + 1}: ` : ''}${int(c.events)} events in ${int(c.batches)} commits (${(c.events / Math.max(1, c.batches)).toFixed(1)} a commit, at most ${int(c.largest)})`);
      console.log(`  commits: ${each.join('; ')}`);
    }
    console.log(`  bounded by ${boundBy(x, m.cores)}`);
    const ratio = x.central.eventsPerSecond / x.floor.eventsPerSecond;
    const fast = x.central.eventsPerSecond >= 5000 ? 'met' : x.floor.eventsPerSecond < 5000 ? 'not met, nor by the floor: the machine did not allow it' : 'not met';
    console.log(`  goal ≥ 0.5× the floor: ${ratio >= 0.5 ? 'met' : 'not met'}; ≥ 5,000 events/s: ${fast}`);
  }
}

/** `oag bench --ingest-only`, and its part of `npm run bench`. */
export async function runIngestFloorBench(): Promise<void> {
  printIngestFloor(await benchIngestFloor());
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  try {
    printIngestFloor(await benchIngestFloor({ events: arg('events', 20_000), sites: arg('sites', 200), window: arg('window', 20) }));
    process.exit(0);
  } catch (err) {
    console.error(`ingest floor bench: ${(err as Error).message}`);
    process.exit(1);
  }
}
