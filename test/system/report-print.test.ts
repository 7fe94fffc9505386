// The printable monthly report in Debian's chromium: a month of a branch's events, sent through the broker as a
// gateway sends them, reached from the Figures page, shows the figures the seeding says; printed, it is only the
// report (no navigation), and the PDF and screenshots are kept in test-output/ to look at.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ulid, type GatewayEvent } from '../../policies/contract/index.js';
import { centralInChromiumPerFile } from '../helpers/central-in-chromium.js';
import { screenshotPath } from '../helpers/chromium.js';
import { FakeGateway, until } from '../unit/uplink/fakes.js';

const PASSWORD = 'a long report password';
const scene = centralInChromiumPerFile({ sites: ['town'], account: { username: 'vera', role: 'viewer', password: PASSWORD } });

/** November 2026 at the town branch (GMT all month, so UTC times are local), and its truth, counted as seeded. */
function november(): { events: GatewayEvent[]; truth: { staffed: number; openAccess: number; booking: number; day10: number } } {
  const events: GatewayEvent[] = [];
  const truth = { staffed: 0, openAccess: 0, booking: 0, day10: 0 };
  const base = { site: 'town', v: 8 };
  const occupancy = (at: string, extra: Record<string, unknown>): void => {
    events.push({ ...base, id: ulid(Date.parse(at)), at, type: 'occupancy', change: 'entry', inside: 1, ...extra } as GatewayEvent);
  };
  const access = (at: string, extra: Record<string, unknown>): void => {
    events.push({ ...base, id: ulid(Date.parse(at)), at, type: 'access', decision: 'granted', reason: 'member', mode: 'open-access', reader: 'entry', person: '0a1b2c3d', ...extra } as GatewayEvent);
  };
  for (let day = 1; day <= 30; day++) {
    const date = `2026-11-${String(day).padStart(2, '0')}`;
    const staffed = (day % 3) + 1;
    for (let i = 0; i < staffed; i++) occupancy(`${date}T10:${String(10 + i).padStart(2, '0')}:00.000Z`, { mode: 'staffed', via: 'contact' });
    occupancy(`${date}T18:05:00.000Z`, { mode: 'open-access', grant: 'member', via: 'contact' });
    occupancy(`${date}T18:30:00.000Z`, { mode: 'open-access', grant: 'member', via: 'contact' });
    truth.staffed += staffed;
    truth.openAccess += 2;
    if (day === 10) truth.day10 = staffed + 2;
  }
  // A group booking on a closed evening.
  occupancy('2026-11-12T19:00:00.000Z', { mode: 'closed', grant: 'booking' });
  occupancy('2026-11-12T19:00:05.000Z', { mode: 'closed', grant: 'booking' });
  truth.booking = 2;
  // One grant, three people through on the 10th: a tailgate of two, whose people are among the entries.
  events.push({ ...base, id: ulid(Date.parse('2026-11-10T18:31:00.000Z')), at: '2026-11-10T18:31:00.000Z', type: 'occupancy', change: 'tailgate', inside: 3, entries: 3, grants: 1 } as GatewayEvent);
  // Staff held the door free on the 10th: four openings nobody could count, shown beside the visits, never among them.
  for (const minute of ['40', '41', '42', '43']) {
    events.push({ ...base, id: ulid(Date.parse(`2026-11-10T11:${minute}:00.000Z`)), at: `2026-11-10T11:${minute}:00.000Z`, type: 'occupancy', change: 'uncounted', inside: 0, via: 'contact', mode: 'staffed', confidence: 'estimated' } as GatewayEvent);
  }
  // Card + PIN: four prompts (not refusals), two wrong PINs, one expired card; grants by age band.
  for (const minute of ['01', '02', '03', '04']) access(`2026-11-05T18:${minute}:00.000Z`, { decision: 'refused', reason: 'pin-required', ageBand: 'adult' });
  for (const minute of ['05', '06']) access(`2026-11-05T18:${minute}:00.000Z`, { decision: 'refused', reason: 'pin-wrong', ageBand: 'adult' });
  access('2026-11-06T18:00:00.000Z', { decision: 'refused', reason: 'expired', ageBand: 'adult' });
  for (const minute of ['10', '11', '12']) access(`2026-11-07T18:${minute}:00.000Z`, { ageBand: 'adult' });
  for (const minute of ['13', '14']) access(`2026-11-07T18:${minute}:00.000Z`, { reason: 'accompanied', ageBand: 'child' });
  return { events: events.sort((a, b) => a.at.localeCompare(b.at)), truth };
}

describe('monthly report', () => {
  it('shows the month the events say, is reached from the Figures page, and prints as the report alone', async () => {
    const { events, truth } = november();
    const gw = new FakeGateway();
    gw.state = { ...gw.state, site: 'town', at: new Date().toISOString() };
    for (const e of events) gw.outbox.append(e);
    scene.connect(gw, 'town');
    await until(() => gw.outbox.pending === 0, 'the month sent to central', 20_000);

    const page = await scene.browser.newPage({ viewport: { width: 1100, height: 900 } });
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
    });
    page.on('pageerror', (err) => blocked.push(err.message));
    await page.goto(`${scene.central.httpUrl}/figures`);
    await page.waitForURL(/\/login\?next=/);
    await page.locator('#username').fill('vera');
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#submit').click();
    await page.waitForURL(`${scene.central.httpUrl}/figures`);
    await page.locator('#from').fill('2026-11-01');
    await page.locator('#to').fill('2026-11-30');
    await page.locator('#site').fill('town');
    await page.locator('#range button[type="submit"]').click();
    await expect.poll(() => page.locator('#report-link').getAttribute('href')).toBe('/report?month=2026-11&site=town');
    // The Figures page shows the same month's figures as the report below: one count, two views.
    expect(await page.locator('#tailgates tr td').allTextContents()).toEqual(['town', '2026-11-10', '1', '2']);
    expect(await page.locator('#visits tr').count()).toBe(30);
    await page.screenshot({ path: screenshotPath('figures.png'), fullPage: true });
    await page.locator('#report-link').click();
    await page.waitForURL(`${scene.central.httpUrl}/report?month=2026-11&site=town`);

    await expect.poll(() => page.locator('#r-title').textContent(), { timeout: 10_000 }).toBe('town · November 2026');
    const total = truth.staffed + truth.openAccess + truth.booking;
    const totals = await page.locator('#totals tr').first().locator('th, td').allTextContents();
    // Visits, staffed, open access, bookings, other, tailgates (extra people), refusals (the prompts are not), openings not counted.
    expect(totals).toEqual([String(total), String(truth.staffed), String(truth.openAccess), String(truth.booking), '0', '1 (2)', '3', '4']);
    expect(await page.locator('#days tr').count()).toBe(30);
    const day10 = await page.locator('#days tr[data-date="2026-11-10"] td').allTextContents();
    expect(day10.slice(5)).toEqual([String(truth.day10), '1 (2)', '4']);
    expect(await page.locator('#refusals tr').allTextContents()).toEqual(['pin-wrong2', 'expired1']);
    expect(await page.locator('#ages tr').allTextContents()).toEqual(['Adult3', 'Child2']);
    expect(await page.locator('#kinds tr').allTextContents()).toEqual(['Member3', 'Child with an adult2']);
    expect(await page.locator('#r-meta').textContent()).toMatch(/^Generated .+ · days counted in Europe\/London$/);
    await page.screenshot({ path: screenshotPath('report-screen.png'), fullPage: true });

    // On paper: the report alone, its header first, the day rows whole.
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('header.bar').isVisible()).toBe(false);
    expect(await page.locator('.report-controls').isVisible()).toBe(false);
    expect(await page.locator('.report-head').isVisible()).toBe(true);
    await page.screenshot({ path: screenshotPath('report-print.png'), fullPage: true });
    const pdfPath = screenshotPath('report-town-2026-11.pdf');
    await page.pdf({ path: pdfPath, format: 'A4', printBackground: true });
    const pdf = readFileSync(pdfPath);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(10_000);
    expect(blocked).toEqual([]);
    await page.close();
  });
});
