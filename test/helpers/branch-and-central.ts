// A real gateway (simulated drivers, SQLite file) with its uplink, and a real central with its embedded broker, on
// loopback, in a folder of their own: the setup of every test that follows something from a branch to central.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { Role } from '../../central/auth/identity.js';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import type { RunningCentral } from '../../central/main.js';
import type { Clock } from '../../gateway/core/clock.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { centralHeaders } from './central-auth.js';
import { TEST_KEY_HEX } from './gateway-harness.js';
import { mqttCredentials, type MqttCredentials } from './mqtt-credentials.js';
import { testSigningKey } from './signing-keys.js';
import { until } from './until.js';
export { until };

export const SITE = 'town-central';

export interface BranchAndCentral {
  dir: string;
  central: RunningCentral;
  gateway: RunningGateway;
  /** The branch's login to central's embedded broker (and its password file). */
  mqtt: MqttCredentials;
  /** Central's API with a token of `role` (administrator by default); JSON in and out. */
  api(path: string, init?: RequestInit & { role?: Role }): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}


/** Stops the branch (if it started), then central, and removes their folder: the end of every such test. */
export async function stopBranchAndCentral(parts: { branch: RunningGateway | undefined; central: RunningCentral | undefined; dir: string }): Promise<void> {
  await parts.branch?.stop();
  await parts.central?.close();
  rmSync(parts.dir, { recursive: true, force: true });
}

/** Starts both, and waits until central has seen the branch. */
export async function startBranchAndCentral(options: {
  policy: Record<string, unknown>;
  inputs?: Record<string, { debounceMs: number }>;
  /** The gateway's clock (central keeps the real one). */
  clock?: Clock;
}): Promise<BranchAndCentral> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-branch-central-'));
  let central: RunningCentral | undefined;
  let gateway: RunningGateway | undefined;
  let mqtt: MqttCredentials | undefined;
  const stop = (): Promise<void> => stopBranchAndCentral({ branch: gateway, central, dir });
  try {
    const signing = testSigningKey();
    mqtt = await mqttCredentials([SITE], dir);
    central = await startCentral(parseCentralConfig({ embedded: { port: 0, passwordFile: mqtt.passwordFile }, http: { port: 0 }, store: { path: join(dir, 'central.sqlite') }, signing: { keyFile: signing.privateFile }, log: { level: 'silent' } }), {
      clock: { now: () => new Date() },
      logger: pino({ level: 'silent' }),
    });
    writeFileSync(join(dir, 'policy.yaml'), stringify(options.policy));
    const config = parseGatewayConfig({
      site: SITE,
      policyFile: join(dir, 'policy.yaml'),
      store: { path: join(dir, 'gateway.sqlite') },
      clock: { trust: 'trusted' },
      http: { enabled: false },
      log: { level: 'silent' },
      hardware: { gpio: { driver: 'simulated' }, inputs: options.inputs ?? { doorContact: { debounceMs: 0 } }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
      mqtt: { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, reconnectPeriodMs: 100, ...mqtt.login(SITE), centralKeys: [signing.publicFile] },
    });
    gateway = await startGateway(config, { ...(options.clock ? { clock: options.clock } : {}), logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } });
  } catch (error) {
    await stop();
    throw error;
  }
  const running = { central, gateway };
  const api: BranchAndCentral['api'] = async (path, init = {}) => {
    const { role, headers, ...rest } = init;
    const response = await fetch(new URL(path, running.central.httpUrl), {
      ...rest,
      headers: { 'content-type': 'application/json', ...(await centralHeaders(running.central, role ?? 'administrator')), ...(headers as Record<string, string> | undefined) },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  await until(async () => (await api(`/api/sites/${SITE}`, { role: 'viewer' })).status === 200, 'the branch to appear at central');
  return { dir, central, gateway, mqtt: mqtt!, api, stop };
}
