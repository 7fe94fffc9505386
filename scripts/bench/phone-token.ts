// The phone token check at the door (docs/phone-credential.md), issue #17's goal p99 < 1 ms:
//   npx tsx scripts/bench/phone-token.ts        (or: oag bench --phone-token-only)
// Times the branch's whole check (gateway/core/phone-tokens.ts: length and shape, Ed25519 signature, payload, expiry,
// site, used-token memory) per token, beside its floor: one Ed25519 verify of the same bytes with node:crypto.
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { PhoneTokens } from '../../gateway/core/phone-tokens.js';
import { signingKeyId } from '../../policies/contract/signing.js';
import { issuePhoneToken } from '../../policies/phone-token.js';
import { percentile } from './tap.js';

export interface PhoneTokenBenchResult {
  tokens: number;
  checkUs: { p50: number; p99: number; max: number };
  floorUs: { p50: number; p99: number; max: number };
  /** p99 of the check over p99 of the floor. */
  ratio: number;
}

function percentiles(us: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...us].sort((a, b) => a - b);
  const at = (p: number): number => Math.round(percentile(sorted, p) * 10) / 10;
  return { p50: at(50), p99: at(99), max: at(100) };
}

export function benchPhoneToken(count = 20_000): PhoneTokenBenchResult {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const now = new Date();
  const texts = Array.from({ length: count }, () => issuePhoneToken(privateKey, { cardHash: randomBytes(32), site: 'town', now, minutes: 15 }).token);
  const tokens = new PhoneTokens({ keys: [{ kid: signingKeyId(publicKey), key: publicKey }], site: 'town', clock: { now: () => now }, clockTrusted: () => true });
  const check: number[] = [];
  const floor: number[] = [];
  let refused = 0;
  for (const text of texts) {
    const started = process.hrtime.bigint();
    const result = tokens.check(text);
    check.push(Number(process.hrtime.bigint() - started) / 1000);
    if (result.ok) tokens.markUsed(result.payload);
    else refused++;
    const body = text.slice(5, text.lastIndexOf('.'));
    const signed = Buffer.from(`oag-token-v1\n${body}`);
    const signature = Buffer.from(text.slice(text.lastIndexOf('.') + 1), 'base64url');
    const floorStarted = process.hrtime.bigint();
    if (!verify(null, signed, publicKey, signature)) refused++;
    floor.push(Number(process.hrtime.bigint() - floorStarted) / 1000);
  }
  if (refused > 0) throw new Error(`${refused} good tokens refused in the benchmark`);
  const checkUs = percentiles(check);
  const floorUs = percentiles(floor);
  return { tokens: count, checkUs, floorUs, ratio: Math.round((checkUs.p99 / floorUs.p99) * 100) / 100 };
}

export function printPhoneTokenBench(result: PhoneTokenBenchResult): void {
  console.log(`phone token check at the door (${result.tokens} tokens, goal p99 < 1000 µs)`);
  console.log(`  check:            p50 ${result.checkUs.p50} µs  p99 ${result.checkUs.p99} µs  max ${result.checkUs.max} µs`);
  console.log(`  floor (1 verify): p50 ${result.floorUs.p50} µs  p99 ${result.floorUs.p99} µs  max ${result.floorUs.max} µs`);
  console.log(`  ratio (p99):      ${result.ratio}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) printPhoneTokenBench(benchPhoneToken());
