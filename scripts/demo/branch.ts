// One simulated branch for the demo: a temp folder with its config, policy and member list, and the real
// gateway running on the simulated drivers with an accelerated clock.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createCardHasher } from '../../gateway/cards.js';
import type { Clock } from '../../gateway/clock.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { importMembersCsv } from '../../gateway/members/index.js';
import { generateMembersCsv } from '../bench/import.js';

export interface DemoBranchOptions {
  site: string;
  policyFile: string;
  dir: string;
  members: number;
  seed: number;
  clock: Clock;
  http?: { port: number } | undefined;
  mqtt?: GatewayConfigInput['mqtt'];
  logger?: Logger;
}

export interface DemoBranch {
  site: string;
  running: RunningGateway;
  /** Card numbers of the generated members, for the visitors to tap (clear numbers stay in the demo's memory). */
  cards: { valid: string[]; other: string[] };
  stop(): Promise<void>;
}

export async function startDemoBranch(options: DemoBranchOptions): Promise<DemoBranch> {
  mkdirSync(options.dir, { recursive: true });
  const key = randomBytes(32);
  const policyFile = join(options.dir, 'policy.yaml');
  copyFileSync(options.policyFile, policyFile);
  const csv = join(options.dir, 'members.csv');
  const generated = await generateMembersCsv(csv, options.members, options.seed, { asOf: options.clock.now() });
  const config = parseGatewayConfig({
    site: options.site,
    policyFile,
    store: { path: join(options.dir, 'gateway.sqlite') },
    clock: { trust: 'trusted' },
    http: options.http === undefined ? { enabled: false } : { enabled: true, port: options.http.port },
    log: { level: 'silent' },
    hardware: {
      // Debounce is real time; the demo's day runs hundreds of times faster, so inputs are taken as they come.
      inputs: { doorContact: { debounceMs: 0 }, exitButton: { debounceMs: 0 } },
      readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
    },
    ...(options.mqtt === undefined ? {} : { mqtt: options.mqtt }),
  } satisfies GatewayConfigInput);
  const logger = options.logger ?? pino({ level: 'silent' });
  const running = await startGateway(config, { clock: options.clock, logger, env: { OAG_DEPLOYMENT_KEY: key.toString('hex') } });
  await importMembersCsv(running.store, csv, { hasher: createCardHasher(key), now: options.clock.now() });
  return {
    site: options.site,
    running,
    cards: generated.cards,
    stop: () => running.stop(),
  };
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
