// The door screen in Debian's chromium against a running gateway on simulated hardware (loopback, as the kiosk on
// the Pi sees it): the mode while nobody taps, a refused card's words pushed over the event stream, the clock in the
// branch's zone whatever the browser's. axe-core checks the page; screenshots go to test-output/.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/main.js';
import { axeViolations } from '../helpers/axe.js';
import { screenshotPath } from '../helpers/chromium.js';
import { gatewayInChromiumPerFile } from '../helpers/gateway-in-chromium.js';

const MEMBER = '04A1B2C3D4';
const EXPIRED = '04A1B2C3D5';
// Wednesday 4 March 2026, 14:05 in London (GMT): open access until 20:00.
const START = new Date('2026-03-04T14:05:00Z');

const weekday = [
  { from: '08:00', to: '10:00', mode: 'open-access' },
  { from: '10:00', to: '13:00', mode: 'staffed' },
  { from: '13:00', to: '20:00', mode: 'open-access' },
];
const POLICY = {
  version: 3,
  site: 'town-central',
  name: 'Town Central Library',
  timezone: 'Europe/London',
  schedule: { changeoverMinutes: 15, weekly: { mon: weekday, tue: weekday, wed: weekday, thu: weekday, fri: weekday, sat: weekday } },
  rules: { minimumAge: 16, capacity: 60, lastEntryMinutes: 30 },
};

const scene = gatewayInChromiumPerFile({
  prefix: 'oag-door-screen-',
  policy: POLICY,
  start: START,
  config: { taps: { repeatWindowMs: 0 } },
  members: { cards: { [MEMBER]: {}, [EXPIRED]: { expires: '2026-01-31' } }, version: 1 },
  // A small HDMI screen, and a browser that guesses another zone: the clock must still say London's time.
  browser: { viewport: { width: 1024, height: 600 }, locale: 'en-US', timezoneId: 'America/New_York' },
});
let running: RunningGateway;
let page: Page;
let url: string;
beforeAll(() => {
  ({ running, page, url } = scene.current);
});

function tap(uid: string): void {
  running.hardware.simulated!.reader!.tap(uid, 'entry');
}

describe('the door screen in chromium', () => {
  it('shows the mode, then a refused card’s words as the stream pushes them, and passes axe', async () => {
    await page.goto(`${url}/door-screen?reader=entry`);
    const title = page.getByRole('heading', { level: 1 });
    await expect.poll(() => title.textContent()).toBe('Open access');
    expect(await page.locator('#detail').textContent()).toBe('until 20:00');
    // The branch's time (London, 14:05 and running), not New York's 09:05 that the browser would guess.
    await expect.poll(() => page.locator('#clock').textContent()).toMatch(/^14:0\d$/);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: screenshotPath('door-screen-idle.png') });

    tap(EXPIRED);
    await expect.poll(() => title.textContent()).toBe('Your membership has expired.');
    const live = page.locator('[aria-live="assertive"]');
    expect(await live.textContent()).toContain('Renew online or at the counter.');
    // Colour is never the only sign: the band has its word.
    expect(await page.locator('#word').textContent()).toBe('No entry');
    expect(await page.locator('#mode').textContent()).toBe('Open access until 20:00');
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: screenshotPath('door-screen-refused.png') });

    tap(MEMBER);
    await expect.poll(() => title.textContent()).toBe('Welcome');
    expect(await page.locator('#word').textContent()).toBe('Come in');
    await page.screenshot({ path: screenshotPath('door-screen-welcome.png') });
  });

  it('is refused to another machine without the display token, with JSON and not the page', async () => {
    // The browser here is on loopback; a request forwarded by a local proxy stands for a client elsewhere.
    const response = await page.request.get(`${url}/door-screen`, { headers: { 'x-forwarded-for': '192.0.2.40' } });
    expect(response.status()).toBe(401);
    expect(await response.json()).toMatchObject({ error: expect.stringContaining('this machine only') });
  });
});
