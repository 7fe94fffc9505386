// Event-loop stalls while background work runs at a branch (docs/gateway.md, "Demo and benchmark"). The door's
// hot path shares the gateway's event loop with everything else, so a long synchronous stretch anywhere delays a
// tap. For each job — a 1M-member snapshot from central (into an empty list, and over a 1M list), the console's
// 100k-row CSV export, a retention purge of 100k events — a child process runs a real gateway on the simulated
// drivers, a thread of its own taps the reader every few milliseconds while the job runs, and the figures are:
//   - the longest stall of the event loop while the job runs (perf_hooks.monitorEventLoopDelay, 1 ms resolution),
//   - the taps' latency, from the moment the reader thread taps to the relay write (or the refusal),
// beside the same job done in one go (its floor: the same work with no turns of the loop, or for the purge one
// plain DELETE), and the ratio of their total times. The goal: no stall of 20 ms or more, tap p99 under 1 ms.
//   npx tsx scripts/bench/stalls.ts [--members N] [--export-rows N] [--purge-events N] [--tap-every MS] [--jobs LIST]
import { fork } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { openConsoleDb } from '../../gateway/console/db.js';
import { CSV_HEADER, csvLine, storedRow } from '../../gateway/console/log-format.js';
import { ConsoleUsers } from '../../gateway/console/users.js';
import { buildLocalApi } from '../../gateway/http/server.js';
import { startGateway } from '../../gateway/main.js';
import { benchCard, pacedTaps, percentile } from './tap.js';
import type { RunningGateway } from '../../gateway/main.js';
import { checkTransfer } from '../../gateway/members/chunk-worker.js';
import type { TransferChecker } from '../../gateway/members/chunk-worker.js';
import { MemberSync } from '../../gateway/members/sync.js';
import { openStore } from '../../gateway/store/index.js';
import type { Store } from '../../gateway/store/index.js';
import { purgeInBatches } from '../../gateway/store/purge.js';
import { deploymentKeyId } from '../../policies/cards.js';
import { MembersAnnouncementSchema, MembersTransferSchema, signMessage, signingKeyId } from '../../policies/contract/index.js';
import { generateKeyPairSync } from 'node:crypto';
import { toLocalIso } from '../../policies/index.js';
import { ListHash, chunkHash, chunkOfCard, encodeMemberEntry, snapshotChunkCount } from '../../policies/member-list.js';
import type { Member } from '../../policies/types.js';
import { BENCH_MEMBER } from './bench-member.js';

const KEY_HEX = 'b'.repeat(64);
const KEY = Buffer.from(KEY_HEX, 'hex');
const KEY_ID = deploymentKeyId(KEY);
// Central's signing key for this run: chunks are signed once beforehand, and checked by the branch as always.
const SIGNING = generateKeyPairSync('ed25519');
const CENTRAL = {
  keys: [{ kid: signingKeyId(SIGNING.publicKey), key: SIGNING.publicKey }],
  announcementTopic: 'oa/v1/members/current',
  transferTopic: 'oa/v1/sites/bench/members/chunk',
};
const signed = (topic: string, message: object): Buffer => Buffer.from(JSON.stringify(signMessage(SIGNING.privateKey, topic, message)));
const CHUNK_SIZE = 5000;
const DAY_MS = 86_400_000;
const GOAL_STALL_MS = 20;
const GOAL_TAP_P99_US = 1000;
const silent = pino({ level: 'silent' });

export type StallJob = 'snapshot-new' | 'snapshot-replace' | 'export' | 'purge';
export const STALL_JOBS: readonly StallJob[] = ['snapshot-new', 'snapshot-replace', 'export', 'purge'];

export interface StallOptions {
  members: number;
  exportRows: number;
  purgeEvents: number;
  /** A tap from the reader thread this often. */
  tapEveryMs: number;
  jobs: readonly StallJob[];
}

export interface Figures {
  seconds: number;
  longestStallMs: number;
  stallP99Ms: number;
  taps: number;
  tapP50Us: number;
  tapP99Us: number;
  tapMaxUs: number;
  /** The machine's 1-minute load average, the higher of before and after: on a shared VM it explains a lot. */
  load: number;
}

export interface JobResult {
  job: StallJob;
  title: string;
  floorTitle: string;
  /** The loop with no job, taps only, in the same process just before. */
  idle: Figures;
  stepped: Figures;
  floor: Figures;
  /** What the job reported (write lock held, rows, …). */
  notes: string;
}

const member = BENCH_MEMBER;

const hashCard = createCardHasher(KEY);
const card = benchCard;
const cardHash = (n: number): Buffer => hashCard(normaliseCardId(card(n)));


const ALWAYS_OPEN = {
  version: 1,
  site: 'bench',
  timezone: 'Europe/London',
  schedule: {
    weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])),
  },
  rules: { minimumAge: 16 },
};

async function startBranch(dir: string, file: string): Promise<RunningGateway> {
  writeFileSync(join(dir, 'policy.yaml'), stringify(ALWAYS_OPEN));
  const config = parseGatewayConfig({
    site: 'bench',
    policyFile: join(dir, 'policy.yaml'),
    // Retention would purge the prepared old events at start: the purge job does it, measured.
    store: { path: join(dir, file), retentionDays: 3650 },
    clock: { trust: 'trusted' },
    taps: { repeatWindowMs: 0 },
    http: { enabled: false },
    log: { level: 'silent' },
    hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
  });
  return startGateway(config, { logger: silent, env: { OAG_DEPLOYMENT_KEY: KEY_HEX } });
}

/** Runs `job` with taps arriving from a reader thread (the tap benchmark's driver) and the event loop's delay recorded. */
async function measure(running: RunningGateway, tapEveryMs: number, tapCards: number, job: () => Promise<void>): Promise<Figures> {
  let delay: ReturnType<typeof monitorEventLoopDelay> | undefined;
  let seconds = 0;
  let load = 0;
  const latencies = await pacedTaps(
    running,
    {
      everyMs: tapEveryMs,
      cards: tapCards,
      // What the preparation left (a million encoded members) is collected now, not in the middle of the job.
      beforeStart: () => (globalThis as { gc?: () => void }).gc?.(),
    },
    async () => {
      delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      // The delay's timer counts from its first run: a job begun before it would go unseen.
      await sleep(5);
      load = loadavg()[0]!;
      const started = performance.now();
      await job();
      seconds = (performance.now() - started) / 1000;
      // A job done in one go never lets the delay's timer fire while it runs: it is recorded on the next turn.
      await sleep(5);
      delay.disable();
    },
  );
  return {
    seconds,
    longestStallMs: delay!.max / 1e6,
    stallP99Ms: delay!.percentile(99) / 1e6,
    taps: latencies.length,
    tapP50Us: percentile(latencies, 50),
    tapP99Us: percentile(latencies, 99),
    tapMaxUs: latencies.at(-1) ?? Number.NaN,
    load: Math.max(load, loadavg()[0]!),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const idle = (running: RunningGateway, o: StallOptions, cards: number): Promise<Figures> => measure(running, o.tapEveryMs, cards, () => sleep(3000));

// ---- (a) a snapshot from central ----

interface Snapshot {
  version: number;
  count: number;
  hash: string;
  payloads: Buffer[];
}

/** `count` members as central would send them, each chunk a ready message (made before anything is measured). */
function makeSnapshot(count: number, version: number, fields: Member): Snapshot {
  const total = snapshotChunkCount(count, CHUNK_SIZE);
  const chunks: string[][] = Array.from({ length: total }, () => []);
  const sum = new ListHash();
  for (let i = 0; i < count; i++) {
    const row = { cardHash: cardHash(i), ...fields };
    sum.add(row);
    chunks[chunkOfCard(row.cardHash, total)]!.push(encodeMemberEntry(row));
  }
  const hash = sum.toHex();
  const transfer = `6a1f0c1e-2b3d-4e5f-8a9b-${String(version).padStart(12, '0')}`;
  const payloads = chunks.map((entries, index) =>
    signed(CENTRAL.transferTopic, MembersTransferSchema.parse({ type: 'chunk', transfer, version, keyId: KEY_ID, kind: 'snapshot', base: null, count, hash, index, total, chunkHash: chunkHash(entries), entries })),
  );
  return { version, count, hash, payloads };
}

/** The branch's side: a MemberSync on the gateway's store, chunks delivered on later turns as a broker's would. */
async function pullSnapshot(store: Store, s: Snapshot, atOnce: boolean): Promise<{ lockMs: number }> {
  const inline: TransferChecker = { check: async (payload, signedBy) => checkTransfer(payload, signedBy), close: () => undefined };
  const sync = new MemberSync({
    store,
    keyId: KEY_ID,
    central: CENTRAL,
    clock: { now: () => new Date() },
    logger: silent,
    record: () => undefined,
    alarms: { set: () => undefined },
    onApplied: () => undefined,
    config: { staleAfterDays: 30, windowChunks: 8, requestTimeoutMs: 120_000 },
    newId: () => `6a1f0c1e-2b3d-4e5f-8a9b-${String(s.version).padStart(12, '0')}`,
    // The floor: the same code with no turn of the loop anywhere, and the chunks checked on this thread.
    ...(atOnce ? { checker: inline, yieldToLoop: async () => undefined } : {}),
  });
  sync.link((payload) => {
    const request = JSON.parse(payload.toString()) as { from: number; count: number };
    for (let i = request.from; i < Math.min(request.from + request.count, s.payloads.length); i++) {
      const chunk = s.payloads[i]!;
      setImmediate(() => sync.receive('transfer', chunk));
    }
    return true;
  });
  sync.start();
  const now = new Date().toISOString();
  sync.receive('announcement', signed(CENTRAL.announcementTopic, MembersAnnouncementSchema.parse({ version: s.version, count: s.count, hash: s.hash, keyId: KEY_ID, at: now, createdAt: now, chunkSize: CHUNK_SIZE, deltasFrom: 0 })));
  // Done when the list is in force and the one it replaced is gone.
  while (store.members.stats().version !== s.version || store.memberSync.transfer() !== null || store.memberSync.hasLeftovers()) await sleep(5);
  const lockMs = sync.status().lastApply?.lockMs ?? Number.NaN;
  sync.stop();
  return { lockMs };
}

async function snapshotJob(o: StallOptions, replace: boolean): Promise<JobResult> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-stalls-'));
  try {
    const snapshot = makeSnapshot(o.members, 2, { ...member, expires: '2098-12-31' });
    const runs: Array<{ figures: Figures; lockMs: number; idle: Figures }> = [];
    for (const atOnce of [false, true]) {
      const file = atOnce ? 'floor.sqlite' : 'branch.sqlite';
      if (replace) {
        const store = openStore(join(dir, file));
        store.members.replaceAll((function* () {
          for (let i = 0; i < o.members; i++) yield { cardHash: cardHash(i), ...member };
        })(), { version: 1, source: 'bench' });
        store.close();
      }
      const running = await startBranch(dir, file);
      const idleFigures = await idle(running, o, o.members);
      let lockMs = Number.NaN;
      const figures = await measure(running, o.tapEveryMs, o.members, async () => {
        lockMs = (await pullSnapshot(running.store, snapshot, atOnce)).lockMs;
      });
      await running.stop();
      runs.push({ figures, lockMs, idle: idleFigures });
    }
    const n = o.members.toLocaleString('en-GB');
    return {
      job: replace ? 'snapshot-replace' : 'snapshot-new',
      title: replace ? `(a) ${n}-member snapshot over a ${n} list` : `(a) ${n}-member snapshot, new branch`,
      floorTitle: 'same, no turns, checked in-thread',
      idle: runs[0]!.idle,
      stepped: runs[0]!.figures,
      floor: runs[1]!.figures,
      notes: `write lock held ${runs[0]!.lockMs.toFixed(1)} ms (floor ${runs[1]!.lockMs.toFixed(1)} ms); ${snapshot.payloads.length} chunks`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- (b) the console's CSV export ----

function fillEvents(path: string, n: number, start: number, spacingMs: number, members: number): void {
  const store = openStore(path);
  try {
    store.members.replaceAll((function* () {
      for (let i = 0; i < members; i++) yield { cardHash: cardHash(i), ...member };
    })(), { version: 1, source: 'bench' });
    for (let done = 0; done < n; ) {
      const upto = Math.min(n, done + 10_000);
      store.transaction(() => {
        for (let i = done; i < upto; i++) {
          store.events.append({
            type: 'access',
            at: new Date(start + i * spacingMs),
            reason: 'member',
            cardHash: cardHash(i % members),
            data: { decision: 'granted', reason: 'member', reader: 'entry', person: cardHash(i % members).toString('hex').slice(0, 8), mode: 'open-access' },
          });
        }
      });
      done = upto;
    }
  } finally {
    store.close();
  }
}

/** The export as the route built it before it was streamed: every page of 1,000 formatted in one loop. */
function csvInOneLoop(store: Store, policy: Parameters<typeof toLocalIso>[0], maxRows: number): string {
  const parts = ['\ufeff', CSV_HEADER];
  let before: string | undefined;
  let rows = 0;
  while (rows < maxRows) {
    const page = store.events.query({ limit: Math.min(1000, maxRows - rows), before });
    for (const event of page) parts.push(csvLine(storedRow(event), toLocalIso(policy, new Date(event.at))));
    rows += page.length;
    if (page.length < 1000) break;
    before = page[page.length - 1]!.id;
  }
  return parts.join('');
}

async function exportJob(o: StallOptions): Promise<JobResult> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-stalls-'));
  const members = 1000;
  try {
    fillEvents(join(dir, 'branch.sqlite'), o.exportRows, Date.now() - o.exportRows * 1000, 1000, members);
    const running = await startBranch(dir, 'branch.sqlite');
    const store = running.store;
    const app = buildLocalApi({
      gateway: running.gateway,
      hardware: running.hardware,
      console: { store, hashCard: createCardHasher(KEY), clock: { now: () => new Date() } },
    });
    await app.ready();
    const db = openConsoleDb(store);
    await new ConsoleUsers(db, { now: () => new Date() }).add('bench', 'staff', 'correct horse battery');
    const login = await app.inject({ method: 'POST', url: '/api/console/login', payload: { username: 'bench', password: 'correct horse battery' } });
    const session = login.cookies.find((c) => c.name.endsWith('oag_session'))!;
    const cookie = `${session.name}=${session.value}`;
    try {
      const idleFigures = await idle(running, o, members);
      let bytes = 0;
      const stepped = await measure(running, o.tapEveryMs, members, async () => {
        const response = await app.inject({ method: 'GET', url: '/api/console/log.csv', headers: { cookie } });
        if (response.statusCode !== 200) throw new Error(`log.csv: ${response.statusCode}`);
        bytes = response.rawPayload.length;
      });
      let floorBytes = 0;
      const floor = await measure(running, o.tapEveryMs, members, async () => {
        floorBytes = Buffer.byteLength(csvInOneLoop(store, running.gateway.policies.current, 100_000));
      });
      return {
        job: 'export',
        title: `(b) CSV export, ${Math.min(o.exportRows, 100_000).toLocaleString('en-GB')} rows`,
        floorTitle: 'built in one loop (as before)',
        idle: idleFigures,
        stepped,
        floor,
        notes: `${(bytes / 2 ** 20).toFixed(1)} MB streamed (one loop: ${(floorBytes / 2 ** 20).toFixed(1)} MB, taps' own rows included)`,
      };
    } finally {
      await app.close();
      db.close();
      await running.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- (c) the retention purge ----

async function purgeJob(o: StallOptions): Promise<JobResult> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-stalls-'));
  const members = 1000;
  try {
    // `purgeEvents` events from 90 days ago on, a second apart, and a day of recent ones after the cutoff.
    const now = Date.now();
    const cutoff = new Date(now - 30 * DAY_MS);
    fillEvents(join(dir, 'branch.sqlite'), o.purgeEvents, now - 90 * DAY_MS, 1000, members);
    const recent = openStore(join(dir, 'branch.sqlite'));
    recent.transaction(() => {
      for (let i = 0; i < 10_000; i++) recent.events.append({ type: 'door', at: new Date(now - DAY_MS + i * 8_000), data: { state: 'open' } });
    });
    recent.close();
    copyFileSync(join(dir, 'branch.sqlite'), join(dir, 'floor.sqlite'));
    const runs: Array<{ idle: Figures; figures: Figures; purged: number }> = [];
    for (const atOnce of [false, true]) {
      const running = await startBranch(dir, atOnce ? 'floor.sqlite' : 'branch.sqlite');
      const idleFigures = await idle(running, o, members);
      let purged = 0;
      const figures = await measure(running, o.tapEveryMs, members, async () => {
        purged = atOnce ? running.store.events.purgeOlderThan(cutoff) : (await purgeInBatches(running.store, cutoff)).events;
      });
      await running.stop();
      runs.push({ idle: idleFigures, figures, purged });
    }
    return {
      job: 'purge',
      title: `(c) purge of ${runs[0]!.purged.toLocaleString('en-GB')} events`,
      floorTitle: 'one DELETE (purgeOlderThan)',
      idle: runs[0]!.idle,
      stepped: runs[0]!.figures,
      floor: runs[1]!.figures,
      notes: `${runs[1]!.purged.toLocaleString('en-GB')} deleted by the one DELETE; 10,000 recent events kept`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- running and printing ----

/** Each job in a child process of its own: a fresh heap, and a gateway holding only what the job needs. */
export async function benchStalls(o: StallOptions): Promise<JobResult[]> {
  const results: JobResult[] = [];
  const compiled = import.meta.url.endsWith('.js');
  const script = fileURLToPath(import.meta.url);
  for (const job of o.jobs) {
    const result = await new Promise<JobResult>((resolve, reject) => {
      const child = fork(script, ['--child', job, JSON.stringify(o)], {
        execArgv: [...(compiled ? [] : ['--import', 'tsx']), '--max-old-space-size=2048', '--expose-gc'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let answer: JobResult | undefined;
      child.on('message', (m) => {
        answer = m as JobResult;
      });
      child.on('error', reject);
      child.on('exit', (code) => (answer === undefined ? reject(new Error(`stall benchmark ${job} exited with ${code}`)) : resolve(answer)));
    });
    results.push(result);
    printStallRow(result);
  }
  return results;
}

async function runChild(job: StallJob, o: StallOptions): Promise<JobResult> {
  switch (job) {
    case 'snapshot-new':
      return snapshotJob(o, false);
    case 'snapshot-replace':
      return snapshotJob(o, true);
    case 'export':
      return exportJob(o);
    case 'purge':
      return purgeJob(o);
  }
}

export function printStallHeader(o: StallOptions): void {
  console.log(
    `event-loop stalls while a job runs at the branch (gateway in a child process, simulated drivers; a tap from a reader thread every ${o.tapEveryMs} ms)`,
  );
  console.log(`goal: longest stall < ${GOAL_STALL_MS} ms, tap p99 < ${GOAL_TAP_P99_US / 1000} ms (tap: from the reader thread's tap to the relay write or refusal)`);
  console.log(`${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (each figure's own load is at the end of its line)`);
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '—');
const us = (x: number): string => (Number.isFinite(x) ? String(Math.round(x)) : '—');
// Figures come back from the child as JSON: a percentile of no taps (NaN) arrives as null.
const verdict = (fig: Figures): string =>
  `${fig.longestStallMs < GOAL_STALL_MS ? 'stall ok' : 'STALL over goal'}, ${fig.taps === 0 ? 'no tap during the job' : fig.tapP99Us < GOAL_TAP_P99_US ? 'tap p99 ok' : 'TAP P99 over goal'}`;

function line(label: string, fig: Figures): string {
  return `    ${label.padEnd(36)} ${f1(fig.seconds).padStart(7)} s   stall max ${f1(fig.longestStallMs).padStart(7)} ms (p99 ${f1(fig.stallP99Ms).padStart(6)})   taps ${String(fig.taps).padStart(5)}: p50 ${us(fig.tapP50Us).padStart(7)} µs, p99 ${us(fig.tapP99Us).padStart(8)} µs, max ${us(fig.tapMaxUs).padStart(8)} µs   load ${fig.load.toFixed(1)}`;
}

export function printStallRow(r: JobResult): void {
  console.log(`  ${r.title}`);
  console.log(`${line('in steps (now)', r.stepped)}   → ${verdict(r.stepped)}`);
  console.log(line(`floor: ${r.floorTitle}`, r.floor));
  console.log(line('idle loop, taps only (3 s)', r.idle));
  console.log(`    time in steps / floor: ${(r.stepped.seconds / r.floor.seconds).toFixed(2)}×; ${r.notes}`);
}

function parseArgs(argv: readonly string[]): StallOptions {
  const get = (name: string, fallback: number): number => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? fallback : Number(argv[i + 1]);
  };
  const jobsAt = argv.indexOf('--jobs');
  const jobs = jobsAt === -1 ? STALL_JOBS : (argv[jobsAt + 1] ?? '').split(',').filter((j): j is StallJob => (STALL_JOBS as readonly string[]).includes(j));
  return { members: get('members', 1_000_000), exportRows: get('export-rows', 100_000), purgeEvents: get('purge-events', 100_000), tapEveryMs: get('tap-every', 20), jobs };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--child') {
    const result = await runChild(process.argv[3] as StallJob, JSON.parse(process.argv[4]!) as StallOptions);
    process.send?.(result);
    process.exit(0);
  } else {
    const options = parseArgs(process.argv.slice(2));
    printStallHeader(options);
    await benchStalls(options);
  }
}
