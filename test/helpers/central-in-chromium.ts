// Central with its embedded broker and a signed-in account, and Debian's chromium to look at its pages: what the
// dashboard, report and time tests in test/system/ all start from.
import pino from 'pino';
import type { Browser } from 'playwright-core';
import type { Role } from '../../central/auth/identity.js';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
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

export async function startCentralInChromium(options: {
  sites: readonly string[];
  account: { username: string; role: Role; password: string };
  /** Central's clock (default the real one); sign-ins stay on real time, as the browser holds its cookie by its own. */
  now?: () => Date;
}): Promise<CentralInChromium> {
  const mqtt = await mqttCredentials([...options.sites]);
  const central = await startCentral(
    parseCentralConfig({ signing: { keyFile: testSigningKey().privateFile }, embedded: { port: 0, passwordFile: mqtt.passwordFile }, http: { port: 0 }, store: { path: ':memory:' } }),
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
