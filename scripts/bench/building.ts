// Taps with the building running beside the door (switched outputs, the intruder alarm, announcements that greet
// every entry and say every refusal) against the same gateway without them: the floor is the door alone, in the same
// run. Two figures each: tap → relay write (what the person at the door waits for), and the wall time of a burst of
// taps back to back (what the bus's listeners add between taps, since they run after the relay is written).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { BENCH_KEY_HEX, benchCard, benchGatewayConfig, entryReaders, percentile, prepareBenchStore } from './tap.js';

const ALL_DAY = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]]));

const DOOR_ONLY = { version: 1, site: 'bench', timezone: 'Europe/London', schedule: { weekly: ALL_DAY } };
const WITH_BUILDING = {
  ...DOOR_ONLY,
  outputs: { pcs: [{ during: ['open-access'], fromMinutes: -10, untilMinutes: -15 }], heating: [{ during: ['open-access'] }] },
  intruderAlarm: {},
  // Every grant greeted and every refusal said: the most an announcement listener does on the bus, rate limits aside.
  announcements: { languages: ['cy', 'en'], welcome: true, speakRefusals: true },
};

export interface BuildingBenchSide {
  p50Us: number;
  p99Us: number;
  /** Wall time of all the taps back to back, µs per tap. */
  perTapUs: number;
}

export interface BuildingBenchResult {
  members: number;
  taps: number;
  door: BuildingBenchSide;
  building: BuildingBenchSide;
}

async function start(dir: string, withBuilding: boolean): Promise<RunningGateway> {
  writeFileSync(join(dir, 'policy.yaml'), stringify(withBuilding ? WITH_BUILDING : DOOR_ONLY));
  const hardware = {
    gpio: { driver: 'simulated' },
    readers: entryReaders(['entry']),
    ...(withBuilding ? { switched: [{ id: 'pcs' }, { id: 'heating' }], intruderAlarm: { status: { debounceMs: 0 } } } : {}),
  };
  const config = benchGatewayConfig(dir, { hardware, ...(withBuilding ? { sound: { driver: 'print' } } : {}) });
  return startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: BENCH_KEY_HEX } });
}

/** One round on one gateway: members' taps, one in ten an unknown card (a refusal, said aloud where the policy asks). */
function round(running: RunningGateway, taps: number, members: number, prefix: string): { latencies: number[]; wallUs: number } {
  const latencies: number[] = [];
  const onAccess = (outcome: { relayAt: bigint | null; decidedAt: bigint; seenAt: bigint }): void => {
    latencies.push(Number((outcome.relayAt ?? outcome.decidedAt) - outcome.seenAt) / 1000);
  };
  running.gateway.bus.on('access', onAccess, 'bench');
  const reader = running.hardware.simulated!.reader!;
  const started = process.hrtime.bigint();
  for (let i = 0; i < taps; i += 1) reader.tap(i % 10 === 9 ? `${prefix}${String(i).padStart(10, '0')}` : benchCard((i * 7919) % members));
  const wallUs = Number(process.hrtime.bigint() - started) / 1000;
  running.gateway.bus.off('access', onAccess);
  return { latencies, wallUs };
}

export async function benchBuilding(options: { members?: number; taps?: number; rounds?: number } = {}): Promise<BuildingBenchResult> {
  const members = options.members ?? 100_000;
  const taps = options.taps ?? 5_000;
  const rounds = options.rounds ?? 4;
  const dirs = [mkdtempSync(join(tmpdir(), 'oag-bench-door-')), mkdtempSync(join(tmpdir(), 'oag-bench-building-'))];
  try {
    for (const dir of dirs) prepareBenchStore(dir, members);
    const door = await start(dirs[0]!, false);
    const building = await start(dirs[1]!, true);
    const got = { door: { latencies: [] as number[], wallUs: 0 }, building: { latencies: [] as number[], wallUs: 0 } };
    try {
      // Warm both, then alternate rounds so that the machine's noise falls on both sides alike.
      round(door, 1000, members, 'FC');
      round(building, 1000, members, 'FE');
      for (let r = 0; r < rounds; r += 1) {
        const sides = [['door', door], ['building', building]] as const;
        // Each side goes first in every other round: the one that follows pays for the first's garbage.
        for (const [name, running] of r % 2 === 0 ? sides : [...sides].reverse()) {
          const one = round(running, taps, members, `${name === 'door' ? 'FA' : 'FB'}${r}`);
          got[name].latencies.push(...one.latencies);
          got[name].wallUs += one.wallUs;
        }
      }
    } finally {
      await door.stop();
      await building.stop();
    }
    const side = ({ latencies, wallUs }: { latencies: number[]; wallUs: number }): BuildingBenchSide => {
      const sorted = [...latencies].sort((a, b) => a - b);
      return { p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99), perTapUs: wallUs / latencies.length };
    };
    return { members, taps: taps * rounds, door: side(got.door), building: side(got.building) };
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

export function printBuildingBench(r: BuildingBenchResult): void {
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
  console.log(`taps with the building running (switched outputs, intruder alarm, announcements greeting and saying refusals), ${r.members} members, ${r.taps} taps each, one in ten unknown`);
  console.log('  beside the same gateway with the door alone, in the same run; × = with the building / door alone');
  console.log('                     p50 µs   p99 µs   µs per tap (back to back)');
  const row = (name: string, s: BuildingBenchSide): string => `${name.padEnd(18)} ${s.p50Us.toFixed(1).padStart(8)} ${s.p99Us.toFixed(1).padStart(8)} ${s.perTapUs.toFixed(1).padStart(10)}`;
  console.log(row('  door alone', r.door));
  console.log(row('  with building', r.building));
  console.log(`  ${'ratio'.padEnd(16)} ${ratio(r.building.p50Us, r.door.p50Us).padStart(8)} ${ratio(r.building.p99Us, r.door.p99Us).padStart(8)} ${ratio(r.building.perTapUs, r.door.perTapUs).padStart(10)}`);
}
