// Runs the real gateway for integration tests: a real SQLite file in a temp folder, the simulated drivers,
// and vitest's fake timers for the clock. Members are put in the store the way an import would.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, vi } from 'vitest';
import { stringify } from 'yaml';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway, StartGatewayOptions } from '../../gateway/main.js';
import type { LoggedEvent } from '../../gateway/core/model.js';
import type { InputName } from '../../firmware-bridge/types.js';
import type { Member } from '../../policies/types.js';

export const TEST_KEY_HEX = '6f61672d746573742d6b65792d6f6e6c792d666f722d74657374732d2d2d2d21';

export const adult: Member = {
  expires: null,
  blocked: false,
  blockedUntil: null,
  openAccess: true,
  birthDate: '1980-05-01',
  adult: null,
  staff: false,
  groups: [],
  pinHash: null,
};

export interface HarnessOptions {
  policy: Record<string, unknown>;
  members?: Record<string, Partial<Member>>;
  config?: Partial<GatewayConfigInput>;
  dir?: string;
  /** Fault injection and shorter retries for the fault tests. */
  start?: Omit<StartGatewayOptions, 'logger' | 'env'>;
}

export interface Harness {
  dir: string;
  running: RunningGateway;
  events: LoggedEvent[];
  tap(uid: string, reader?: string): void;
  input(name: InputName, active: boolean): void;
  /** Every access event's reason, in order. */
  reasons(): string[];
  doorRelayActive(): boolean;
  restart(options?: { clean?: boolean }): Promise<Harness>;
  stop(): Promise<void>;
}

export function defaultConfig(dir: string, overrides: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    site: 'town-central',
    policyFile: join(dir, 'policy.yaml'),
    store: { path: join(dir, 'gateway.sqlite') },
    clock: { trust: 'trusted' },
    http: { enabled: false },
    log: { level: 'silent' },
    hardware: {
      gpio: { driver: 'simulated' },
      inputs: {
        doorContact: { debounceMs: 0 },
        exitButton: { debounceMs: 0 },
        fireAlarm: { debounceMs: 0 },
        tamper: { debounceMs: 0 },
      },
      readers: [
        { id: 'entry', driver: 'simulated', role: 'entry' },
        { id: 'exit', driver: 'simulated', role: 'exit' },
      ],
    },
    ...overrides,
  };
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'oag-gw-'));
  writeFileSync(join(dir, 'policy.yaml'), stringify(options.policy));
  const config = parseGatewayConfig(defaultConfig(dir, options.config));
  const running = await startGateway(config, {
    logger: pino({ level: 'silent' }),
    env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX },
    // Not this machine's /sys: a test run on a Raspberry Pi must not see its real supply.
    power: { platformRoot: join(dir, 'no-sys-devices-platform') },
    ...options.start,
  });
  if (options.members !== undefined) {
    const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
    const rows = Object.entries(options.members).map(([card, member]) => ({ cardHash: hash(normaliseCardId(card)), ...adult, ...member }));
    running.store.members.replaceAll(rows, { version: 1, source: 'test' });
  }
  const events: LoggedEvent[] = [];
  running.gateway.bus.on('event-logged', (event) => events.push(event));
  const simulated = running.hardware.simulated!;
  const harness: Harness = {
    dir,
    running,
    events,
    tap(uid, reader) {
      simulated.reader!.tap(uid, reader);
    },
    input(name, active) {
      const control = simulated.inputs[name];
      if (control === undefined) throw new Error(`input ${name} is not fitted in this test's config`);
      control.set(active);
    },
    reasons() {
      return events.filter((e) => e.type === 'access').map((e) => String(e.reason));
    },
    doorRelayActive() {
      return running.hardware.outputs.door.active;
    },
    async restart({ clean = true } = {}) {
      if (clean) await running.stop();
      else {
        // A crash: nothing is stopped cleanly; the store file is simply left as the process left it.
        running.store.close();
      }
      return startHarness({ ...options, members: undefined, dir });
    },
    async stop() {
      await running.stop();
    },
  };
  return harness;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Fake time (as harnessPerTest installs it) moved on to `instant`, running every timer due on the way. */
export function advanceTo(instant: Date): void {
  vi.advanceTimersByTime(instant.getTime() - Date.now());
}

/**
 * The scenario tests' setup: fake time (timers and Date) for each test, and the harness a test starts stopped and
 * its folders removed after it. A test that restarts the gateway puts the new harness in `current`.
 */
export function harnessPerTest(): { current: Harness | undefined; dirs: string[] } {
  const scene: { current: Harness | undefined; dirs: string[] } = { current: undefined, dirs: [] };
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(async () => {
    await scene.current?.stop();
    scene.current = undefined;
    vi.useRealTimers();
    for (const dir of scene.dirs.splice(0)) removeDir(dir);
  });
  return scene;
}
