// The dashboard of a thousand branches in Debian's chromium: grouped by central's regions, found by name or id,
// filtered to what is wrong, the view kept in the address, and a branch's alarm moving its tile to the top of its
// group as it happens. The branches are real MQTT clients (scripts/bench/dashboard.ts, the bench's own estate).
import { copyFileSync } from 'node:fs';
import { connectAsync } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics, type GatewayState } from '../../policies/contract/index.js';
import { ESTATE_REGIONS, estateName, estateOffline, estateRegion, estateSite, estateState, signIn, startEstate, type Estate } from '../../scripts/bench/dashboard.js';
import { expectAccessible } from '../helpers/axe.js';
import { launchChromium, screenshotPath } from '../helpers/chromium.js';
import { addMqttUser } from '../helpers/mqtt-credentials.js';

const COUNT = 1000;
const indices = Array.from({ length: COUNT }, (_, i) => i);
const regionOf = (i: number): string => estateRegion(i) ?? 'Other';
const alarmed = (i: number): boolean => estateState(i).alarms.length > 0;

let estate: Estate;
let browser: Browser;
beforeAll(async () => {
  estate = await startEstate(COUNT);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await estate?.close();
});

/** The sites of the tiles shown (not filtered out), in page order. */
const shownSites = (page: Page, within = '#groups'): Promise<string[]> =>
  page.locator(`${within} li[data-site]:not([hidden])`).evaluateAll((lis) => lis.map((li) => li.getAttribute('data-site') ?? ''));
const groupSites = (page: Page, region: string): Promise<string[]> => shownSites(page, `section.group[data-region="${region}"]`);

describe('the dashboard of a thousand branches', () => {
  let page: Page;

  it("groups the branches by central's regions, what needs attention first, each group with its counts", async () => {
    // CSP bypassed only so that the test can inject axe-core.
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    await signIn(page, estate);
    await expect.poll(() => page.locator('#groups li[data-site] article.tile').count(), { timeout: 30_000 }).toBe(COUNT);
    expect(await page.locator('section.group').evaluateAll((s) => s.map((g) => g.getAttribute('data-region')))).toEqual([...[...ESTATE_REGIONS].sort(), 'Other']);
    for (const region of [...ESTATE_REGIONS, 'Other']) {
      const mine = indices.filter((i) => regionOf(i) === region);
      const sites = await groupSites(page, region);
      expect(sites.sort()).toEqual(mine.map(estateSite).sort());
      const counts: Array<[string, number]> = [
        ['Alarms', mine.filter(alarmed).length],
        ['Offline', mine.filter(estateOffline).length],
        ['Open access now', mine.filter((i) => estateState(i).mode === 'open-access' && !estateOffline(i)).length],
      ];
      const said = [`${mine.length} branches`, ...counts.filter(([, n]) => n > 0).map(([label, n]) => `${label} ${n}`)].join(' · ');
      expect(await page.locator(`section.group[data-region="${region}"] .group-counts`).textContent()).toBe(said);
    }
    // Within a group: alarms first, then offline, then the rest by name ("Ashford 2" before "Ashford 10").
    const north = await groupSites(page, 'North');
    const northAlarmed = indices.filter((i) => regionOf(i) === 'North' && alarmed(i)).map(estateSite);
    const northOffline = indices.filter((i) => regionOf(i) === 'North' && estateOffline(i) && !alarmed(i)).map(estateSite);
    expect(northAlarmed.length).toBeGreaterThan(0);
    expect(north.slice(0, northAlarmed.length).sort()).toEqual(northAlarmed.sort());
    expect(north.slice(northAlarmed.length, northAlarmed.length + northOffline.length).sort()).toEqual(northOffline.sort());
    const rest = north.slice(northAlarmed.length + northOffline.length).map((id) => estateName(Number(id.slice(-4)) - 1));
    expect(rest).toEqual([...rest].sort(new Intl.Collator('en-GB', { numeric: true }).compare));
    // A tile carries the name central's config gives the branch, over its id.
    expect(await page.locator('li[data-site="branch-0001"] h2 a').textContent()).toBe('Ashford 1branch-0001');
    expect(await page.locator('#summary').textContent()).toMatch(/^1000 branches · 980 online · /);
    await page.locator('#view').evaluate((node) => node.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: screenshotPath('dashboard-1000.png') });
    copyFileSync(screenshotPath('dashboard-1000.png'), '/tmp/dashboard-1000.png');
  });

  it('narrows to a search by name or id, kept in the address so that a link shows the same view', async () => {
    await page.locator('#search').fill('ashford');
    const ashfords = indices.filter((i) => estateName(i).startsWith('Ashford ')).map(estateSite);
    await expect.poll(async () => (await shownSites(page)).sort()).toEqual(ashfords.sort());
    expect(await page.locator('#shown').textContent()).toBe(`Showing ${ashfords.length} of 1000 branches`);
    expect(new URL(page.url()).searchParams.get('q')).toBe('ashford');
    await page.locator('#search').fill('branch-0042');
    await expect.poll(() => shownSites(page)).toEqual(['branch-0042']);
    await expectAccessible(page, 'the dashboard, searched');
    // Groups with nothing to show are out of the way.
    expect(await page.locator('section.group:not([hidden])').evaluateAll((s) => s.map((g) => g.getAttribute('data-region')))).toEqual([regionOf(41)]);

    await page.goto(`${estate.central.httpUrl}/?q=Ashford%201`);
    await expect.poll(() => shownSites(page)).toEqual(expect.arrayContaining(['branch-0001', 'branch-0251']));
    expect(await page.locator('#search').inputValue()).toBe('Ashford 1');
    // Nothing found says so, with a way back.
    await page.locator('#search').fill('no such branch');
    await expect.poll(() => page.locator('#no-match').isVisible()).toBe(true);
    await page.locator('#clear-too').click();
    await expect.poll(async () => (await shownSites(page)).length).toBe(COUNT);
    expect(new URL(page.url()).search).toBe('');
  });

  it('shows only the branches offline or with alarms, with the counts, from the keyboard too', async () => {
    const offline = indices.filter(estateOffline).map(estateSite);
    const withAlarms = indices.filter(alarmed).map(estateSite);
    expect(await page.locator('[data-count="offline"]').textContent()).toBe(`(${offline.length})`);
    expect(await page.locator('[data-count="alarms"]').textContent()).toBe(`(${withAlarms.length})`);
    await page.locator('input[name="only"][value="offline"]').check();
    await expect.poll(async () => (await shownSites(page)).sort()).toEqual([...offline].sort());
    expect(await page.locator('#groups li[data-site]:not([hidden]) article[data-online="true"]').count()).toBe(0);
    // A second filter adds its branches: offline or alarmed, each once.
    await page.locator('input[name="only"][value="alarms"]').focus();
    await page.keyboard.press('Space');
    const either = [...new Set([...offline, ...withAlarms])].sort();
    await expect.poll(async () => (await shownSites(page)).sort()).toEqual(either);
    expect(new URL(page.url()).searchParams.getAll('only')).toEqual(['alarms', 'offline']);
    await page.screenshot({ path: screenshotPath('dashboard-1000-filtered.png'), fullPage: true });
    await page.reload();
    await expect.poll(async () => (await shownSites(page)).sort(), { timeout: 30_000 }).toEqual(either);
    expect(await page.locator('input[name="only"][value="alarms"]').isChecked()).toBe(true);

    // "/" finds a branch; a group folds away from the keyboard, and stays folded in the address.
    await page.locator('#clear').click();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('/');
    expect(await page.evaluate('document.activeElement.id')).toBe('search');
    const toggle = page.locator('section.group[data-region="East"] .group-toggle');
    await toggle.focus();
    await page.keyboard.press('Enter');
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await page.locator('section.group[data-region="East"] ul.tiles').isVisible()).toBe(false);
    expect(new URL(page.url()).searchParams.getAll('collapsed')).toEqual(['East']);
    await page.keyboard.press('Enter');
    expect(await page.locator('section.group[data-region="East"] ul.tiles').isVisible()).toBe(true);

    // Grouped by nothing: one list of the estate, its alarms first.
    await page.locator('#group').selectOption('none');
    expect(await page.locator('section.group').evaluateAll((s) => s.map((g) => g.getAttribute('data-region')))).toEqual(['All branches']);
    expect((await shownSites(page)).slice(0, withAlarms.length).sort()).toEqual([...withAlarms].sort());
    expect(new URL(page.url()).searchParams.get('group')).toBe('none');
    await page.locator('#group').selectOption('region');
    expect(await page.locator('section.group').count()).toBe(ESTATE_REGIONS.length + 1);
  });

  it("moves a branch to the top of its group when it raises an alarm, and updates its tile without a reload", async () => {
    // A quiet branch in the North, below the North's branch with a reader offline (a major alarm).
    const i = indices.find((k) => regionOf(k) === 'North' && !alarmed(k) && !estateOffline(k) && k > 100)!;
    const site = estateSite(i);
    const before = await groupSites(page, 'North');
    expect(before.indexOf(site)).toBeGreaterThan(1);
    const northMajor = before[0]!;
    await page.evaluate('window.notReloaded = true');
    const fire: GatewayState = { ...estateState(i), occupancy: { inside: 9, capacity: 40 }, alarms: ['fire'], mode: 'emergency', door: 'released' };
    await estate.publishState(i, fire);
    // A fire is critical: above the reader offline, which is major.
    await expect.poll(async () => (await groupSites(page, 'North')).slice(0, 2), { timeout: 10_000 }).toEqual([site, northMajor]);
    const tile = page.locator(`article[data-site="${site}"]`);
    expect(await tile.getAttribute('class')).toContain('alarming');
    expect(await tile.locator('.alarms li').allTextContents()).toEqual(['Fire alarm']);
    expect(await tile.locator('.occupancy-count').textContent()).toBe('9 / 40');
    expect(await page.locator('section.group[data-region="North"] .group-counts').textContent()).toMatch(/ · Alarms 2 · /);
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    await page.locator('section.group[data-region="North"]').evaluate((node) => node.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: screenshotPath('dashboard-1000-alarm.png') });
    copyFileSync(screenshotPath('dashboard-1000-alarm.png'), '/tmp/dashboard-1000-alarm.png');

    // Cleared: back among the rest by name.
    await estate.publishState(i, estateState(i));
    await expect.poll(async () => (await groupSites(page, 'North')).indexOf(site), { timeout: 10_000 }).toBeGreaterThan(1);
    expect((await groupSites(page, 'North'))[0]).toBe(northMajor);
  });

  it('shows a branch it has never drawn when its first state arrives live: in its group, counted, without a reload', async () => {
    // A branch that joins the estate now, one central's config places nowhere.
    const site = 'zz-newcomer';
    const t = topics('oa/v1', site);
    const client = await connectAsync(estate.central.brokerUrl, { protocolVersion: estate.central.mqttProtocolVersion, reconnectPeriod: 0, ...(await addMqttUser(estate.passwordFile, site)) });
    await client.publishAsync(t.availability, JSON.stringify({ state: 'online', at: new Date().toISOString() }), { qos: 1, retain: true });
    await client.publishAsync(t.state, JSON.stringify({ ...estateState(0), site, alarms: ['fire'], mode: 'emergency', door: 'released' }), { qos: 1, retain: true });
    await client.endAsync();
    // The estate's one critical alarm: first in its group, above the branches with a reader offline.
    await expect.poll(async () => (await groupSites(page, 'Other'))[0], { timeout: 10_000 }).toBe(site);
    await page.locator('section.group[data-region="Other"]').evaluate((node) => node.scrollIntoView({ block: 'start' }));
    await expect.poll(() => page.locator(`article[data-site="${site}"] .alarms li`).allTextContents(), { timeout: 10_000 }).toEqual(['Fire alarm']);
    expect(await page.locator('#summary').textContent()).toMatch(/^1001 branches · /);
    expect(await page.evaluate('window.notReloaded')).toBe(true);
  });

  it("offers the regions on the Figures page, and asks for the chosen region's figures", async () => {
    const asked = page.waitForRequest((r) => r.url().includes('/api/figures/visits?'));
    await page.goto(`${estate.central.httpUrl}/figures?region=Coast`);
    expect(new URL((await asked).url()).searchParams.get('region')).toBe('Coast');
    expect(await page.locator('#region option').allTextContents()).toEqual(['All', ...[...ESTATE_REGIONS].sort(), 'Other']);
    const again = page.waitForRequest((r) => r.url().includes('/api/figures/visits?'));
    await page.locator('#region').selectOption('Other');
    await page.locator('#range button[type="submit"]').click();
    expect(new URL((await again).url()).searchParams.get('region')).toBe('Other');
    await expect.poll(() => page.locator('#visits-csv').getAttribute('href')).toContain('region=Other');
    await page.close();
  });
});
