// Central with its embedded broker and a signed-in account, and Debian's chromium to look at its pages: what the
// dashboard, report and time tests in test/system/ all start from.
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { Role } from '../../central/auth/identity.js';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { Uplink } from '../../gateway/uplink/index.js';
import type { FakeGateway } from '../unit/uplink/fakes.js';
import { launchChromium } from './chromium.js';
import { mqttCredentials, type MqttCredentials } from './mqtt-credentials.js';
import { testSigningKey } from './signing-keys.js';

export interface CentralInChromium {
  central: RunningCentral;
  browser: Browser;
  /** The broker logins of `sites`, for the branches (fake or real) the test connects. */
  mqtt: MqttCredentials;
  /** Browser, central and the password file, in that order. */
  stop(): Promise<void>;
}

export interface CentralInChromiumOptions {
  sites: readonly string[];
  account: { username: string; role: Role; password: string };
  /** Central's clock (default the real one); sign-ins stay on real time, as the browser holds its cookie by its own. */
  now?: () => Date;
  /** What central's config says of the branches (their names and regions), as `sites:` in central.yaml. */
  names?: Record<string, { name?: string; region?: string }>;
}

export async function startCentralInChromium(options: CentralInChromiumOptions): Promise<CentralInChromium> {
  const mqtt = await mqttCredentials([...options.sites]);
  const central = await startCentral(
    parseCentralConfig({ signing: { keyFile: testSigningKey().privateFile }, embedded: { port: 0, passwordFile: mqtt.passwordFile }, http: { port: 0 }, store: { path: ':memory:' }, sites: options.names ?? {} }),
    {
      clock: { now: options.now ?? (() => new Date()) },
      sessionClock: { now: () => new Date() },
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    },
  );
  await central.auth.accounts.add(options.account.username, options.account.role, options.account.password);
  const browser = await launchChromium();
  return {
    central,
    browser,
    mqtt,
    stop: async () => {
      await browser.close();
      await central.close();
      mqtt.remove();
    },
  };
}

/**
 * `startCentralInChromium` for a file's tests: started before them, stopped after them. `connect` starts a fake
 * branch's uplink to central's broker as `site`; the uplinks stop after the tests (the last first), before central.
 */
export function centralInChromiumPerFile(options: CentralInChromiumOptions): {
  readonly central: RunningCentral;
  readonly browser: Browser;
  connect(gw: FakeGateway, site: string): Uplink;
} {
  let started: CentralInChromium | undefined;
  const uplinks: Uplink[] = [];
  beforeAll(async () => {
    started = await startCentralInChromium(options);
  });
  afterAll(async () => {
    for (const uplink of uplinks.splice(0).reverse()) await uplink.stop();
    await started?.stop();
  });
  const scene = (): CentralInChromium => {
    if (started === undefined) throw new Error('centralInChromiumPerFile: central is only there inside the tests');
    return started;
  };
  return {
    get central() {
      return scene().central;
    },
    get browser() {
      return scene().browser;
    },
    connect(gw, site) {
      const { central, mqtt } = scene();
      const uplink = new Uplink(gw.deps({ url: central.brokerUrl, protocolVersion: 4, ...mqtt.login(site) }, site));
      uplink.start();
      uplinks.push(uplink);
      return uplink;
    },
  };
}
