// A gateway on simulated hardware with its HTTP server on loopback, its members loaded, and a chromium page to look
// at its pages (the console, the door screen): what the gateway's system tests in test/system/ start from.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { afterAll, beforeAll } from 'vitest';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { scaledClock } from '../../gateway/core/clock.js';
import { parseGatewayConfig, type GatewayConfigInput } from '../../gateway/config.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import type { Member } from '../../policies/types.js';
import { launchChromium } from './chromium.js';
import { TEST_KEY_HEX, adult, defaultConfig, removeDir } from './gateway-harness.js';

export interface GatewayInChromiumOptions {
  /** The temp folder's name, before its random part. */
  prefix: string;
  policy: Record<string, unknown>;
  /** The gateway's clock starts here and runs at real speed. */
  start: Date;
  /** Beside defaultConfig's; the HTTP server is always on, on loopback. */
  config?: Partial<GatewayConfigInput>;
  /** Clear card numbers, each an adult member but for what is given; loaded as central's list `version`. */
  members: { cards: Record<string, Partial<Member>>; version: number };
  /** The page's viewport, locale and zone. The context bypasses the page's CSP, so that a test can inject axe. */
  browser: Omit<BrowserContextOptions, 'bypassCSP'>;
}

export interface GatewayInChromium {
  dir: string;
  running: RunningGateway;
  /** The gateway's HTTP server, `http://127.0.0.1:PORT`. */
  url: string;
  page: Page;
}

/** The gateway started and the page opened before the file's tests; the page, the browser and the gateway closed after. */
export function gatewayInChromiumPerFile(options: GatewayInChromiumOptions): { readonly current: GatewayInChromium } {
  let dir: string | undefined;
  let running: RunningGateway | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let started: GatewayInChromium | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), options.prefix));
    writeFileSync(join(dir, 'policy.yaml'), stringify(options.policy));
    const config = parseGatewayConfig(defaultConfig(dir, { ...options.config, http: { enabled: true, host: '127.0.0.1', port: 0 } }));
    running = await startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX }, clock: scaledClock(options.start, 1) });
    const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
    const members = Object.entries(options.members.cards).map(([card, fields]) => ({ cardHash: hash(normaliseCardId(card)), ...adult, ...fields }));
    running.store.members.replaceAll(members, { version: options.members.version, source: 'central' });
    browser = await launchChromium();
    context = await browser.newContext({ ...options.browser, bypassCSP: true });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    started = { dir, running, url: running.api!.url, page };
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await running?.stop();
    if (dir) removeDir(dir);
  });
  return {
    get current() {
      if (started === undefined) throw new Error('gatewayInChromiumPerFile: the gateway is only there inside the tests');
      return started;
    },
  };
}
