// The console's "At the desk" in Debian's chromium, against a gateway on simulated hardware whose uplink reaches a
// test central over a real broker: staff link a member's new card (the page says "tap the card now" and counts
// down; the card is tapped at the desk reader; central's answer is shown in words), set a PIN typed twice (a
// mismatch is named at its field and nothing is sent), and see central's refusal. Keyboard only; axe-core checks
// the page. Screenshots go to the system's temp folder.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { addConsoleUser } from '../../gateway/console/index.js';
import type { RunningGateway } from '../../gateway/main.js';
import type { MemberDeskChange, MemberDeskReply } from '../../policies/contract/index.js';
import { verifyPin } from '../../policies/pin.js';
import { expectAccessible } from '../helpers/axe.js';
import { defaultConfig } from '../helpers/gateway-harness.js';
import { gatewayInChromiumPerFile } from '../helpers/gateway-in-chromium.js';
import { startTestBroker } from '../helpers/mqtt-credentials.js';
import { signedJson, testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';

const SITE = 'town-central';
const MEMBER = '29000000000017';
const NEW_CARD = '04C0FFEE123456';
const PASSWORD = 'library desk password';
const POLICY = {
  version: 3,
  site: SITE,
  name: 'Town Central Library',
  timezone: 'Europe/London',
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
};

/** Filled in before the gateway starts (the helper reads its config then): the broker's address and the branch's login. */
const config: Partial<GatewayConfigInput> = {
  hardware: {
    ...defaultConfig('/not-used').hardware!,
    readers: [
      { id: 'entry', driver: 'simulated', role: 'entry' },
      { id: 'desk', driver: 'simulated', role: 'desk' },
    ],
  } as GatewayConfigInput['hardware'],
};
let broker: Awaited<ReturnType<typeof startTestBroker>>;
let central: MqttClient;
const received: MemberDeskChange[] = [];
let answer: (change: MemberDeskChange) => MemberDeskReply = (change) => ({ id: change.id, result: 'done', message: 'linked: in member list version 13, at every branch within a minute', version: 13 });

beforeAll(async () => {
  broker = await startTestBroker([SITE]);
  config.mqtt = { url: broker.broker.url, protocolVersion: 4, reconnectPeriodMs: 100, ...broker.mqtt.login(SITE), centralKeys: [testSigningKey().publicFile] };
  central = connect(broker.broker.url, { protocolVersion: 4, reconnectPeriod: 50, clientId: 'oag-central', ...broker.broker.central });
  central.on('message', (topic, payload) => {
    const change = JSON.parse(payload.toString()) as MemberDeskChange;
    received.push(change);
    central.publish(`${topic}/reply`, signedJson(`${topic}/reply`, answer(change)), { qos: 1 });
  });
  await until(() => central.connected, 'the test central connected');
  await central.subscribeAsync('oa/v1/sites/+/members/change', { qos: 1 });
});
afterAll(async () => {
  central?.end(true);
  await broker?.close();
});

const scene = gatewayInChromiumPerFile({
  prefix: 'oag-console-desk-',
  policy: POLICY,
  start: new Date('2026-03-04T14:05:00Z'),
  config,
  members: { cards: { [MEMBER]: {} }, version: 12 },
  browser: { viewport: { width: 1180, height: 820 }, locale: 'en-GB', timezoneId: 'Europe/London' },
});
let running: RunningGateway;
let page: Page;

/** The whole page, in a viewport as tall as it (so that the sticky header sits at the top). */
async function shot(name: string): Promise<void> {
  const viewport = page.viewportSize()!;
  const height = await page.evaluate<number>('document.documentElement.scrollHeight');
  await page.setViewportSize({ width: viewport.width, height: Math.max(viewport.height, height) });
  await page.screenshot({ path: join(tmpdir(), `console-desk-${name}.png`) });
  await page.setViewportSize(viewport);
}

describe('at the desk, in chromium', () => {
  beforeAll(async () => {
    ({ running, page } = scene.current);
    await addConsoleUser(running.store, 'desk-anna', 'staff', PASSWORD);
    await until(() => running.gateway.access.desk.changes?.connected === true, 'the branch linked to the broker');
    await page.goto(`${scene.current.url}/console/`);
    await page.getByLabel('Username').fill('desk-anna');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'Members' }).click();
    await page.getByRole('heading', { name: 'At the desk' }).waitFor();
  });

  it('links a new card: tap now, a countdown, then central’s answer', async () => {
    await page.getByLabel('Member’s card number').fill(MEMBER);
    await page.getByRole('button', { name: 'Link a card' }).focus();
    await page.keyboard.press('Enter');
    await page.getByText('Tap the card on the desk reader now').waitFor();
    expect(Number(await page.locator('.countdown').textContent())).toBeGreaterThan(20);
    await expectAccessible(page, 'desk-waiting');
    await shot('waiting');
    running.hardware.simulated!.reader!.tap(NEW_CARD, 'desk');
    await page.getByText('Card linked: linked: in member list version 13, at every branch within a minute').waitFor();
    expect(received.map((c) => c.change.kind)).toEqual(['link-card']);
    // Nothing opened: a desk reader has no door.
    expect(running.hardware.outputs.door.active).toBe(false);
    await shot('linked');
  });

  it('looks up the card tapped at the desk with no link waiting', async () => {
    running.hardware.simulated!.reader!.tap(MEMBER, 'desk');
    await page.getByRole('button', { name: 'Check the card tapped at the desk' }).click();
    await page.locator('#lookup-result').getByText('Would be let in now').waitFor();
    expect(received).toHaveLength(1);
  });

  it('names a PIN typed differently twice at its field, and sends nothing', async () => {
    const pin = page.getByLabel('PIN', { exact: true });
    expect(await pin.getAttribute('type')).toBe('password');
    expect(await pin.getAttribute('inputmode')).toBe('numeric');
    await pin.fill('4711');
    await page.getByLabel('PIN again').fill('4712');
    await page.getByLabel('PIN again').press('Enter');
    await page.locator('#f-desk-confirm-error').getByText('must be the same PIN as above').waitFor();
    expect(await page.getByLabel('PIN again').getAttribute('aria-invalid')).toBe('true');
    expect(received).toHaveLength(1);
    await shot('pin-mismatch');
  });

  it('sets a PIN: only its hash goes to central, and central’s answer is shown in words', async () => {
    answer = (change) => ({ id: change.id, result: 'done', message: 'PIN set: in member list version 14', version: 14 });
    await page.getByLabel('PIN', { exact: true }).fill('4711');
    await page.getByLabel('PIN again').fill('4711');
    await page.getByLabel('PIN again').press('Enter');
    await page.getByText('Done: PIN set: in member list version 14').waitFor();
    const change = received.at(-1)!.change as { kind: string; pinHash: string };
    expect(change.kind).toBe('set-pin');
    expect(verifyPin(change.pinHash, '4711')).toBe(true);
    // The digits are not left in the page.
    expect(await page.getByLabel('PIN', { exact: true }).inputValue()).toBe('');
  });

  it('shows central’s refusal in its words', async () => {
    answer = (change) => ({ id: change.id, result: 'refused', reason: 'not-allowed', message: 'central does not take desk changes from this branch yet' });
    await page.getByLabel('PIN', { exact: true }).fill('135790');
    await page.getByLabel('PIN again').fill('135790');
    await page.getByLabel('PIN again').press('Enter');
    await page.getByText('Not done: central does not take desk changes from this branch yet').waitFor();
    await expectAccessible(page, 'desk-refused');
    await shot('refused');
  });
});
