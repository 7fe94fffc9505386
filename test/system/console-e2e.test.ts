// The staff console in Debian's chromium against a running gateway on simulated hardware (loopback only):
// sign in, add an exception day, see the preview, save; a card tapped on that day is refused and the log says so;
// lockdown from the page refuses the next tap with `lockdown`. Screenshots go to test-output/; axe-core checks
// every page for serious or critical accessibility problems.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { addConsoleUser } from '../../gateway/console/index.js';
import type { RunningGateway } from '../../gateway/main.js';
import { expectAccessible } from '../helpers/axe.js';
import { screenshotPath } from '../helpers/chromium.js';
import { defaultConfig } from '../helpers/gateway-harness.js';
import { gatewayInChromiumPerFile } from '../helpers/gateway-in-chromium.js';

const CARD = '04A1B2C3D4';
const PASSWORD = 'library desk password';
// Wednesday 4 March 2026, 14:05 in London: open access after the staffed morning.
const START = new Date('2026-03-04T14:05:00Z');
const TODAY = '2026-03-04';

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
  schedule: {
    changeoverMinutes: 15,
    weekly: { mon: weekday, tue: weekday, wed: weekday, thu: weekday, fri: weekday, sat: weekday, sun: [{ from: '10:00', to: '16:00', mode: 'open-access' }] },
    exceptions: [{ date: '2026-03-17', label: 'Local holiday' }],
  },
  bookings: [{ group: 'scouts', label: '12th Town Scouts', weekly: { day: 'thu', from: '18:30', to: '20:30' } }],
  rules: { minimumAge: 16, capacity: 60, lastEntryMinutes: 30 },
  // The public PCs: on 10 minutes before the day's first opening, off 15 minutes before the close.
  outputs: { pcs: [{ during: ['open-access', 'staffed', 'changeover'], fromMinutes: -10, untilMinutes: -15 }] },
};

const scene = gatewayInChromiumPerFile({
  prefix: 'oag-console-e2e-',
  policy: POLICY,
  start: START,
  // The PCs' contactor and an intruder alarm panel's wiring besides the door's (simulated).
  config: { hardware: { ...defaultConfig('/not-used').hardware!, switched: [{ id: 'pcs', label: 'Public PCs' }], intruderAlarm: { status: { debounceMs: 0 } } } as GatewayConfigInput['hardware'] },
  members: { cards: { [CARD]: {}, '0411111111': { groups: ['scouts'] }, '0422222222': {} }, version: 12 },
  browser: { viewport: { width: 1180, height: 820 }, locale: 'en-GB', timezoneId: 'America/New_York' },
});
let running: RunningGateway;
let page: Page;
let url: string;
beforeAll(async () => {
  ({ running, page, url } = scene.current);
  await addConsoleUser(running.store, 'mia', 'manager', PASSWORD);
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});

/** The whole page, without a passing notice over it. */
async function shot(name: string): Promise<void> {
  const dismiss = page.getByRole('button', { name: 'Dismiss' });
  if ((await dismiss.count()) > 0) await dismiss.click();
  // A viewport as tall as the page, so that sticky bars sit where they belong rather than mid-page.
  const viewport = page.viewportSize()!;
  const height = await page.evaluate<number>('document.documentElement.scrollHeight');
  await page.setViewportSize({ width: viewport.width, height: Math.max(viewport.height, height) });
  await page.screenshot({ path: screenshotPath(`console-${name}.png`) });
  await page.setViewportSize(viewport);
}

function tap(uid: string): void {
  const reader = running.hardware.simulated?.reader;
  if (reader === undefined) throw new Error('no simulated reader');
  reader.tap(uid);
}

describe('the staff console in chromium', () => {
  it('signs in and shows the branch now', async () => {
    await page.goto(`${url}/console/`);
    await page.getByRole('heading', { name: 'Staff console' }).waitFor();
    await expectAccessible(page, 'sign-in');
    await shot('sign-in');

    await page.getByLabel('Username').fill('mia');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('wrong username or password');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();

    const banner = page.locator('.banner');
    await banner.getByRole('heading', { name: 'Open access' }).waitFor();
    expect(await banner.textContent()).toContain('Until 20:00, then closed');
    await page.getByText('Live', { exact: true }).waitFor();
    tap(CARD);
    await page.locator('.recent').getByText('Entry granted: member, open access').waitFor();
    expect(await page.locator('.tile', { hasText: 'People inside' }).textContent()).toMatch(/of 60/);
    // The building around the door: the PCs on in open access, by their label; the intruder alarm unset.
    expect(await page.locator('.tile', { hasText: 'PCs, heating and other outputs' }).locator('.tile-list').textContent()).toBe('Public PCs: on');
    expect(await page.locator('.tile', { hasText: 'Intruder alarm' }).locator('.tile-value').textContent()).toBe('Unset');
    expect(await page.locator('.banner-secured').count()).toBe(0);
    // Announce a prepared phrase: no words to type, a confirmation, and the log names it.
    await page.getByLabel('Say').selectOption('closing-now');
    expect(await page.getByLabel('Your words').count()).toBe(0);
    await page.getByRole('button', { name: 'Announce', exact: true }).click();
    await page.getByRole('dialog', { name: 'Announce “Closing now”?' }).getByRole('button', { name: 'Announce', exact: true }).click();
    await page.locator('.recent').getByText('mia made an announcement: closing-now').waitFor();
    // The member goes in; then a staff unlock opens the door, and nothing can tell whether someone came in or went out.
    const contact = running.hardware.simulated!.inputs.doorContact!;
    contact.set(true);
    contact.set(false);
    running.gateway.execute({ command: 'unlock' }, 'sam');
    contact.set(true);
    contact.set(false);
    const people = page.locator('.tile', { hasText: 'People inside' });
    await people.getByText('Estimated:').waitFor();
    expect(await people.locator('.tile-value').textContent()).toBe('≈ 1 of 60');
    await expectAccessible(page, 'now');
    await shot('now');
  });

  it('adds an exception day, previews the next two weeks, saves it as a branch override, and a tap that day is refused', async () => {
    await page.getByRole('link', { name: 'Schedule' }).click();
    await page.getByRole('heading', { name: 'In force: the policy file (version 3)' }).waitFor();

    // A mistake first: the error is shown next to its field.
    const monday = page.getByRole('group', { name: 'Monday' });
    await monday.getByRole('button', { name: '+ Add a period to Monday' }).click();
    await page.getByLabel('Monday, period 4, from').fill('21:00');
    await page.getByLabel('Monday, period 4, to').fill('20:30');
    await page.getByRole('button', { name: 'Preview the next two weeks' }).click();
    const fieldError = page.locator('#f-schedule-weekly-mon-3-to-error');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toBe('must be after from');
    expect(await page.getByLabel('Monday, period 4, to').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.error-summary').textContent()).toContain('schedule.weekly.mon[3].to: must be after from');
    await monday.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.evaluate('window.scrollBy(0, -140)');
    await page.screenshot({ path: screenshotPath('console-schedule-error.png') });
    await monday.getByRole('button', { name: 'Remove Monday, period 4' }).click();

    await page.getByRole('button', { name: '+ Add an exception day' }).click();
    const exception = page.getByRole('group', { name: 'Exception day 2' });
    await exception.getByLabel('Date').fill(TODAY);
    await exception.getByLabel('Label (optional)').fill('Staff training');
    await page.getByRole('button', { name: 'Preview the next two weeks' }).click();
    const preview = page.locator('section.preview');
    await preview.getByRole('heading', { name: 'Preview: a branch override over the policy file (version 3)' }).waitFor();
    const today = preview.getByRole('row', { name: /Wed 4 Mar/ });
    expect(await today.textContent()).toContain('Staff training');
    expect(await today.textContent()).toContain('Changed');
    expect(await today.textContent()).toContain('Closed all day');
    expect(await preview.textContent()).toContain('1 of the next 14 days change');
    expect(await preview.getByRole('row', { name: /Thu 5 Mar/ }).textContent()).toContain('Booking: 12th Town Scouts (scouts) 18:30–20:30');
    // Beside each day, when the PCs are on: none of the closed day, the schedule's hours less their offsets otherwise.
    expect(await today.locator('.tt-output').textContent()).toBe('Public PCs off all day');
    expect(await preview.getByRole('row', { name: /Thu 5 Mar/ }).locator('.tt-output').textContent()).toBe('Public PCs 07:50–19:45');
    await expectAccessible(page, 'schedule-preview');
    await shot('schedule-editor');
    await preview.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.evaluate('window.scrollBy(0, -140)');
    await page.screenshot({ path: screenshotPath('console-schedule-preview.png') });

    await preview.getByRole('button', { name: 'Save as a branch override' }).click();
    const dialog = page.getByRole('dialog', { name: 'Save the schedule as a branch override over the policy file (version 3)?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Save the override' }).click();
    await page.getByRole('heading', { name: /^In force: branch override by \S+ at .+, over the policy file \(version 3\)$/ }).waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'saved' }).textContent()).toContain('Branch override saved and in force.');
    expect(running.gateway.policies.current.version).toBe(3);
    expect(running.gateway.policies.source).toBe('console');

    tap('0422222222');
    await page.getByRole('link', { name: 'Log' }).click();
    const refused = page.getByRole('row', { name: /Entry refused: branch closed/ });
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/Refused.*[0-9a-f]{8}/);
    expect(await page.getByRole('row', { name: /mia saved a new schedule/ }).count()).toBe(1);
    await expectAccessible(page, 'log');
    await shot('log');
  });

  it('turns lockdown on from the page, and the next tap is refused with lockdown', async () => {
    await page.getByRole('link', { name: 'Now' }).click();
    await page.locator('.banner').getByRole('heading', { name: 'Closed' }).waitFor();
    await page.getByRole('button', { name: 'Lockdown' }).click();
    const dialog = page.getByRole('dialog', { name: 'Start lockdown?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Logged as done by mia');
    await dialog.getByRole('button', { name: 'Start lockdown' }).click();
    await page.locator('.banner').getByRole('heading', { name: 'Lockdown' }).waitFor();
    expect(running.gateway.mode).toBe('lockdown');
    tap('0411111111');
    await page.locator('.recent').getByText('Entry refused: lockdown is on').waitFor();
    await page.locator('.recent').getByText('mia turned lockdown on').waitFor();
    const reasons = running.store.events.query({ types: ['access'], limit: 5 }).map((e) => e.reason);
    expect(reasons[0]).toBe('lockdown');
    await expectAccessible(page, 'now-lockdown');
    await shot('now-lockdown');

    await page.getByRole('button', { name: 'Lift lockdown' }).click();
    await page.getByRole('dialog', { name: 'Lift lockdown?' }).getByRole('button', { name: 'Lift lockdown' }).click();
    await page.locator('.banner').getByRole('heading', { name: 'Closed' }).waitFor();
  });

  it('looks a card up without keeping its number, and shows accounts', async () => {
    await page.getByRole('link', { name: 'Members' }).click();
    await page.getByText('list version').waitFor();
    await page.getByLabel('Card number', { exact: true }).fill('04:a1:b2:c3:d4');
    await page.getByRole('button', { name: 'Check' }).click();
    const result = page.locator('.lookup-result');
    await result.waitFor();
    expect(await result.textContent()).toContain('Would be refused now: branch closed');
    expect(await page.getByLabel('Card number', { exact: true }).inputValue()).toBe('');
    await expectAccessible(page, 'members');
    await shot('members');

    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('heading', { name: 'Add an account' }).waitFor();
    const add = page.getByRole('form', { name: 'Add an account' });
    await add.getByLabel('Username').fill('sam');
    await add.getByLabel('First password').fill('a first password for sam');
    await add.getByRole('button', { name: 'Add account' }).click();
    await page.getByRole('row', { name: /^sam/ }).waitFor();
    await page.getByRole('button', { name: 'New password for sam' }).click();
    const dialog = page.getByRole('dialog', { name: 'New password for sam' });
    await dialog.getByLabel('New password', { exact: true }).fill('another password for sam');
    await dialog.getByLabel('New password again').fill('another password for sam');
    await dialog.getByRole('button', { name: 'Set password' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await page.getByRole('status').filter({ hasText: 'New password set for sam' }).count()).toBe(1);
    await expectAccessible(page, 'accounts');
    await shot('accounts');

    // A tablet held upright.
    await page.setViewportSize({ width: 820, height: 1180 });
    await page.getByRole('link', { name: 'Now' }).click();
    await page.locator('.banner').waitFor();
    await shot('now-tablet-portrait');
  });

  it("says so when central's next version supersedes the override saved here", async () => {
    await page.setViewportSize({ width: 1180, height: 820 });
    await page.getByRole('link', { name: 'Schedule' }).click();
    await page.getByRole('heading', { name: /^In force: branch override by / }).waitFor();
    const offered = running.gateway.offerPolicy({ ...POLICY, version: 5 }, 'central');
    expect(offered.ok).toBe(true);
    const alert = page.locator('.newer');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('Central version 5 is now in force.');
    await page.getByRole('button', { name: 'Show what is in force' }).click();
    await page.getByRole('heading', { name: 'In force: central version 5' }).waitFor();
    await expectAccessible(page, 'schedule-central');
  });
});
