// Tap-to-relay latency in process, on simulated drivers: from the reader's tap event to the relay write,
// through the whole hot path (normalise, HMAC, SQLite lookup, decide, door) at a given member count.
// The tap driver is shared by the other benchmarks: the bench gateway (startBenchGateway), its cards (benchCard),
// and taps from a reader thread of its own while something else runs (pacedTaps: stalls, sign-in floods).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { createCardHasher } from '../../gateway/core/cards.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { openStore } from '../../gateway/store/index.js';
import type { Member } from '../../policies/types.js';

const KEY = 'b'.repeat(64);
/** The deployment key of every bench gateway (hex). */
export const BENCH_KEY_HEX = KEY;

/** The n-th member's card, as the bench store holds it. */
export function benchCard(n: number): string {
  return `C${String(n).padStart(10, '0')}`;
}

const ALWAYS_OPEN = {
  version: 1,
  site: 'bench',
  timezone: 'Europe/London',
  schedule: {
    weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])),
  },
  rules: { minimumAge: 16 },
};

const member: Member = {
  expires: '2099-12-31',
  blocked: false,
  blockedUntil: null,
  openAccess: true,
  birthDate: '1980-01-01',
  adult: null,
  staff: false,
  groups: [],
  pinHash: null,
};

export interface TapBenchResult {
  members: number;
  taps: number;
  medianUs: number;
  p99Us: number;
  maxUs: number;
  unknownMedianUs: number;
  loadSeconds: number;
  rssMb: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Writes `members` members into a store in `dir`, as an import would before the gateway starts. Run in another
 * process than the measurement, so that the gateway's memory is that of a gateway holding the list, not of the load.
 */
export function prepareBenchStore(dir: string, members: number): number {
  const store = openStore(join(dir, 'bench.sqlite'));
  try {
    const hash = createCardHasher(Buffer.from(KEY, 'hex'));
    const loadStart = performance.now();
    function* rows() {
      for (let i = 0; i < members; i += 1) yield { cardHash: hash(benchCard(i)), ...member };
    }
    store.members.replaceAll(rows(), { version: 1, source: 'bench' });
    return (performance.now() - loadStart) / 1000;
  } finally {
    store.close();
  }
}

/**
 * A gateway on the store prepared in `dir` (prepareBenchStore), open access all day, simulated drivers, its own
 * local API off (a benchmark that wants one builds it on `running`).
 */
export async function startBenchGateway(dir: string, options: { logger?: Logger } = {}): Promise<RunningGateway> {
  writeFileSync(join(dir, 'policy.yaml'), stringify(ALWAYS_OPEN));
  const config = parseGatewayConfig({
    site: 'bench',
    policyFile: join(dir, 'policy.yaml'),
    store: { path: join(dir, 'bench.sqlite') },
    clock: { trust: 'trusted' },
    taps: { repeatWindowMs: 0 },
    http: { enabled: false },
    log: { level: 'silent' },
    hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
  });
  return startGateway(config, { logger: options.logger ?? pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: KEY } });
}

// A reader in a thread of its own: its taps arrive as a real reader's do, through the event loop, so a tap made
// while the loop is held waits for it. Latency runs from the thread's tap (hrtime, one clock for all threads).
const TAPPER = `
const { parentPort, workerData } = require('node:worker_threads');
let n = 0;
let timer;
parentPort.on('message', (m) => {
  if (m === 'start') timer = setInterval(() => parentPort.postMessage({ n: n++, at: process.hrtime.bigint() }), workerData.everyMs);
  else if (m === 'stop') { clearInterval(timer); parentPort.postMessage('stopped'); }
});`;

export interface PacedTapOptions {
  /** A tap from the reader thread this often. */
  everyMs: number;
  /** Taps go to benchCard(0 … cards-1). */
  cards: number;
  /** Just before the first tap (a garbage collection, say). */
  beforeStart?: () => void;
}

/**
 * Taps from a reader thread every `everyMs` while `during` runs; each tap's latency (µs, sorted) from the moment the
 * thread tapped to the relay write (or the refusal), so a busy event loop shows in it.
 */
export async function pacedTaps(running: RunningGateway, options: PacedTapOptions, during: () => Promise<void>): Promise<number[]> {
  const reader = running.hardware.simulated!.reader!;
  const latencies: number[] = [];
  let tappedAt: bigint | null = null;
  const onAccess = (outcome: { relayAt: bigint | null; decidedAt: bigint }): void => {
    if (tappedAt === null) return;
    latencies.push(Number((outcome.relayAt ?? outcome.decidedAt) - tappedAt) / 1000);
    tappedAt = null;
  };
  running.gateway.bus.on('access', onAccess, 'paced-taps');
  const tapper = new Worker(TAPPER, { eval: true, workerData: { everyMs: options.everyMs } });
  let stopped: () => void = () => undefined;
  tapper.on('message', (m: { n: number; at: bigint } | 'stopped') => {
    if (m === 'stopped') return stopped();
    tappedAt = m.at;
    reader.tap(benchCard((m.n * 7919) % options.cards));
    tappedAt = null;
  });
  try {
    await new Promise((resolve) => tapper.once('online', resolve));
    options.beforeStart?.();
    tapper.postMessage('start');
    await during();
    await new Promise<void>((resolve) => {
      stopped = resolve;
      tapper.postMessage('stop');
    });
  } finally {
    await tapper.terminate();
    running.gateway.bus.removeOwner('paced-taps');
  }
  return latencies.sort((a, b) => a - b);
}

/** Taps through a gateway on the store in `preparedDir` (or a fresh one loaded here when none is given). */
export async function benchTap(members: number, taps = 20_000, preparedDir?: string): Promise<TapBenchResult> {
  const dir = preparedDir ?? mkdtempSync(join(tmpdir(), 'oag-bench-'));
  try {
    const loadSeconds = preparedDir === undefined ? prepareBenchStore(dir, members) : Number.NaN;
    const running = await startBenchGateway(dir);

    const latencies: number[] = [];
    const unknown: number[] = [];
    running.gateway.bus.on('access', (outcome) => {
      // Grants: to the relay write. Refusals: to the decision (the panel's red light follows at once).
      const end = outcome.relayAt ?? outcome.decidedAt;
      (outcome.decision.allow ? latencies : unknown).push(Number(end - outcome.seenAt) / 1000);
    });
    const reader = running.hardware.simulated!.reader!;
    // Warm up the JIT and SQLite's page cache before measuring, as a branch would be after its first taps.
    for (let i = 0; i < 2000; i += 1) reader.tap(benchCard((i * 7919) % members));
    latencies.length = 0;
    unknown.length = 0;
    for (let i = 0; i < taps; i += 1) {
      const n = Math.floor(Math.random() * members);
      reader.tap(i % 10 === 9 ? `FF${String(i).padStart(10, '0')}` : benchCard(n));
    }
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    await running.stop();
    latencies.sort((a, b) => a - b);
    unknown.sort((a, b) => a - b);
    return {
      members,
      taps: latencies.length + unknown.length,
      medianUs: percentile(latencies, 50),
      p99Us: percentile(latencies, 99),
      maxUs: latencies.at(-1) ?? Number.NaN,
      unknownMedianUs: percentile(unknown, 50),
      loadSeconds,
      rssMb,
    };
  } finally {
    if (preparedDir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

// Run alone (`tsx scripts/bench/tap.ts 1000000 20000`), so that a size's memory is measured in a fresh process.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await benchTap(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 20_000), process.argv[4]);
  process.send?.(result);
  if (process.send === undefined) console.log(JSON.stringify(result));
}
