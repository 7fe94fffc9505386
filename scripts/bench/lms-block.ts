// A block made in the library system → refused at an online branch (issue #18): central polls a fake of Koha's REST
// API (test/helpers/koha-fake.ts, real HTTP on loopback) every `pollSeconds`, a branch runs on the simulated reader
// against central's embedded broker, and each of `blocks` patrons is restricted in Koha in turn, at a random moment
// of the poll interval, then tapped every 25 ms until the branch refuses them as blocked. p50/p95/max of that time.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import { generatePassword, writePasswordFile } from '../../central/mqtt-passwords.js';
import { makeSigningKeyFiles } from '../../central/signing-key.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { GENERATED_CSV_HEADER } from './import.js';
import { benchGatewayConfig } from './tap.js';

export interface LmsBlockBenchResult {
  blocks: number;
  pollSeconds: number;
  /** Seconds from the change in Koha to the first tap refused as blocked. */
  p50: number;
  p95: number;
  max: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function reasonOfTap(branch: RunningGateway, card: string): unknown {
  branch.hardware.simulated!.reader!.tap(card);
  return branch.store.events.query({ limit: 1, types: ['access'] })[0]?.reason;
}

export async function benchLmsBlock(opts: { blocks: number; pollSeconds: number }): Promise<LmsBlockBenchResult> {
  const { startKohaFake } = await import('../../test/helpers/koha-fake.js');
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-lms-block-'));
  const keyHex = randomBytes(32).toString('hex');
  const koha = await startKohaFake();
  const cleanup: Array<() => Promise<void> | void> = [() => koha.close()];
  try {
    const patrons = Array.from({ length: opts.blocks }, (_, i) => ({ patron_id: 5000 + i, cardnumber: `2352900050${String(i).padStart(4, '0')}` }));
    for (const p of patrons) koha.add(p);
    writeFileSync(join(dir, 'export.csv'), `${GENERATED_CSV_HEADER}\n${patrons.map((p) => `${p.cardnumber},1980-05-01,2099-12-31,N,,Y,N,`).join('\n')}\n`);
    writeFileSync(join(dir, 'koha.secret'), `${koha.clientSecret}\n`);
    const signing = makeSigningKeyFiles(dir);
    const branchPassword = generatePassword();
    writeFileSync(join(dir, 'branch.mqtt-password'), `${branchPassword}\n`, { mode: 0o600 });
    await writePasswordFile(join(dir, 'mqtt-passwords'), { 'bench-branch': branchPassword });
    const central = await startCentral(
      parseCentralConfig({
        embedded: { port: 0, passwordFile: join(dir, 'mqtt-passwords') },
        http: { port: 0 },
        store: { path: join(dir, 'central.sqlite') },
        signing: { keyFile: signing.keyFile },
        members: {
          koha: { url: koha.url, clientId: koha.clientId, clientSecretFile: join(dir, 'koha.secret'), pollSeconds: opts.pollSeconds, registeredAttribute: 'OPENACCESS' },
        },
        log: { level: 'silent' },
      }),
      { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: keyHex } },
    );
    cleanup.push(() => central.close());
    const imported = await central.members!.importFile(join(dir, 'export.csv'));

    const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
    const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
    writeFileSync(join(dir, 'branch.policy.yaml'), stringify({ ...town, site: 'bench-branch', schedule: { weekly: Object.fromEntries(days.map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) } }));
    const branch = await startGateway(
      benchGatewayConfig(dir, {
        site: 'bench-branch',
        policyFile: join(dir, 'branch.policy.yaml'),
        store: { path: join(dir, 'branch.sqlite') },
        mqtt: {
          url: central.brokerUrl,
          protocolVersion: central.mqttProtocolVersion,
          reconnectPeriodMs: 200,
          username: 'bench-branch',
          passwordFile: join(dir, 'branch.mqtt-password'),
          centralKeys: [signing.publicFile],
        },
      }),
      { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: keyHex } },
    );
    cleanup.push(() => branch.stop());
    while (branch.store.members.stats().version !== imported.version) await sleep(25);

    const seconds: number[] = [];
    for (const p of patrons) {
      // Somewhere in the poll interval, as a librarian's click would be.
      await sleep(Math.random() * opts.pollSeconds * 1000);
      const started = performance.now();
      koha.update(p.patron_id, { restricted: true });
      while (reasonOfTap(branch, p.cardnumber) !== 'blocked') {
        if (performance.now() - started > 60_000) throw new Error('a block in Koha was not refused at the branch within 60 s');
        await sleep(25);
      }
      seconds.push((performance.now() - started) / 1000);
    }
    if (koha.schemaErrors.length > 0) throw new Error(`the Koha fake drifted from Koha's document: ${koha.schemaErrors[0]}`);
    seconds.sort((a, b) => a - b);
    const rank = (q: number): number => seconds[Math.min(seconds.length - 1, Math.ceil(q * seconds.length) - 1)]!;
    return { blocks: opts.blocks, pollSeconds: opts.pollSeconds, p50: rank(0.5), p95: rank(0.95), max: seconds[seconds.length - 1]! };
  } finally {
    for (const c of cleanup.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printLmsBlock(r: LmsBlockBenchResult): void {
  console.log(`block in the LMS (Koha REST API, polled every ${r.pollSeconds} s) → refused at an online branch, ${r.blocks} blocks`);
  console.log(`  p50 ${r.p50.toFixed(2)} s   p95 ${r.p95.toFixed(2)} s   max ${r.max.toFixed(2)} s   (goal p95 < 5 s)`);
}
