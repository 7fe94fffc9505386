// The dashboard in Debian's chromium: nothing without signing in; then tiles follow the branches live, a stopped
// gateway shows offline, a command goes out as the person signed in, and the audit page says so.
import { describe, expect, it } from 'vitest';
import type { Uplink } from '../../gateway/uplink/index.js';
import { centralInChromiumPerFile } from '../helpers/central-in-chromium.js';
import { screenshotPath } from '../helpers/chromium.js';
import { accessEvent, eventId, occupancyEvent } from '../unit/contract/fixtures.js';
import { FakeGateway, until } from '../unit/uplink/fakes.js';

const PASSWORD = 'a long demo password';
const scene = centralInChromiumPerFile({
  sites: ['town', 'village', 'hub', 'castle'],
  account: { username: 'olivia', role: 'operator', password: PASSWORD },
  names: { town: { name: 'Town Library' } },
});

function branch(site: string, patch: Partial<FakeGateway['state']>): { gw: FakeGateway; uplink: Uplink } {
  const gw = new FakeGateway();
  const now = new Date();
  gw.now = now;
  gw.state = {
    ...gw.state,
    site,
    at: now.toISOString(),
    modeSince: new Date(now.getTime() - 3_600_000).toISOString(),
    modeUntil: new Date(now.getTime() + 3 * 3_600_000).toISOString(),
    ...patch,
  };
  const uplink = scene.connect(gw, site);
  return { gw, uplink };
}

describe('dashboard', () => {
  it('shows every branch live: occupancy changes after taps, offline when a gateway stops', async () => {
    const town = branch('town', { occupancy: { inside: 3, capacity: 40 } });
    const village = branch('village', { mode: 'staffed', occupancy: { inside: 12, capacity: null }, door: 'unlocked' });
    // The hub counts with a door contact alone (an estimate), has a PIR and a meeting-room door of its own.
    const hub = branch('hub', {
      occupancy: { inside: 38, capacity: 40, confidence: 'estimated', motionAt: new Date(Date.now() - 3 * 60_000).toISOString() },
      alarms: ['held-open'],
      door: 'held-open',
      doors: [
        { id: 'main', state: 'held-open' },
        { id: 'meeting-room', state: 'locked' },
      ],
    });
    // Some history for the branch page's charts.
    const start = Date.now() - 4 * 3_600_000;
    let inside = 0;
    for (let i = 0; i < 40; i++) {
      inside = Math.max(0, inside + (i % 5 === 4 ? -2 : 1));
      town.gw.outbox.append(occupancyEvent(inside, new Date(start + i * 360_000).toISOString()));
    }
    town.gw.outbox.append(accessEvent({ decision: 'refused', reason: 'expired', at: new Date().toISOString() }));
    town.uplink.kick();
    await until(() => [town, village, hub].every((b) => b.uplink.connected) && town.gw.outbox.pending === 0, 'branches connected', 10_000);

    const page = await scene.browser.newPage({ viewport: { width: 1280, height: 720 } });
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
    });
    // Not signed in: the dashboard sends the browser to the sign-in page, and back once signed in.
    await page.goto(scene.central.httpUrl);
    await page.waitForURL(/\/login\?next=%2F$/);
    await page.locator('#username').fill('olivia');
    await page.locator('#password').fill('not her password');
    await page.locator('#submit').click();
    await expect.poll(() => page.locator('#error').textContent()).toBe('wrong username or password');
    await page.screenshot({ path: screenshotPath('login.png'), fullPage: true });
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#submit').click();
    await page.waitForURL(`${scene.central.httpUrl}/`);
    await expect.poll(() => page.locator('#who .who-name').textContent()).toBe('olivia · operator');
    const tile = (site: string) => page.locator(`article[data-site="${site}"]`);
    await tile('hub').waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator('article.tile').count()).toBe(3);
    await expect.poll(() => tile('town').locator('.occupancy-count').textContent()).toBe('3 / 40');
    expect(await tile('village').locator('.occupancy-count').textContent()).toBe('12');
    expect(await tile('hub').getAttribute('class')).toContain('alarming');
    expect(await tile('hub').locator('.alarms li').allTextContents()).toEqual(['Door held open']);
    // An estimate reads as one, on the tile and in the total above the tiles; each of the hub's doors is named.
    expect(await tile('hub').locator('.occupancy-count').textContent()).toBe('≈ 38 / 40');
    expect(await tile('hub').locator('.occupancy-count').getAttribute('title')).toBe('Estimated: some comings and goings were not seen.');
    expect(await tile('hub').locator('.occ-note').textContent()).toBe('Estimated: some comings and goings were not seen.');
    expect(await tile('hub').locator('.motion').textContent()).toMatch(/^\d+ min ago$/);
    expect(await tile('hub').locator('.doors').textContent()).toBe('main held open · meeting-room locked');
    expect(await tile('town').locator('.occupancy-count').textContent()).not.toContain('≈');
    expect(await tile('town').locator('.occ-note').count()).toBe(0);
    expect(await page.locator('#summary').textContent()).toMatch(/ · about 53 people inside/);

    // Taps at the town branch: the tile follows without a reload.
    for (const n of [4, 5, 6, 7]) {
      town.gw.outbox.append(occupancyEvent(n, new Date().toISOString()));
      town.gw.setState({ occupancy: { inside: n, capacity: 40 }, at: new Date().toISOString() });
    }
    town.uplink.kick();
    await expect.poll(() => tile('town').locator('.occupancy-count').textContent(), { timeout: 5000 }).toBe('7 / 40');
    expect(await tile('town').locator('[role="meter"]').getAttribute('aria-valuenow')).toBe('7');

    // The village gateway stops: its tile says offline.
    await village.uplink.stop();
    await expect.poll(() => tile('village').locator('.availability').textContent(), { timeout: 5000 }).toBe('Offline');
    expect(await tile('village').getAttribute('data-online')).toBe('false');
    expect(await page.locator('#summary').textContent()).toMatch(/^3 branches · 2 online · about 57 people inside/);
    await page.screenshot({ path: screenshotPath('dashboard.png'), fullPage: true });

    // On a phone the tiles stack in one column.
    await page.setViewportSize({ width: 390, height: 844 });
    const box = await tile('hub').boundingBox();
    expect(box?.width).toBeGreaterThan(300);
    await page.screenshot({ path: screenshotPath('dashboard-phone.png'), fullPage: true });

    // The branch page: tile, today's chart and the recent events.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${scene.central.httpUrl}/sites/town`);
    await page.locator('#chart-today canvas').waitFor({ timeout: 10_000 });
    // Named as central's config names it, in the heading and the browser's tab, with its id beside.
    await expect.poll(() => page.title()).toBe('Town Library · Open Access central');
    expect(await page.locator('#title').textContent()).toBe('Town Library (town)');
    expect(await page.locator('#tile h2 > span').first().textContent()).toBe('Town Librarytown');
    await expect.poll(() => page.locator('#events tr').count()).toBeGreaterThan(10);
    expect(await page.locator('#events tr').first().textContent()).toMatch(/Occupancy: entry|Entry refused/);
    await page.screenshot({ path: screenshotPath('branch.png'), fullPage: true });

    // A command goes out as Olivia: no name to type, the branch is told who.
    page.once('dialog', (d) => void d.accept());
    expect(await page.locator('#cmd-as').textContent()).toBe("Sent as olivia: the branch's log shows central:user:olivia.");
    await page.locator('[data-command="unlock"]').click();
    await expect.poll(() => page.locator('#cmd-result').textContent(), { timeout: 10_000 }).toBe('unlock: done.');
    expect(town.gw.executed.map((e) => e.actor)).toEqual(['central:user:olivia']);
    // An operator may not publish a policy: the page says so rather than letting the button fail.
    expect(await page.locator('#publish').isDisabled()).toBe(true);

    // The audit page has it, linked from the header for an operator.
    await page.locator('nav a[href="/audit"]').click();
    await page.waitForURL(`${scene.central.httpUrl}/audit`);
    await expect.poll(() => page.locator('#rows tr').count()).toBeGreaterThanOrEqual(3);
    const first = await page.locator('#rows tr').first().locator('td').allTextContents();
    expect(first.slice(1)).toEqual(['user:olivia', 'command', 'town', 'unlock: ok']);
    await page.screenshot({ path: screenshotPath('audit.png'), fullPage: true });

    // Her sessions ended at central (an administrator removed or demoted her, say): the open dashboard notices
    // through its live stream and goes to the sign-in page, and back to where it was once she signs in again.
    await page.goto(scene.central.httpUrl);
    await expect.poll(() => page.locator('#conn').textContent()).toBe('Live');
    await scene.central.auth.endSessions('olivia');
    await page.waitForURL(/\/login\?next=%2F$/, { timeout: 15_000 });
    await page.locator('#username').fill('olivia');
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#submit').click();
    await page.waitForURL(`${scene.central.httpUrl}/`);

    // Signing out ends it: the dashboard is the sign-in page again.
    await page.locator('#who .signout').click();
    await page.waitForURL(/\/login$/);
    await page.goto(scene.central.httpUrl);
    await page.waitForURL(/\/login\?next=/);
    expect(blocked).toEqual([]);
    await page.close();
  });

  it("shows a branch secured for the night: the tile's badge, the branch page's intruder alarm and outputs, 1.9's events in words, and announces a prepared phrase", async () => {
    const now = Date.now();
    const castle = branch('castle', {
      mode: 'closed',
      occupancy: { inside: 0, capacity: 60 },
      lights: false,
      outputs: [
        { id: 'pcs', on: false, label: 'Public PCs' },
        { id: 'heating', on: true },
      ],
      intruderAlarm: { state: 'set', since: new Date(now - 30 * 60_000).toISOString() },
      secured: true,
    });
    const at = (ago: number): { id: string; at: string; site: string } => ({ id: eventId(now - ago), at: new Date(now - ago).toISOString(), site: 'castle' });
    castle.gw.outbox.append({ ...at(40 * 60_000), type: 'announcement', phrase: 'closing-soon', languages: ['cy', 'en'], outcome: 'played' });
    castle.gw.outbox.append({ ...at(35 * 60_000), type: 'output', output: 'pcs', on: false, by: 'schedule' });
    castle.gw.outbox.append({ ...at(30 * 60_000), type: 'intruder-alarm', action: 'set', outcome: 'confirmed', by: 'empty after close' });
    castle.uplink.kick();
    await until(() => castle.uplink.connected && castle.gw.outbox.pending === 0, 'castle connected', 10_000);

    const page = await scene.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(scene.central.httpUrl);
    await page.waitForURL(/\/login\?next=/);
    await page.locator('#username').fill('olivia');
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#submit').click();
    await page.waitForURL(`${scene.central.httpUrl}/`);
    const tile = page.locator('article[data-site="castle"]');
    await tile.waitFor({ timeout: 10_000 });
    expect(await tile.locator('.badge.secured').textContent()).toBe('Secured');
    // The dashboard's tile stays small: the badge, not the building's rows.
    expect(await tile.locator('.intruder').count()).toBe(0);

    await page.goto(`${scene.central.httpUrl}/sites/castle`);
    await page.locator('#tile .intruder').waitFor({ timeout: 10_000 });
    expect(await page.locator('#tile .intruder').textContent()).toMatch(/^Set since \d\d:\d\d$/);
    expect(await page.locator('#tile .outputs').textContent()).toBe('Public PCs off · heating on');
    expect(await page.locator('#tile .secured-note').textContent()).toBe('Secured for the night: closed, nobody inside, intruder alarm set.');
    await expect.poll(() => page.locator('#events tr').allTextContents(), { timeout: 10_000 }).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Intruder alarm setempty after close$/),
        expect.stringMatching(/Public PCs switched offby the schedule$/),
        expect.stringMatching(/Announced: Closing soon \(the minutes left\)cy, en · played$/),
      ]),
    );
    await page.screenshot({ path: screenshotPath('branch-secured.png'), fullPage: true });

    // Announce: the words box only for your own words; a phrase goes out as its id.
    expect(await page.locator('#announce-text-label').isVisible()).toBe(true);
    await page.locator('#announce-phrase').selectOption('closing-soon');
    expect(await page.locator('#announce-text-label').isVisible()).toBe(false);
    await page.locator('[data-command="announce"]').click();
    await expect.poll(() => page.locator('#cmd-result').textContent(), { timeout: 10_000 }).toBe('announce: done.');
    expect(castle.gw.executed.map((e) => [e.cmd.command, e.cmd.text, e.actor])).toEqual([['announce', 'closing-soon', 'central:user:olivia']]);
    await page.close();
  });
});
