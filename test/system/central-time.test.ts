// Central's pages in Debian's chromium take their time from central, not from the browser: central runs on a clock
// held at 14:00 London on 3 June 2025 (as the demo's runs on its replayed day), the browser is in Auckland in 2026,
// and still the branch page charts that London day, the Figures page defaults to the week ending on it, and a tile
// reads "online since" against central's 14:00.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { centralInChromiumPerFile } from '../helpers/central-in-chromium.js';
import { screenshotPath } from '../helpers/chromium.js';
import { until } from '../helpers/until.js';
import { occupancyEvent } from '../unit/contract/fixtures.js';
import { FakeGateway } from '../unit/uplink/fakes.js';

const CENTRAL_NOW = new Date('2025-06-03T13:00:00.000Z'); // 14:00 in London
const OPENED = new Date('2025-06-03T07:00:00.000Z'); // 08:00 in London
const PASSWORD = 'a long demo password';
const scene = centralInChromiumPerFile({ sites: ['town'], account: { username: 'vera', role: 'viewer', password: PASSWORD }, now: () => CENTRAL_NOW });

/** The town branch, online since 08:00 London and busy all morning: people in every ten minutes, a few out. */
async function seedTheDay(): Promise<void> {
  const gw = new FakeGateway();
  gw.now = OPENED;
  // Open access from 08:00 to 19:00 London; the count the events below end on.
  gw.state = { ...gw.state, site: 'town', at: CENTRAL_NOW.toISOString(), modeSince: OPENED.toISOString(), modeUntil: '2025-06-03T18:00:00.000Z', occupancy: { inside: 16, capacity: 40 } };
  const uplink = scene.connect(gw, 'town');
  let inside = 0;
  for (let i = 0; i < 30; i++) {
    const out = i % 4 === 3;
    inside += out ? -1 : 1;
    gw.outbox.append(occupancyEvent(inside, new Date(OPENED.getTime() + 30 * 60_000 + i * 600_000).toISOString(), 'town', out ? 'exit' : 'entry'));
  }
  uplink.kick();
  await until(() => uplink.connected && gw.outbox.pending === 0, 'the day sent to central');
}

async function signIn(page: Page): Promise<void> {
  await page.goto(scene.central.httpUrl);
  await page.waitForURL(/\/login/);
  await page.locator('#username').fill('vera');
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#submit').click();
  await page.waitForURL(`${scene.central.httpUrl}/`);
}

/** What of a canvas the check below reads (the tests are compiled without the DOM's types). */
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

/** How many pixels tall the chart's line is: a flat line at zero would be a couple. */
function lineHeight(page: Page, selector: string): Promise<number> {
  return page.locator(`${selector} canvas`).evaluate((node) => {
    const canvas = node as unknown as Canvas;
    const { width, height } = canvas;
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
    let top = height;
    let bottom = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4;
        // The series' stroke, #2f6fbd.
        if (Math.abs(pixels[i]! - 0x2f) < 12 && Math.abs(pixels[i + 1]! - 0x6f) < 12 && Math.abs(pixels[i + 2]! - 0xbd) < 12 && pixels[i + 3]! > 200) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
        }
      }
    }
    return bottom - top;
  });
}

describe("central's pages on central's clock", () => {
  it("chart the replayed day, default to its week and read the tiles against central's now, in a browser elsewhere", async () => {
    await seedTheDay();
    const context = await scene.browser.newContext({ timezoneId: 'Pacific/Auckland', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page);

    // The tile: online since 08:00 London, six hours before central's 14:00, not "(7 days)" against the browser's 2026.
    const since = page.locator('article[data-site="town"] .since');
    await expect.poll(() => since.textContent(), { timeout: 10_000 }).toBe('Online since 08:00 (6 h)');
    await page.screenshot({ path: screenshotPath('central-time-dashboard.png'), fullPage: true });

    // The branch page asks for London's day and week by central's clock, and draws the morning's visitors.
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/sites/town/occupancy')) asked.push(new URL(r.url()).search);
    });
    await page.goto(`${scene.central.httpUrl}/sites/town`);
    await page.locator('#chart-today canvas').waitFor({ timeout: 10_000 });
    // Monday and Tuesday 00:00 in London (the browser's Auckland day began eleven hours later) to central's now (the
    // page's clock runs on from central's 14:00 until its second look has measured central's rate).
    const params = asked.map((q) => Object.fromEntries(new URLSearchParams(q)));
    expect(params.map((p) => p.from).sort()).toEqual(['2025-06-01T23:00:00.000Z', '2025-06-02T23:00:00.000Z']);
    expect(params.map((p) => p.to)).toEqual([expect.stringMatching(/^2025-06-03T13:00:/), expect.stringMatching(/^2025-06-03T13:00:/)]);
    expect(await lineHeight(page, '#chart-today')).toBeGreaterThan(40);
    expect(await lineHeight(page, '#chart-week')).toBeGreaterThan(40);
    expect(await page.locator('#tile .since').textContent()).toBe('Online since 08:00 (6 h)');
    await page.screenshot({ path: screenshotPath('central-time-branch.png'), fullPage: true });

    // The Figures page's default period is the seven days to central's today, and shows that day's visits.
    await page.goto(`${scene.central.httpUrl}/figures`);
    await expect.poll(() => page.locator('#to').inputValue()).toBe('2025-06-03');
    expect(await page.locator('#from').inputValue()).toBe('2025-05-28');
    await expect.poll(() => page.locator('#visits').textContent()).toContain('2025-06-03');
    await page.screenshot({ path: screenshotPath('central-time-figures.png'), fullPage: true });
    await context.close();
  });
});
