// The dashboard with a thousand branches, in Debian's chromium: its first render (navigation → every tile built and
// painted) and the time from a branch's state change to its tile (published through the broker → the tile redrawn,
// and painted). Goal: under a second each. Everything on loopback; the branches are real MQTT clients, one per site,
// each with its own login, publishing its retained availability and state as a gateway does.
//
//   npx tsx scripts/bench/dashboard.ts [--sites 1000] [--samples 20]
//
// `startEstate` is also the system test's scene (test/system/dashboard-1000.test.ts).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type MqttClient } from 'mqtt';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { writePasswordFile } from '../../central/mqtt-passwords.js';
import { makeSigningKeyFiles } from '../../central/signing-key.js';
import { topics, type GatewayState } from '../../policies/contract/index.js';

const TOWNS = ['Ashford', 'Bexley', 'Carlow', 'Dunmore', 'Elmstead', 'Fairlie', 'Garston', 'Hexham', 'Ilford', 'Jarrow', 'Kelso', 'Ludlow', 'Morley', 'Nairn', 'Oakham', 'Penrith', 'Quorn', 'Rothes', 'Selby', 'Thirsk', 'Ulverston', 'Ventnor', 'Wigton', 'Yarm', 'Zennor'];
/** Five regions listed under `regions`, one given per branch under `sites`; one branch in seven in none ("Other"). */
export const ESTATE_REGIONS = ['North', 'South', 'East', 'West', 'Midlands', 'Coast'] as const;
const PASSWORD = 'bench password';
/** Mosquitto's own low cost: the passwords are random-free here, and a thousand hashes should not take a minute. */
const ITERATIONS = 101;

/** `branch-0001`…: the estate's site ids. */
export const estateSite = (i: number): string => `branch-${String(i + 1).padStart(4, '0')}`;
/** `Ashford 1`, `Bexley 1`…: what central's config calls each. */
export const estateName = (i: number): string => `${TOWNS[i % TOWNS.length]} ${Math.floor(i / TOWNS.length) + 1}`;
/** The region central's config places branch `i` in, or null ("Other"). */
export const estateRegion = (i: number): (typeof ESTATE_REGIONS)[number] | null => (i % 7 === 6 ? null : ESTATE_REGIONS[i % 7]!);

/** What branch `i` first reports: a mix of modes, one in fifty offline, a few with an alarm. */
export function estateState(i: number, at = new Date()): GatewayState {
  return {
    site: estateSite(i),
    at: at.toISOString(),
    mode: (['open-access', 'staffed', 'closed'] as const)[i % 3]!,
    modeSince: new Date(at.getTime() - 3_600_000).toISOString(),
    modeUntil: new Date(at.getTime() + 3 * 3_600_000).toISOString(),
    door: 'locked',
    lights: i % 3 !== 2,
    occupancy: { inside: i % 3 === 2 ? 0 : (i * 7) % 40, capacity: 40 },
    alarms: i % 97 === 5 ? ['reader-offline'] : [],
    memberList: null,
    policy: { version: 1, source: 'file' },
    clock: { trusted: true },
    readers: [],
  };
}
export const estateOffline = (i: number): boolean => i % 50 === 25;

export interface Estate {
  central: RunningCentral;
  /** The account that signs in (a viewer). */
  account: { username: string; password: string };
  sites: string[];
  /** Publishes branch `i`'s state (retained, QoS 1), as its gateway would. */
  publishState(i: number, state: GatewayState): Promise<void>;
  /** The embedded broker's password file (re-read when it changes): a branch that joins later is added to it. */
  passwordFile: string;
  close(): Promise<void>;
}

/** Central with `sites` and `regions` in its config, and `count` branches online (a few offline) with their state. */
export async function startEstate(count = 1000): Promise<Estate> {
  const dir = mkdtempSync(join(tmpdir(), 'oag-bench-dashboard-'));
  const ids = Array.from({ length: count }, (_, i) => estateSite(i));
  const passwordFile = join(dir, 'mqtt-passwords');
  await writePasswordFile(passwordFile, Object.fromEntries(ids.map((id) => [id, PASSWORD])), ITERATIONS);
  const regions: Record<string, string[]> = {};
  const sites: Record<string, { name: string; region?: string }> = {};
  ids.forEach((id, i) => {
    const region = estateRegion(i);
    // The coast's branches name their region one by one; the others are listed under `regions`.
    if (region === 'Coast') sites[id] = { name: estateName(i), region };
    else {
      sites[id] = { name: estateName(i) };
      if (region) (regions[region] ??= []).push(id);
    }
  });
  const signing = makeSigningKeyFiles(dir);
  const central = await startCentral(
    parseCentralConfig({ embedded: { port: 0, passwordFile }, http: { port: 0 }, store: { path: ':memory:' }, signing: { keyFile: signing.keyFile }, sites, regions, log: { level: 'silent' } }),
    { clock: { now: () => new Date() }, logger: pino({ level: 'silent' }) },
  );
  const account = { username: 'bench', password: 'a long bench password' };
  await central.auth.accounts.add(account.username, 'viewer', account.password);
  const clients: MqttClient[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(clients.map((c) => c.endAsync()));
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // In batches of a hundred: a thousand handshakes at once are a thundering herd, not a branch estate.
    for (let i = 0; i < count; i += 100) {
      const batch = ids.slice(i, i + 100).map((id) => connect(central.brokerUrl, { protocolVersion: 4, clientId: `bench-${id}`, username: id, password: PASSWORD, reconnectPeriod: 0 }));
      // Kept before they connect: one refused must not leave the rest of its batch open when close() ends the others.
      clients.push(...batch);
      await Promise.all(batch.map((c) => new Promise((resolve, reject) => (c.once('connect', resolve), c.once('error', reject)))));
    }
    const now = new Date();
    await Promise.all(
      clients.map(async (client, i) => {
        const t = topics('oa/v1', ids[i]!);
        await client.publishAsync(t.availability, JSON.stringify({ state: estateOffline(i) ? 'offline' : 'online', at: now.toISOString() }), { qos: 1, retain: true });
        await client.publishAsync(t.state, JSON.stringify(estateState(i, now)), { qos: 1, retain: true });
      }),
    );
  } catch (error) {
    await close();
    throw error;
  }
  return {
    central,
    account,
    sites: ids,
    passwordFile,
    publishState: async (i, state) => {
      await clients[i]!.publishAsync(topics('oa/v1', ids[i]!).state, JSON.stringify(state), { qos: 1, retain: true });
    },
    close,
  };
}

export const CHROMIUM_PATH = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error('system package "chromium" is missing (no /usr/bin/chromium): run scripts/install-test-deps.sh');
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
}

/** Signs `page` in at the sign-in page, and leaves it on the dashboard. */
export async function signIn(page: Page, estate: Estate): Promise<void> {
  await page.goto(`${estate.central.httpUrl}/login`);
  await page.locator('#username').fill(estate.account.username);
  await page.locator('#password').fill(estate.account.password);
  await page.locator('#submit').click();
  await page.waitForURL(`${estate.central.httpUrl}/`);
}

export interface DashboardBenchResult {
  sites: number;
  loads: Load[];
  /** Published through the broker → the tile redrawn in the page, and → painted after it. */
  change: { samples: number; medianMs: number; p95Ms: number; maxMs: number; paintedMedianMs: number; paintedP95Ms: number };
}

// In-page code is plain JavaScript (this file is compiled without the DOM's types).
/** Resolves once the page's marks say every tile was built and painted. */
const WAIT_FOR_RENDER = `new Promise((resolve) => {
  const look = () => {
    const painted = performance.getEntriesByName('dashboard-painted')[0];
    const rendered = performance.getEntriesByName('dashboard-rendered')[0];
    const all = performance.getEntriesByName('dashboard-all-drawn')[0];
    if (painted && rendered && all) resolve({ renderedMs: rendered.startTime, paintedMs: painted.startTime, buildMs: rendered.detail.ms, allDrawnMs: all.startTime });
    else setTimeout(look, 10);
  };
  look();
})`;

interface Load {
  /** Navigation → the snapshot placed and the first screen of tiles built (the page's `dashboard-rendered` mark). */
  renderedMs: number;
  /** Navigation → that first screen painted. */
  paintedMs: number;
  /** Building it, from the snapshot's arrival. */
  buildMs: number;
  /** Navigation → every tile drawn, the rest in idle time. */
  allDrawnMs: number;
}

async function loadOnce(page: Page, url: string): Promise<Load> {
  await page.goto(url);
  return page.evaluate<Load>(WAIT_FOR_RENDER);
}

/**
 * Starts waiting in the page for branch `site`'s tile to show `inside` people; `window.tileSeen` then resolves with
 * when it was redrawn, and painted (epoch ms, the clock this process reads too).
 */
async function watchTile(page: Page, site: string, inside: number): Promise<void> {
  await page.evaluate(`window.tileSeen = new Promise((resolve) => {
    const li = document.querySelector('li[data-site="${site}"]');
    const observer = new MutationObserver(() => {
      const text = li.querySelector('.occupancy-count')?.textContent ?? '';
      if (!text.startsWith('${inside} ')) return;
      const drawn = Date.now();
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(() => resolve({ drawn, painted: Date.now() })));
    });
    observer.observe(li, { childList: true });
  }); undefined`);
}

const quantile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

export async function benchDashboard(options: { sites?: number; samples?: number; loads?: number } = {}): Promise<DashboardBenchResult> {
  const count = options.sites ?? 1000;
  const estate = await startEstate(count);
  let browser: Browser | undefined;
  try {
    // Inside the try: without Chromium the estate (central, its broker, a thousand clients) is closed, not left running.
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, estate);
    const loads = [];
    for (let k = 0; k < (options.loads ?? 3); k++) loads.push(await loadOnce(page, `${estate.central.httpUrl}/`));
    const drawn: number[] = [];
    const painted: number[] = [];
    for (let k = 1; k <= (options.samples ?? 20); k++) {
      // Across the estate and its regions; every other change raises an alarm, which moves the tile to its group's top.
      const i = (k * 137) % count;
      const inside = 41 + k;
      await watchTile(page, estate.sites[i]!, inside);
      const state: GatewayState = { ...estateState(i), occupancy: { inside, capacity: 60 }, alarms: k % 2 === 1 ? ['held-open'] : [] };
      const t0 = Date.now();
      await estate.publishState(i, state);
      const seen = await page.evaluate<{ drawn: number; painted: number }>('window.tileSeen');
      drawn.push(seen.drawn - t0);
      painted.push(seen.painted - t0);
    }
    drawn.sort((a, b) => a - b);
    painted.sort((a, b) => a - b);
    return {
      sites: count,
      loads,
      change: { samples: drawn.length, medianMs: quantile(drawn, 0.5), p95Ms: quantile(drawn, 0.95), maxMs: drawn.at(-1) ?? Number.NaN, paintedMedianMs: quantile(painted, 0.5), paintedP95Ms: quantile(painted, 0.95) },
    };
  } finally {
    await browser?.close();
    await estate.close();
  }
}

export function printDashboardBench(r: DashboardBenchResult): void {
  const ms = (n: number): string => `${Math.round(n)} ms`;
  console.log(`dashboard in chromium, ${r.sites} branches (goal: under 1 s for the first render and for a change to reach its tile)`);
  r.loads.forEach((l, k) =>
    console.log(`  load ${k + 1}: first screen painted ${ms(l.paintedMs)} after navigation (built at ${ms(l.renderedMs)}, in ${ms(l.buildMs)}); all ${r.sites} tiles drawn at ${ms(l.allDrawnMs)}`),
  );
  const c = r.change;
  console.log(`  state change → tile (broker, ingest, SSE, next frame), ${c.samples} changes: median ${ms(c.medianMs)}, p95 ${ms(c.p95Ms)}, max ${ms(c.maxMs)}; painted: median ${ms(c.paintedMedianMs)}, p95 ${ms(c.paintedP95Ms)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, fallback: number): number => {
    const at = process.argv.indexOf(name);
    return at < 0 ? fallback : Number(process.argv[at + 1]);
  };
  printDashboardBench(await benchDashboard({ sites: arg('--sites', 1000), samples: arg('--samples', 20) }));
}
