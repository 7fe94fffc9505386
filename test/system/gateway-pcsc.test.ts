// The whole gateway on the real PC/SC stack: pcscd started here, vpcd's virtual readers as the entry and exit
// readers, cards played over vpcd's TCP protocol. Decisions, the reader-offline alarm and tap-to-decision latency.
// Needs the Debian packages pcscd, vsmartcard-vpcd and libpcsclite-dev (scripts/install-test-deps.sh), and nfc-pcsc
// installed by npm after them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessOutcome } from '../../gateway/core/bus.js';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { adult, TEST_KEY_HEX } from '../helpers/gateway-harness.js';
import { requireNfcPcsc } from '../helpers/nfc-pcsc.js';
import { requirePcscStack, startPcscd, VpcdCard, waitFor } from '../helpers/vpcd-card.js';
import type { Pcscd } from '../helpers/vpcd-card.js';

const CARD_GAP_MS = 900;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const ALWAYS_OPEN = {
  version: 1,
  site: 'pcsc-branch',
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
  rules: { minimumAge: 16 },
};

describe('the gateway on a real PC/SC reader', () => {
  let pcscdPath: string;
  let pcscd: Pcscd | undefined;
  let running: RunningGateway | undefined;
  let dir: string;
  const outcomes: AccessOutcome[] = [];

  async function tap(uid: string, slot: 0 | 1 = 0): Promise<{ outcome: AccessOutcome; insertToDecisionMs: number }> {
    const before = outcomes.length;
    const card = new VpcdCard({ uid, slot });
    const insertedAt = process.hrtime.bigint();
    await card.insert();
    await waitFor(() => outcomes.length > before, 5000, `a decision for card slot ${slot}`);
    const outcome = outcomes[before]!;
    await card.remove();
    await sleep(CARD_GAP_MS);
    return { outcome, insertToDecisionMs: Number(outcome.decidedAt - insertedAt) / 1e6 };
  }

  beforeAll(async () => {
    // The gateway itself only reports a reader it cannot load as offline; here that is a broken test machine.
    await requireNfcPcsc();
    pcscdPath = requirePcscStack();
    pcscd = await startPcscd(pcscdPath);
    dir = mkdtempSync(join(tmpdir(), 'oag-pcsc-gw-'));
    writeFileSync(join(dir, 'policy.yaml'), stringify(ALWAYS_OPEN));
    const config = parseGatewayConfig({
      site: 'pcsc-branch',
      policyFile: join(dir, 'policy.yaml'),
      store: { path: join(dir, 'gateway.sqlite') },
      clock: { trust: 'trusted' },
      http: { enabled: false },
      log: { level: 'silent' },
      hardware: {
        gpio: { driver: 'simulated' },
        inputs: { doorContact: { debounceMs: 0 } },
        readers: [
          { id: 'front', driver: 'pcsc', role: 'entry', namePattern: '00 00' },
          { id: 'back', driver: 'pcsc', role: 'exit', namePattern: '00 01' },
        ],
      },
    });
    running = await startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } });
    const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
    running.store.members.replaceAll(
      [
        { cardHash: hash(normaliseCardId('04A1B2C3D4E501')), ...adult },
        { cardHash: hash(normaliseCardId('04A1B2C3D4E502')), ...adult, expires: '2020-01-31' },
        { cardHash: hash(normaliseCardId('04A1B2C3D4E503')), ...adult, birthDate: new Date().getFullYear() - 12 + '-01-01' },
        { cardHash: hash(normaliseCardId('04A1B2C3D4E504')), ...adult },
      ],
      { version: 1, source: 'test' },
    );
    running.gateway.bus.on('access', (outcome) => outcomes.push(outcome));
    await waitFor(() => running!.gateway.state.readers.filter((r) => r.online).length === 2, 10_000, 'both readers online in the gateway state');
  });

  afterAll(async () => {
    await running?.stop();
    await pcscd?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('decides each card through pcscd: granted with the relay driven, or refused with its reason', async () => {
    const latencies: number[] = [];
    const expectations: Array<[string, string]> = [
      ['04A1B2C3D4E501', 'member'],
      ['04A1B2C3D4E502', 'expired'],
      ['04A1B2C3D4E503', 'under-age'],
      ['0400000000DEAD', 'unknown-card'],
    ];
    for (const [uid, reason] of expectations) {
      const { outcome, insertToDecisionMs } = await tap(uid);
      latencies.push(insertToDecisionMs);
      expect(outcome.decision.reason).toBe(reason);
      expect(outcome.role).toBe('entry');
      if (reason === 'member') expect(outcome.relayAt).not.toBeNull();
    }
    // Again, for more samples: a member's card tapped after the repeat window.
    await sleep(3000);
    for (let i = 0; i < 4; i += 1) {
      const { outcome, insertToDecisionMs } = await tap(i % 2 === 0 ? '0400000000BEEF' : '0400000000CAFE');
      expect(outcome.decision.reason).toBe('unknown-card');
      latencies.push(insertToDecisionMs);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const inGateway = outcomes.map((o) => Number(o.decidedAt - o.seenAt) / 1e6).sort((a, b) => a - b);
    console.log(
      `tap → decision through pcscd + vpcd, n=${sorted.length}: card inserted → decision median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms` +
        ` (pcscd polls vpcd about every 400 ms); UID read by the driver → decision median ${inGateway[Math.floor(inGateway.length / 2)]!.toFixed(3)} ms`,
    );
    const events = running!.store.events.query({ limit: 100, types: ['access'] });
    expect(JSON.stringify(events)).not.toMatch(/04A1B2C3D4E50/i);
  });

  it('lets people out through the exit reader', async () => {
    const { outcome } = await tap('04A1B2C3D4E501', 1);
    expect(outcome.role).toBe('exit');
    expect(outcome.decision).toMatchObject({ allow: true, reason: 'exit' });
  });

  it('raises reader-offline when pcscd goes away, keeps running, and clears it when the reader is back', async () => {
    await pcscd!.stop();
    pcscd = undefined;
    await waitFor(() => running!.gateway.alarms.list().includes('reader-offline'), 15_000, 'the reader-offline alarm');
    expect(running!.gateway.state.readers.every((r) => !r.online)).toBe(true);
    expect(running!.gateway.mode).toBe('open-access');

    pcscd = await startPcscd(pcscdPath);
    await waitFor(() => !running!.gateway.alarms.list().includes('reader-offline'), 20_000, 'the reader-offline alarm to clear');
    // Another member's card: the last one was tapped at the exit moments ago and would be folded as a repeat.
    const { outcome } = await tap('04A1B2C3D4E504');
    expect(outcome.decision.reason).toBe('member');
  });
});
