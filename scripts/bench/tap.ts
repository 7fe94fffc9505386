// Tap-to-relay latency in process, on simulated drivers: from the reader's tap event to the relay write,
// through the whole hot path (normalise, HMAC, SQLite lookup, decide, door) at a given member count.
// One tap in ten is a card the list does not know, measured two ways side by side (to the refusal): half spread
// over readers of their own so that none sees more than a burst (a normal unknown tap, counted in its reader's
// window), half at the entry reader, which is in a burst from the warm-up on (the limiter's refusal at once).
// The limiter keeps its default threshold: raising it would lengthen the window it scans on every unknown tap.
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
import type { GatewayConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { openStore } from '../../gateway/store/index.js';
import type { Member } from '../../policies/types.js';
import { BENCH_MEMBER } from './bench-member.js';

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

const member = BENCH_MEMBER;

export interface Latencies {
  n: number;
  p50Us: number;
  p99Us: number;
}

export interface TapBenchResult {
  members: number;
  taps: number;
  /** Members' taps, all granted: to the relay write. */
  medianUs: number;
  p99Us: number;
  maxUs: number;
  /** Unknown cards at readers below a burst: refused as unknown-card after the list look-up. */
  unknown: Latencies;
  /** Unknown cards at a reader in a burst: refused as unknown-card-burst by the limiter. */
  unknownBurst: Latencies;
  /** The limiter's threshold (taps.unknownCards.burst), and the readers the first kind was spread over. */
  burst: number;
  spreadReaders: number;
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
export function prepareBenchStore(dir: string, members: number, overrides: (i: number) => Partial<Member> = () => ({})): number {
  const store = openStore(join(dir, 'bench.sqlite'));
  try {
    const hash = createCardHasher(Buffer.from(KEY, 'hex'));
    const loadStart = performance.now();
    function* rows() {
      for (let i = 0; i < members; i += 1) yield { cardHash: hash(benchCard(i)), ...member, ...overrides(i) };
    }
    store.members.replaceAll(rows(), { version: 1, source: 'bench' });
    return (performance.now() - loadStart) / 1000;
  } finally {
    store.close();
  }
}

/** One simulated entry reader per id, for a bench gateway's `hardware.readers`. */
export function entryReaders(ids: readonly string[]): Array<{ id: string; driver: 'simulated'; role: 'entry' }> {
  return ids.map((id) => ({ id, driver: 'simulated', role: 'entry' }));
}

/**
 * The benches' gateway config: its policy and store in `dir`, a trusted clock, no repeat window (a bench taps one
 * card again at once), no local API, silent, simulated drivers with one reader `entry`. `sections` replaces or adds
 * whole top-level sections (site, policyFile, store, hardware, mqtt).
 */
export function benchGatewayConfig(dir: string, sections: Record<string, unknown> = {}): GatewayConfig {
  return parseGatewayConfig({
    site: 'bench',
    policyFile: join(dir, 'policy.yaml'),
    store: { path: join(dir, 'bench.sqlite') },
    clock: { trust: 'trusted' },
    taps: { repeatWindowMs: 0 },
    http: { enabled: false },
    log: { level: 'silent' },
    hardware: { gpio: { driver: 'simulated' }, readers: entryReaders(['entry']) },
    ...sections,
  });
}

/**
 * A gateway on the store prepared in `dir` (prepareBenchStore), open access all day, simulated drivers, its own
 * local API off (a benchmark that wants one builds it on `running`).
 */
export async function startBenchGateway(dir: string, options: { logger?: Logger; spreadReaders?: number } = {}): Promise<RunningGateway> {
  writeFileSync(join(dir, 'policy.yaml'), stringify(ALWAYS_OPEN));
  const spread = Array.from({ length: options.spreadReaders ?? 0 }, (_, i) => `spread-${i + 1}`);
  const config = benchGatewayConfig(dir, { hardware: { gpio: { driver: 'simulated' }, readers: entryReaders(['entry', ...spread]) } });
  return startGateway(config, { logger: options.logger ?? pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: KEY } });
}

type TapKind = 'member' | 'unknown' | 'burst';

interface PlannedTap {
  uid: string;
  readerId: string;
  kind: TapKind;
}

/**
 * `count` taps: one in ten an unknown card, alternately at a reader below a burst (each `spread-N` gets `burst` of
 * them, numbered on from `spreadFrom`) and at `entry`; the rest members, `member(i)` of them.
 */
function planTaps(count: number, burst: number, spreadFrom: number, prefix: string, member: (i: number) => number): PlannedTap[] {
  let spread = spreadFrom;
  return Array.from({ length: count }, (_, i): PlannedTap => {
    const uid = `${prefix}${String(i).padStart(10, '0')}`;
    if (i % 20 === 9) return { uid, readerId: `spread-${Math.floor(spread++ / burst) + 1}`, kind: 'unknown' };
    if (i % 20 === 19) return { uid, readerId: 'entry', kind: 'burst' };
    return { uid: benchCard(member(i)), readerId: 'entry', kind: 'member' };
  });
}

function latencies(sorted: readonly number[]): Latencies {
  return { n: sorted.length, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) };
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
    const { burst } = benchGatewayConfig(dir).taps.unknownCards;
    // Warm up the JIT and SQLite's page cache before measuring, as a branch would be after its first taps; its
    // unknown cards at the entry reader make the burst there (> `burst` of them), so every measured one is in it.
    const warmUp = planTaps(2000, burst, 0, 'FE', (i) => (i * 7919) % members);
    const warmSpread = warmUp.filter((t) => t.kind === 'unknown').length;
    const measured = planTaps(taps, burst, warmSpread, 'FF', () => Math.floor(Math.random() * members));
    const spreadReaders = Math.ceil((warmSpread + measured.filter((t) => t.kind === 'unknown').length) / burst);
    const running = await startBenchGateway(dir, { spreadReaders });

    const got: Record<TapKind, number[]> = { member: [], unknown: [], burst: [] };
    const refusals = new Map<string, number>();
    running.gateway.bus.on('access', (outcome) => {
      // Grants: to the relay write. Refusals: to the decision (the panel's red light follows at once).
      const us = Number((outcome.relayAt ?? outcome.decidedAt) - outcome.seenAt) / 1000;
      const { decision } = outcome;
      if (decision.allow) got.member.push(us);
      else if (decision.reason === 'unknown-card') got.unknown.push(us);
      else if (decision.reason === 'unknown-card-burst') got.burst.push(us);
      if (!decision.allow) refusals.set(decision.reason, (refusals.get(decision.reason) ?? 0) + 1);
    });
    const reader = running.hardware.simulated!.reader!;
    for (const tap of warmUp) reader.tap(tap.uid, tap.readerId);
    for (const kind of Object.values(got)) kind.length = 0;
    refusals.clear();
    for (const tap of measured) reader.tap(tap.uid, tap.readerId);
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    await running.stop();
    checkPaths(measured, got, refusals);
    for (const kind of Object.values(got)) kind.sort((a, b) => a - b);
    return {
      members,
      taps: measured.length,
      medianUs: percentile(got.member, 50),
      p99Us: percentile(got.member, 99),
      maxUs: got.member.at(-1) ?? Number.NaN,
      unknown: latencies(got.unknown),
      unknownBurst: latencies(got.burst),
      burst,
      spreadReaders,
      loadSeconds,
      rssMb,
    };
  } finally {
    if (preparedDir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** The bench's own check failed: said in one line, not as a bug. */
class TapPathError extends Error {}

/**
 * Each figure measures the path it is named for, or the run stops: a member refused, or an unknown card that took
 * the other path (a reader in a burst too early or not at all), would put a figure under the wrong name.
 */
function checkPaths(planned: readonly PlannedTap[], got: Record<TapKind, number[]>, refusals: ReadonlyMap<string, number>): void {
  for (const kind of ['member', 'unknown', 'burst'] as const) {
    const expected = planned.filter((t) => t.kind === kind).length;
    if (got[kind].length !== expected) {
      const seen = [...refusals].map(([reason, n]) => `${n} ${reason}`).join(', ') || 'none';
      throw new TapPathError(`tap benchmark: ${got[kind].length} ${kind} taps took their path, ${expected} planned (refusals: ${seen})`);
    }
  }
}

const ratio = (figure: number, floor: number): string => (floor > 0 ? `${(figure / floor).toFixed(2)}×` : '—');
const us = (figure: number): string => (Number.isNaN(figure) ? '—' : figure.toFixed(1));

export function printTapHeader(): void {
  console.log('tap → relay write, in process, simulated drivers (µs); RSS of a fresh gateway process holding the list');
  console.log('  members      taps   median      p99      max   RSS MB   list load s');
}

export function printTapRow(r: TapBenchResult, loadSeconds: number): void {
  console.log(
    `${String(r.members).padStart(9)} ${String(r.taps).padStart(9)} ${us(r.medianUs).padStart(8)} ${us(r.p99Us).padStart(8)} ${r.maxUs.toFixed(0).padStart(8)} ${r.rssMb.toFixed(0).padStart(8)} ${loadSeconds.toFixed(1).padStart(13)}`,
  );
}

/**
 * The unknown cards of each size, both paths side by side: p50 and p99 to the refusal, each over the members'
 * grant at the same percentile (the floor: a known card's whole path), and the burst's over the normal one's.
 */
export function printUnknownTable(results: readonly TapBenchResult[]): void {
  const first = results[0];
  if (first === undefined) return;
  console.log(`\nunknown cards, tap → refusal (µs), one tap in ten; × = figure / members' grant at the same percentile`);
  console.log(`  both: card hash and list look-up as for any card; no SIP2 query (the bench has no sip2:)`);
  console.log(`  below a burst: spread over ${first.spreadReaders} entry readers, ≤ ${first.burst} each (the limiter counts it in the reader's window)`);
  console.log(`  in a burst: at the entry reader, past ${first.burst} within the window (the limiter refuses it at once)`);
  console.log('           ---------- below a burst ----------  ------------ in a burst -------------  burst / below');
  console.log('  members      n     p50     p99   ×p50   ×p99       n     p50     p99   ×p50   ×p99    p50    p99');
  for (const r of results) {
    const side = (l: Latencies): string =>
      `${String(l.n).padStart(6)} ${us(l.p50Us).padStart(7)} ${us(l.p99Us).padStart(7)} ${ratio(l.p50Us, r.medianUs).padStart(6)} ${ratio(l.p99Us, r.p99Us).padStart(6)}`;
    const { unknown: below, unknownBurst: inBurst } = r;
    console.log(
      `${String(r.members).padStart(9)} ${side(below)}  ${side(inBurst)} ${ratio(inBurst.p50Us, below.p50Us).padStart(6)} ${ratio(inBurst.p99Us, below.p99Us).padStart(6)}`,
    );
  }
}

// Run alone (`tsx scripts/bench/tap.ts 1000000 20000`), so that a size's memory is measured in a fresh process.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const result = await benchTap(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 20_000), process.argv[4]);
    process.send?.(result);
    if (process.send === undefined) console.log(JSON.stringify(result));
  } catch (error) {
    if (!(error instanceof TapPathError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
}
