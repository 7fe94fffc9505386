// Tap latency while the staff console's sign-in is flooded (docs/console.md, Security). A child process runs a real
// gateway on the simulated drivers with its local API on loopback, and taps its reader from a thread of its own
// (the tap benchmark's driver, scripts/bench/tap.ts); this process is the attacker: `clients` connections, each
// posting wrong passwords to /api/console/login as fast as it is answered. Figures: the taps' p50, p99 and max
// without the flood and during it, and their ratio; what the flood got (wrong password = hashed, busy = turned away
// before hashing). The sign-in limits are raised out of the way so that every attempt reaches the hashing: the
// worst case for the door, as from many addresses behind a trusted proxy. Goal: tap p99 < 5 ms during the flood.
// Beside it, the same flood on a second console of the same gateway whose hashing is not bounded (as before
// HashSlots): what the bound is for.
//   npx tsx scripts/bench/signin-flood.ts [--seconds N] [--clients N] [--tap-every MS] [--members N]
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createCardHasher } from '../../gateway/core/cards.js';
import { HashSlots } from '../../kit/auth/hash-slots.js';
import { DEFAULT_HASH_SLOTS } from '../../gateway/console/index.js';
import { openConsoleDb } from '../../gateway/console/db.js';
import { ConsoleUsers } from '../../gateway/console/users.js';
import { buildLocalApi } from '../../gateway/http/server.js';
import { BENCH_KEY_HEX, pacedTaps, percentile, prepareBenchStore, startBenchGateway } from './tap.js';

export interface SigninFloodOptions {
  /** How long each phase (no flood, flood) taps. */
  seconds: number;
  /** Parallel sign-in floods. */
  clients: number;
  tapEveryMs: number;
  members: number;
}

export const DEFAULT_SIGNIN_FLOOD: SigninFloodOptions = { seconds: 10, clients: 8, tapEveryMs: 20, members: 100_000 };
const GOAL_P99_MS = 5;

export interface TapFigures {
  taps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  load: number;
}

export interface FloodFigures {
  taps: TapFigures;
  /** The flood's answers by status (401 = hashed and wrong, 503 = busy, turned away before hashing). */
  answers: Record<string, number>;
  attemptsPerSecond: number;
}

export interface SigninFloodResult {
  options: SigninFloodOptions;
  quiet: TapFigures;
  /** The console as built: hashing in its slots. */
  bounded: FloodFigures;
  /** The same flood on a console whose hashes all run at once (as before the slots). */
  unbounded: FloodFigures;
}

type ToChild = 'measure' | 'stop';
type FromChild = { ready: { bounded: string; unbounded: string } } | { figures: TapFigures };

// ---- the gateway's side (child process) ----

async function runGateway(o: SigninFloodOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-flood-'));
  try {
    prepareBenchStore(dir, o.members);
    // Logged as the service logs (every refused sign-in is a line), to a file rather than this terminal.
    const logger = pino({ level: 'info' }, pino.destination({ dest: join(dir, 'gateway.log'), sync: false }));
    const running = await startBenchGateway(dir, { logger });
    const db = openConsoleDb(running.store);
    await new ConsoleUsers(db, { now: () => new Date() }).add('mia', 'manager', 'the right password');
    db.close();
    const api = (hashSlots: HashSlots) =>
      buildLocalApi({
        gateway: running.gateway,
        hardware: running.hardware,
        logger,
        console: {
          store: running.store,
          hashCard: createCardHasher(Buffer.from(BENCH_KEY_HEX, 'hex')),
          clock: { now: () => new Date() },
          // Out of the way: every attempt is hashed (or turned away as busy), none is refused for the count.
          options: { loginLimit: { perAccount: 1e9, perAddress: 1e9, windowMs: 1000 }, hashSlots },
        },
      });
    const bounded = api(new HashSlots(DEFAULT_HASH_SLOTS));
    const unbounded = api(new HashSlots({ concurrent: 1000, queued: 0 }));
    const urls = { bounded: await bounded.listen({ host: '127.0.0.1', port: 0 }), unbounded: await unbounded.listen({ host: '127.0.0.1', port: 0 }) };
    const send = (m: FromChild): void => void process.send?.(m);
    await new Promise<void>((resolve) => {
      process.on('message', (m: ToChild) => {
        if (m === 'stop') return resolve();
        void (async () => {
          const load = loadavg()[0]!;
          const latencies = await pacedTaps(running, { everyMs: o.tapEveryMs, cards: o.members }, () => sleep(o.seconds * 1000));
          send({ figures: figures(latencies, Math.max(load, loadavg()[0]!)) });
        })();
      });
      send({ ready: urls });
    });
    await bounded.close();
    await unbounded.close();
    await running.stop();
    logger.flush();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function figures(sortedUs: readonly number[], load: number): TapFigures {
  return {
    taps: sortedUs.length,
    p50Ms: percentile(sortedUs, 50) / 1000,
    p99Ms: percentile(sortedUs, 99) / 1000,
    maxMs: (sortedUs.at(-1) ?? Number.NaN) / 1000,
    load,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the attacker's side (this process) ----

/** One client: wrong passwords, one after the other, until `stop`. */
async function flood(url: string, answers: Record<string, number>, stop: { now: boolean }, n: number): Promise<void> {
  let i = 0;
  while (!stop.now) {
    i += 1;
    const response = await fetch(`${url}/api/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'mia', password: `wrong guess ${n}-${i}` }),
    }).catch(() => undefined);
    const key = response === undefined ? 'error' : String(response.status);
    answers[key] = (answers[key] ?? 0) + 1;
    await response?.arrayBuffer().catch(() => undefined);
  }
}

export async function benchSigninFlood(o: SigninFloodOptions = DEFAULT_SIGNIN_FLOOD): Promise<SigninFloodResult> {
  const compiled = import.meta.url.endsWith('.js');
  const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(o)], {
    execArgv: compiled ? [] : ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const next = (): Promise<FromChild> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`the sign-in flood benchmark's gateway exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as FromChild);
      });
    });
  const ask = async (m: ToChild): Promise<TapFigures> => {
    const answer = next();
    child.send(m);
    const got = await answer;
    if (!('figures' in got)) throw new Error('the gateway answered out of turn');
    return got.figures;
  };
  try {
    const ready = await next();
    if (!('ready' in ready)) throw new Error('the gateway did not start');
    const quiet = await ask('measure');
    const flooded = async (url: string): Promise<FloodFigures> => {
      const answers: Record<string, number> = {};
      const stop = { now: false };
      const clients = Array.from({ length: o.clients }, (_, n) => flood(url, answers, stop, n));
      // The flood at full strength (every client waiting on its answer) before the taps are measured.
      await sleep(1000);
      const count = (): number => Object.values(answers).reduce((a, b) => a + b, 0);
      const before = count();
      const started = performance.now();
      const taps = await ask('measure');
      const attemptsPerSecond = (count() - before) / ((performance.now() - started) / 1000);
      stop.now = true;
      await Promise.all(clients);
      return { taps, answers, attemptsPerSecond };
    };
    const bounded = await flooded(ready.ready.bounded);
    const unbounded = await flooded(ready.ready.unbounded);
    child.send('stop');
    await exited;
    return { options: o, quiet, bounded, unbounded };
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

export function printSigninFloodHeader(o: SigninFloodOptions): void {
  console.log(
    `tap latency while ${o.clients} clients flood the console's sign-in with wrong passwords (gateway in a child process, ${o.members.toLocaleString('en-GB')} members, ` +
      `a tap from a reader thread every ${o.tapEveryMs} ms for ${o.seconds} s; sign-in limits out of the way, so every attempt is hashed or turned away as busy)`,
  );
  console.log(`goal: tap p99 < ${GOAL_P99_MS} ms during the flood; ${cpus().length} CPUs`);
}

export function printSigninFlood(r: SigninFloodResult): void {
  const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '—');
  const row = (label: string, f: TapFigures): string =>
    `  ${label.padEnd(44)} taps ${String(f.taps).padStart(6)}   p50 ${ms(f.p50Ms).padStart(7)} ms   p99 ${ms(f.p99Ms).padStart(8)} ms   max ${ms(f.maxMs).padStart(8)} ms   load ${f.load.toFixed(1)}`;
  const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');
  const ratios = (f: TapFigures): string => `p50 ${ratio(f.p50Ms, r.quiet.p50Ms)}, p99 ${ratio(f.p99Ms, r.quiet.p99Ms)}, max ${ratio(f.maxMs, r.quiet.maxMs)}`;
  const got = (f: FloodFigures): string =>
    `${f.attemptsPerSecond.toFixed(1)} attempts/s (${Object.entries(f.answers)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, count]) => `${status}: ${count}`)
      .join(', ')})`;
  console.log(row('no flood', r.quiet));
  console.log(row(`${r.options.clients} sign-in floods (hashing in its slots)`, r.bounded.taps));
  console.log(`    flood / no flood: ${ratios(r.bounded.taps)}; the flood: ${got(r.bounded)}`);
  console.log(row(`${r.options.clients} sign-in floods, hashing unbounded (before)`, r.unbounded.taps));
  console.log(`    flood / no flood: ${ratios(r.unbounded.taps)}; the flood: ${got(r.unbounded)}`);
  console.log(`  (401 = hashed, a wrong password; 503 = busy, turned away before hashing)`);
  console.log(`  → ${r.bounded.taps.p99Ms < GOAL_P99_MS ? 'tap p99 ok' : 'TAP P99 over goal'} during the flood (${ms(r.bounded.taps.p99Ms)} ms; goal < ${GOAL_P99_MS} ms)`);
}

function parseArgs(argv: readonly string[]): SigninFloodOptions {
  const get = (name: string, fallback: number): number => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? fallback : Number(argv[i + 1]);
  };
  const d = DEFAULT_SIGNIN_FLOOD;
  return { seconds: get('seconds', d.seconds), clients: get('clients', d.clients), tapEveryMs: get('tap-every', d.tapEveryMs), members: get('members', d.members) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--child') {
    await runGateway(JSON.parse(process.argv[3]!) as SigninFloodOptions);
    process.exit(0);
  } else {
    const options = parseArgs(process.argv.slice(2));
    printSigninFloodHeader(options);
    printSigninFlood(await benchSigninFlood(options));
  }
}
