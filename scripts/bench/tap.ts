// Tap-to-relay latency in process, on simulated drivers: from the reader's tap event to the relay write,
// through the whole hot path (normalise, HMAC, SQLite lookup, decide, door) at a given member count.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { createCardHasher } from '../../gateway/core/cards.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import { openStore } from '../../gateway/store/index.js';
import type { Member } from '../../policies/types.js';

const KEY = 'b'.repeat(64);

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

function percentile(sorted: number[], p: number): number {
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
      for (let i = 0; i < members; i += 1) yield { cardHash: hash(`C${String(i).padStart(10, '0')}`), ...member };
    }
    store.members.replaceAll(rows(), { version: 1, source: 'bench' });
    return (performance.now() - loadStart) / 1000;
  } finally {
    store.close();
  }
}

/** Taps through a gateway on the store in `preparedDir` (or a fresh one loaded here when none is given). */
export async function benchTap(members: number, taps = 20_000, preparedDir?: string): Promise<TapBenchResult> {
  const dir = preparedDir ?? mkdtempSync(join(tmpdir(), 'oag-bench-'));
  try {
    const loadSeconds = preparedDir === undefined ? prepareBenchStore(dir, members) : Number.NaN;
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
    const running = await startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: KEY } });

    const latencies: number[] = [];
    const unknown: number[] = [];
    running.gateway.bus.on('access', (outcome) => {
      // Grants: to the relay write. Refusals: to the decision (the panel's red light follows at once).
      const end = outcome.relayAt ?? outcome.decidedAt;
      (outcome.decision.allow ? latencies : unknown).push(Number(end - outcome.seenAt) / 1000);
    });
    const reader = running.hardware.simulated!.reader!;
    // Warm up the JIT and SQLite's page cache before measuring, as a branch would be after its first taps.
    for (let i = 0; i < 2000; i += 1) reader.tap(`C${String((i * 7919) % members).padStart(10, '0')}`);
    latencies.length = 0;
    unknown.length = 0;
    for (let i = 0; i < taps; i += 1) {
      const n = Math.floor(Math.random() * members);
      reader.tap(i % 10 === 9 ? `FF${String(i).padStart(10, '0')}` : `C${String(n).padStart(10, '0')}`);
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
