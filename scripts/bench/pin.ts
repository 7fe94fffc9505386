// Card + PIN at a large member list: from the PIN's Enter to the relay write, scrypt verify included (on the thread
// pool, gateway/core/pin-checks.ts), each after its card's tap asked for it. Measured one member at a time (the
// door's own pace), then with PINs entered at several readers at once, where the verifications queue on their slots;
// beside them, a card-only tap at another reader while those PINs are being checked (what the slots leave the door).
// Every member has the same PIN hash: hashing a million PINs with salts of their own would take the preparation an
// hour and changes nothing measured (scrypt's cost is per check, not per distinct hash).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { AccessOutcome } from '../../gateway/core/bus.js';
import { createCardHasher } from '../../gateway/core/cards.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { hashPin } from '../../policies/pin.js';
import { BENCH_KEY_HEX, benchCard, benchGatewayConfig, entryReaders, percentile, prepareBenchStore } from './tap.js';

const PIN = '2468';
const READERS = 4;

export interface PinBenchResult {
  members: number;
  /** One card + PIN at a time: PIN entered → relay, µs. */
  alone: { n: number; p50Us: number; p99Us: number; maxUs: number };
  /** PINs at `readers` readers at once: each PIN entered → its relay, µs. */
  together: { n: number; readers: number; p50Us: number; p99Us: number; maxUs: number };
  /** A staff card tapped while those PINs are being checked: tap → relay, µs. */
  cardMeanwhile: { n: number; p50Us: number; p99Us: number };
}

function figures(samples: number[]): { n: number; p50Us: number; p99Us: number; maxUs: number } {
  const sorted = samples.sort((a, b) => a - b);
  return { n: sorted.length, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99), maxUs: sorted.at(-1) ?? Number.NaN };
}

async function startPinGateway(dir: string): Promise<RunningGateway> {
  const policy = {
    version: 1,
    site: 'bench',
    timezone: 'Europe/London',
    schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
    rules: { pin: 'open-access' },
  };
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
  const readers = entryReaders(Array.from({ length: READERS + 1 }, (_, i) => `r${i}`));
  const config = benchGatewayConfig(dir, { hardware: { gpio: { driver: 'simulated' }, readers, keypad: { driver: 'simulated' } } });
  return startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: BENCH_KEY_HEX } });
}

export async function benchPin(members: number, rounds = 500): Promise<PinBenchResult & { loadSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-pin-'));
  try {
    const pinHash = hashPin(PIN);
    // The last member is staff: the card-only tap beside the PINs.
    const loadSeconds = prepareBenchStore(dir, members, (i) => (i === members - 1 ? { staff: true } : { pinHash }));
    const running = await startPinGateway(dir);
    try {
      const { reader, keypad } = running.hardware.simulated!;
      const access = running.gateway.access;
      const relays = new Map<string, bigint>();
      running.gateway.bus.on('access', (o: AccessOutcome) => {
        if (o.decision.allow && o.relayAt !== null && o.person !== null) relays.set(o.person, o.relayAt);
      });
      const pick = (): number => Math.floor(Math.random() * (members - 1));
      const hash = createCardHasher(Buffer.from(BENCH_KEY_HEX, 'hex'));
      const person = (n: number): string => running.gateway.pseudonym(hash(benchCard(n)));

      const alone: number[] = [];
      for (let i = 0; i < rounds; i += 1) {
        const n = pick();
        reader!.tap(benchCard(n), 'r0');
        const entered = process.hrtime.bigint();
        keypad!.enter(PIN, 'r0');
        await access.pinChecksDone();
        const at = relays.get(person(n));
        if (at === undefined) throw new Error('bench: a right PIN was not let in');
        alone.push(Number(at - entered) / 1000);
      }

      const together: number[] = [];
      const meanwhile: number[] = [];
      const staff = person(members - 1);
      for (let i = 0; i < rounds / READERS; i += 1) {
        const batch = Array.from({ length: READERS }, (_, r) => ({ n: pick(), reader: `r${r}` }));
        for (const b of batch) reader!.tap(benchCard(b.n), b.reader);
        const entered = batch.map((b) => {
          keypad!.enter(PIN, b.reader);
          return process.hrtime.bigint();
        });
        const tapped = process.hrtime.bigint();
        reader!.tap(benchCard(members - 1), `r${READERS}`);
        meanwhile.push(Number(relays.get(staff)! - tapped) / 1000);
        await access.pinChecksDone();
        batch.forEach((b, k) => together.push(Number(relays.get(person(b.n))! - entered[k]!) / 1000));
      }
      const meanwhileFigures = figures(meanwhile);
      return {
        members,
        loadSeconds,
        alone: figures(alone),
        together: { ...figures(together), readers: READERS },
        cardMeanwhile: { n: meanwhileFigures.n, p50Us: meanwhileFigures.p50Us, p99Us: meanwhileFigures.p99Us },
      };
    } finally {
      await running.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printPinBench(r: PinBenchResult & { loadSeconds: number }): void {
  const ms = (us: number): string => (us / 1000).toFixed(2);
  console.log(`card + PIN at ${r.members} members: PIN entered → relay, scrypt verify included (ms; goal p99 < 50 ms)`);
  console.log(`  one at a time          n ${String(r.alone.n).padStart(5)}   p50 ${ms(r.alone.p50Us)}   p99 ${ms(r.alone.p99Us)}   max ${ms(r.alone.maxUs)}`);
  console.log(`  ${r.together.readers} readers at once      n ${String(r.together.n).padStart(5)}   p50 ${ms(r.together.p50Us)}   p99 ${ms(r.together.p99Us)}   max ${ms(r.together.maxUs)}`);
  console.log(`  a card meanwhile       n ${String(r.cardMeanwhile.n).padStart(5)}   p50 ${ms(r.cardMeanwhile.p50Us)}   p99 ${ms(r.cardMeanwhile.p99Us)}   (tap → relay while those PINs are checked)`);
  console.log(`  list load ${r.loadSeconds.toFixed(1)} s`);
}
