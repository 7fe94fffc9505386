// What a stolen branch list costs to reverse (docs/privacy.md, "A stolen branch"):
//   npx tsx scripts/bench/brute-force.ts        (or: oag bench --brute-force-only)
// The list holds HMAC-SHA256(deployment key, card number). With the key, a thief tries every card number and keeps
// those in the list; without it (sealed, or not on the card at all) there is nothing to try against: 2^256 keys.
// Prints the card hashes one core computes per second (node:crypto, a tight loop as the gateway hashes), OpenSSL's
// own HMAC-SHA256 speed as a peer when `openssl` is there, and the time to enumerate each card-number space.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createCardHasher } from '../../policies/cards.js';

export interface BruteForceResult {
  /** HMAC-SHA256 of a 14-digit card number, one core, node:crypto as the gateway calls it. */
  nodeHashesPerSecond: number;
  /** `openssl speed -hmac sha256` at 16-byte inputs, one core (the key's pads computed once, as a thief would); null without openssl. */
  opensslHashesPerSecond: number | null;
  spaces: Array<{ name: string; size: number; secondsOneCore: number }>;
}

const SPACES: ReadonlyArray<{ name: string; size: number }> = [
  { name: '4-byte UIDs (2^32)', size: 2 ** 32 },
  { name: '8-digit barcodes (10^8)', size: 1e8 },
  { name: '10-digit barcodes (10^10)', size: 1e10 },
  { name: '14-digit barcodes, fixed 2-digit prefix (10^12)', size: 1e12 },
];

function nodeRate(seconds: number): number {
  const hash = createCardHasher(randomBytes(32));
  let n = 0;
  let sink = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  // Batches of 10,000 between clock reads: the clock costs more than a hash.
  while (performance.now() < until) {
    for (let i = 0; i < 10_000; i++) sink ^= hash(`2100${String(n + i).padStart(10, '0')}`)[0]!;
    n += 10_000;
  }
  if (sink === 256) console.log(''); // keeps the loop's result alive
  return n / ((performance.now() - started) / 1000);
}

/** OpenSSL's HMAC-SHA256 over 16-byte inputs (a card number's size), one process; null when it cannot be run. */
function opensslRate(seconds: number): number | null {
  // `-hmac sha256` until OpenSSL 3.x deprecated it for `-mac HMAC -macopt digest:sha256`: whichever this one takes.
  for (const mac of [['-hmac', 'sha256'], ['-mac', 'HMAC', '-macopt', 'digest:sha256']]) {
    try {
      const out = execFileSync('openssl', ['speed', '-seconds', String(seconds), '-bytes', '16', ...mac], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: (seconds + 30) * 1000,
      });
      // "hmac(sha256)   12345.67k": thousands of bytes per second at the one block size asked for.
      const m = /hmac\(sha256\)\s+([\d.]+)k/i.exec(out);
      if (m !== null) return (Number(m[1]) * 1000) / 16;
    } catch {
      // the next spelling, or none
    }
  }
  return null;
}

export function benchBruteForce(opts: { seconds?: number } = {}): BruteForceResult {
  const seconds = opts.seconds ?? 3;
  const nodeHashesPerSecond = nodeRate(seconds);
  const opensslHashesPerSecond = opensslRate(seconds);
  const fastest = Math.max(nodeHashesPerSecond, opensslHashesPerSecond ?? 0);
  return {
    nodeHashesPerSecond: Math.round(nodeHashesPerSecond),
    opensslHashesPerSecond: opensslHashesPerSecond === null ? null : Math.round(opensslHashesPerSecond),
    spaces: SPACES.map((s) => ({ ...s, secondsOneCore: s.size / fastest })),
  };
}

function duration(seconds: number): string {
  if (seconds < 1) return 'under 1 s';
  if (seconds < 120) return `${seconds.toFixed(0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds < 3.15e7 * 2) return `${(seconds / 86_400).toFixed(0)} days`;
  return `${(seconds / 3.15e7).toFixed(0)} years`;
}

export function printBruteForce(r: BruteForceResult): void {
  const n = (x: number): string => Math.round(x).toLocaleString('en-GB');
  console.log('reversing a stolen branch list: HMAC-SHA256(deployment key, card number), one core of this machine');
  console.log(`  node:crypto (as the gateway hashes)   ${n(r.nodeHashesPerSecond)} hashes/s`);
  console.log(`  openssl speed (16-byte HMAC-SHA256)   ${r.opensslHashesPerSecond === null ? 'not measured (no openssl)' : `${n(r.opensslHashesPerSecond)} hashes/s`}`);
  console.log('  with the key (a clear key on the card), every number of a space tried, at the faster rate:');
  for (const s of r.spaces) console.log(`    ${s.name.padEnd(50)} ${duration(s.secondsOneCore).padStart(10)} on one core, ${duration(s.secondsOneCore / 1000).padStart(10)} on 1,000`);
  console.log('  without the key (sealed with a device key, not on the card): nothing to try numbers against; the key is 2^256');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printBruteForce(benchBruteForce());
}
