// A rolling restart of three central instances with a browser on the dashboard (docs/central.md, "Several
// instances"): one PostgreSQL, one Mosquitto (MQTT 5, TLS, the ACL), three `oag central` processes in one share group,
// behind a round-robin load balancer that skips an instance refusing connections. An administrator signs in once in
// Chromium through it; each instance is then stopped and started again on its client id in turn, and the open
// dashboard goes on showing every retained state change without a reload or a second sign-in, its live stream moving
// to another instance when the one it was on goes away. A branch page whose stream is on one instance shows an event
// the share group gave to another: the event comes to it through PostgreSQL's LISTEN/NOTIFY.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvailabilitySchema, topics, type GatewayState } from '../../policies/contract/index.js';
import { CLUSTER_SITE_PASSWORD, startCentralCluster, type CentralCluster, type ClusterInstance } from '../helpers/central-cluster.js';
import { launchChromium } from '../helpers/chromium.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { until } from '../helpers/until.js';
import { occupancyEvent, stateFixture } from '../unit/contract/fixtures.js';

const PREFIX = 'oa/v1';
const SITES = ['town', 'village', 'hub'] as const;
const ADMIN = { username: 'ada', password: 'a long administrator password', role: 'administrator' };
/** A bound on waiting for the page, only so a broken run ends (the shared machine is slow at times). */
const WAIT = { timeout: 10_000 };
const SCREENSHOT = process.env.OAG_ROLLING_SCREENSHOT ?? join('/tmp', 'central-cluster-rolling.png');

let cluster: CentralCluster;
let proxy: RoundRobinProxy;
let browser: Browser;
let context: BrowserContext;
let dashboard: Page;
const branches = new Map<string, MqttClient>();
/** Each branch's last state's time: a state older than the stored one is not taken, so each is later. */
const lastAt = new Map<string, number>();
/** The dashboard's own navigations after it was signed in: a reload or a trip to the sign-in page shows here. */
const navigations: string[] = [];

async function startBranch(site: string): Promise<MqttClient> {
  const client = connect(cluster.broker.url, {
    protocolVersion: 5,
    clientId: site,
    username: site,
    password: CLUSTER_SITE_PASSWORD,
    ca: readFileSync(cluster.tls.ca),
    cert: readFileSync(cluster.tls.cert),
    key: readFileSync(cluster.tls.key),
    reconnectPeriod: 500,
  });
  await until(() => client.connected, `${site} connected to the broker`);
  // Online as a gateway says it on connecting: retained, so every instance starting later reads it.
  const online = AvailabilitySchema.parse({ state: 'online', at: new Date().toISOString() });
  await client.publishAsync(topics(PREFIX, site).availability, JSON.stringify(online), { qos: 1, retain: true });
  branches.set(site, client);
  return client;
}

/** The branch's retained state with `inside` people in, as a gateway sends it when someone taps in. */
async function publishState(site: string, inside: number): Promise<void> {
  const at = Math.max(Date.now(), (lastAt.get(site) ?? 0) + 1);
  lastAt.set(site, at);
  const state: GatewayState = stateFixture({
    site,
    at: new Date(at).toISOString(),
    modeSince: new Date(at - 3_600_000).toISOString(),
    modeUntil: new Date(at + 3 * 3_600_000).toISOString(),
    occupancy: { inside, capacity: 40 },
  });
  await branches.get(site)!.publishAsync(topics(PREFIX, site).state, JSON.stringify(state), { qos: 1, retain: true });
}

async function storedBy(instance: ClusterInstance): Promise<number> {
  const { status, body } = await instance.api<{ ingest: { stored: number } }>('/api/stats');
  expect(status).toBe(200);
  return body.ingest.stored;
}

const tile = (page: Page, site: string) => page.locator(`article[data-site="${site}"]`);
const count = (page: Page, site: string) => tile(page, site).locator('.occupancy-count').textContent();
/** The proxy's connection carrying the dashboard's live stream (one, once the page is live). */
const dashboardStream = () => proxy.openFor('/api/live');

beforeAll(async () => {
  cluster = await startCentralCluster({ sites: SITES, instances: 3, tokenRole: 'administrator' });
  proxy = await startRoundRobinProxy(cluster.instances.map((i) => i.httpUrl));
  for (const site of SITES) await startBranch(site);
  await publishState('town', 3);
  await publishState('village', 12);
  await publishState('hub', 20);
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  for (const client of branches.values()) await client.endAsync(true);
  await proxy?.close();
  await cluster?.stop();
});

describe('a rolling restart of three central instances behind a load balancer', () => {
  it('keeps an open dashboard live through the restart of every instance in turn, signed in once, never reloaded', async () => {
    // The account is made on instance 1; the session it signs in to is in PostgreSQL, known to every instance.
    const made = await cluster.instances[0]!.api('/api/users', { method: 'POST', body: ADMIN });
    expect(made.status).toBe(201);

    dashboard = await context.newPage();
    await dashboard.goto(proxy.url);
    await dashboard.waitForURL(/\/login\?next=%2F$/);
    await dashboard.locator('#username').fill(ADMIN.username);
    await dashboard.locator('#password').fill(ADMIN.password);
    await dashboard.locator('#submit').click();
    await dashboard.waitForURL(`${proxy.url}/`);
    await expect.poll(() => dashboard.locator('#who .who-name').textContent(), WAIT).toBe('ada · administrator');
    await expect.poll(() => dashboard.locator('article.tile').count(), WAIT).toBe(3);
    await expect.poll(() => count(dashboard, 'town'), WAIT).toBe('3 / 40');
    expect(await count(dashboard, 'village')).toBe('12 / 40');
    expect(await count(dashboard, 'hub')).toBe('20 / 40');
    await expect.poll(() => dashboard.locator('#summary').textContent(), WAIT).toMatch(/^3 branches · 3 online · 35 people inside/);
    await expect.poll(() => dashboard.locator('#conn').textContent(), WAIT).toBe('Live');
    // From here on the page is never loaded again: a mark in it survives only if it is not.
    await dashboard.evaluate(() => {
      (globalThis as unknown as { signedInOnce: boolean }).signedInOnce = true;
    });
    dashboard.on('framenavigated', (frame) => {
      if (frame === dashboard.mainFrame()) navigations.push(frame.url());
    });
    await until(() => dashboardStream().length === 1, 'the dashboard stream through the proxy');
    // The page's requests went round the instances, not all to one.
    expect(new Set(proxy.connections().map((c) => c.target)).size).toBeGreaterThan(1);

    const streamWasOn: number[] = [];
    let inside = 3;
    for (const instance of cluster.instances) {
      const stream = dashboardStream()[0]!;
      streamWasOn.push(stream.target);
      await cluster.kill9(instance.k);
      expect(instance.running()).toBe(false);

      // While it is down, the others serve the page: a change shows on its tile. The stream that was on the stopped
      // instance has moved to another; one that was elsewhere is the same connection.
      inside += 1;
      await publishState('town', inside);
      await expect.poll(() => count(dashboard, 'town'), { timeout: 15_000 }).toBe(`${inside} / 40`);
      await until(() => dashboardStream().length === 1, `the dashboard's stream while central ${instance.k} is down`, 15_000);
      const meanwhile = dashboardStream()[0]!;
      expect(meanwhile.target).not.toBe(instance.k - 1);
      if (stream.target !== instance.k - 1) expect(meanwhile.id).toBe(stream.id);
      // Someone opening central now is served too: the balancer skips the instance that refuses.
      const refusedBefore = proxy.refused()[instance.k - 1]!;
      for (let i = 0; i < 3; i++) expect((await fetch(`${proxy.url}/login`, { headers: { connection: 'close' } })).status).toBe(200);
      expect(proxy.refused()[instance.k - 1]).toBeGreaterThan(refusedBefore);

      // Started again on its client id and port: a change after it is back shows too, without a reload.
      await cluster.start(instance.k);
      inside += 1;
      await publishState('town', inside);
      await publishState('hub', 20 + instance.k);
      await expect.poll(() => count(dashboard, 'town'), { timeout: 15_000 }).toBe(`${inside} / 40`);
      await expect.poll(() => count(dashboard, 'hub'), { timeout: 15_000 }).toBe(`${20 + instance.k} / 40`);
      await expect.poll(() => dashboard.locator('#conn').textContent(), { timeout: 15_000 }).toBe('Live');
    }
    // Every instance was stopped once, so the stream had to move at least once.
    streamWasOn.push(dashboardStream()[0]!.target);
    expect(new Set(streamWasOn).size).toBeGreaterThan(1);
    // The restarted instances took connections again: the balancer skipped each only while it was down.
    const refused = proxy.refused();
    const before = proxy.connections().length;
    for (let i = 0; i < 6; i++) expect((await fetch(`${proxy.url}/login`, { headers: { connection: 'close' } })).status).toBe(200);
    expect(new Set(proxy.connections().slice(before).map((c) => c.target))).toEqual(new Set([0, 1, 2]));
    expect(proxy.refused()).toEqual(refused);

    expect(navigations).toEqual([]);
    expect(await dashboard.evaluate(() => (globalThis as unknown as { signedInOnce?: boolean }).signedInOnce)).toBe(true);
    expect(await dashboard.locator('#who .who-name').textContent()).toBe('ada · administrator');
    expect(await count(dashboard, 'village')).toBe('12 / 40');
    // Restarting central did not take the branches offline: they stayed connected to the broker throughout.
    expect(await dashboard.locator('#summary').textContent()).toMatch(/^3 branches · 3 online · 44 people inside/);
    await dashboard.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it("shows on a branch page whose stream is on one instance an event the share group gave to another (LISTEN/NOTIFY)", async () => {
    const town = branches.get('town')!;
    const publishEvent = (inside: number) =>
      town.publishAsync(topics(PREFIX, 'town').events, JSON.stringify(occupancyEvent(inside, new Date().toISOString(), 'town')), { qos: 1 });
    const rows = () => page.locator('#events tr td:nth-child(3)').allTextContents();
    // One stored before the page opens, so that the page's first read of the events is seen to be done.
    await publishEvent(100);
    await until(async () => (await cluster.instances[0]!.api<{ events: unknown[] }>('/api/sites/town/events')).body.events.length === 1, 'the first event stored');

    // A second tab of the same browser: signed in already.
    const page = await context.newPage();
    await page.goto(`${proxy.url}/sites/town`);
    await page.waitForURL(`${proxy.url}/sites/town`);
    await expect.poll(() => page.locator('#conn').textContent(), WAIT).toBe('Live');
    await expect.poll(rows, WAIT).toEqual(['100 inside']);
    await until(() => proxy.openFor('/api/live?site=town').length === 1, "the branch page's stream through the proxy");
    const streamOn = proxy.openFor('/api/live?site=town')[0]!.target;

    // One event at a time, each to whichever instance the share group picks, until one goes to another instance than
    // the page's (Mosquitto hands a group's messages round, so within three).
    const sent: number[] = [];
    let elsewhere: number | null = null;
    for (let n = 101; n <= 106 && elsewhere === null; n++) {
      const stored = await Promise.all(cluster.instances.map(storedBy));
      await publishEvent(n);
      sent.push(n);
      let now: number[] = stored;
      await until(async () => {
        now = await Promise.all(cluster.instances.map(storedBy));
        return now.reduce((a, b) => a + b, 0) === stored.reduce((a, b) => a + b, 0) + 1;
      }, `event ${n} stored by one instance`);
      const by = now.findIndex((v, i) => v > stored[i]!);
      if (by !== streamOn) elsewhere = n;
    }
    expect(elsewhere).not.toBeNull();
    // The page shows every one of them live, the one stored elsewhere included, and its stream never moved.
    await expect.poll(rows, WAIT).toEqual(expect.arrayContaining(sent.map((n) => `${n} inside`)));
    expect(proxy.openFor('/api/live?site=town').map((c) => c.target)).toEqual([streamOn]);
    await page.close();
  });
});
