// An alarm reaches a person and is acknowledged from the e-mailed link, end to end: central with its broker, a real
// SMTP server, a branch's uplink over MQTT, and Debian's chromium. The first contact does not answer, so the next
// is mailed (escalation); the second follows the link and acknowledges; the dashboard shows it; the branch clears it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { Uplink } from '../../gateway/uplink/index.js';
import { launchChromium, screenshotPath } from '../helpers/chromium.js';
import { SmtpSink, writeTestCaFile } from '../helpers/smtp-sink.js';
import { eventId } from '../unit/contract/fixtures.js';
import { FakeGateway, until } from '../unit/uplink/fakes.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { addMqttUser, mqttPasswordFileIn } from '../helpers/mqtt-credentials.js';

const PASSWORD = 'a long demo password';
let central: RunningCentral;
let smtp: SmtpSink;
let browser: Browser;
let dir: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-alerts-e2e-'));
  smtp = await SmtpSink.start();
  central = await startCentral(
    parseCentralConfig({
      signing: { keyFile: testSigningKey().privateFile },
      embedded: { port: 0, passwordFile: mqttPasswordFileIn(dir) },
      http: { port: 0 },
      store: { path: ':memory:' },
      alerts: {
        tickSeconds: 1,
        channels: { email: { type: 'email', host: '127.0.0.1', port: smtp.port, caFile: writeTestCaFile(dir), from: 'alarms@library.example.org', timeoutMs: 5000 } },
        outbox: { baseDelayMs: 200, maxDelayMs: 1000 },
      },
    }),
    { clock: { now: () => new Date() }, logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }) },
  );
  await central.auth.accounts.add('olivia', 'operator', PASSWORD);
  const saved = await central.alerts.alerts.rules.save(
    {
      contacts: [
        { name: 'Alice', email: 'alice@example.org' },
        { name: 'Bob', email: 'bob@example.org' },
      ],
      rules: [{ id: 'after-close', alarms: ['people-inside-after-close'], steps: [{ afterMinutes: 0, contacts: ['Alice'] }, { afterMinutes: 1, contacts: ['Bob'] }] }],
    },
    { actor: 'user:test', at: new Date() },
  );
  if (!saved.ok) throw new Error(saved.errors.join('; '));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await browser?.close();
  await central?.close();
  await smtp?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A branch's uplink over MQTT to central, with its outbox to append events to. */
async function connectBranch(site: string): Promise<{ gw: FakeGateway; uplink: Uplink }> {
  const gw = new FakeGateway();
  gw.now = new Date();
  gw.state = { ...gw.state, site, at: gw.now.toISOString() };
  const login = await addMqttUser(mqttPasswordFileIn(dir), site);
  const uplink = new Uplink(gw.deps({ url: central.brokerUrl, protocolVersion: 4, ...login }, site));
  uplink.start();
  cleanups.push(() => uplink.stop());
  await until(() => uplink.connected, 'the branch connected', 10_000);
  return { gw, uplink };
}

/** Olivia, an operator, signed in on the dashboard. */
async function dashboardAsOlivia(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(central.httpUrl);
  await page.waitForURL(/\/login/);
  await page.locator('#username').fill('olivia');
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#submit').click();
  await page.waitForURL(`${central.httpUrl}/`);
  return page;
}

describe('alerts end to end', () => {
  it('mails the on-call contact, escalates to the next, acknowledges from the link, and clears at the branch', async () => {
    const { gw, uplink } = await connectBranch('town');
    const page = await dashboardAsOlivia();
    await expect.poll(() => page.locator('#incident-count').textContent()).toBe('No open incidents');

    const at = new Date().toISOString();
    gw.outbox.append({ id: eventId(Date.now()), at, site: 'town', type: 'alarm', alarm: 'people-inside-after-close', state: 'raised', severity: 'major' } as never);
    uplink.kick();
    await expect.poll(() => page.locator('#incident-list li').count(), { timeout: 15_000 }).toBe(1);
    expect(await page.title()).toMatch(/^\(1\) /);
    await page.screenshot({ path: screenshotPath('alerts-raised.png'), fullPage: true });

    await until(() => smtp.messages.some((m) => m.to.includes('alice@example.org')), 'the first contact mailed', 20_000);
    // Alice does not answer: a minute later Bob is mailed.
    await until(() => smtp.messages.some((m) => m.to.includes('bob@example.org')), 'the second contact mailed', 120_000);
    const mail = smtp.messages.find((m) => m.to.includes('bob@example.org'))!;
    const link = /https?:\/\/\S+\/ack\/[A-Za-z0-9_-]{43}/.exec(mail.text)?.[0];
    expect(link).toBeDefined();

    const phone = await browser.newPage({ viewport: { width: 400, height: 800 } });
    await phone.goto(link!);
    await expect.poll(() => phone.locator('#ack-button').count()).toBe(1);
    // Opening the link acknowledged nothing.
    expect((await central.alerts.alerts.incidents.open())[0]!.acknowledged).toBeNull();
    await phone.locator('textarea[name=note]').fill('On my way');
    await phone.locator('#ack-button').click();
    await expect.poll(() => phone.locator('#ack-done').textContent()).toContain('Acknowledged as Bob');
    await phone.screenshot({ path: screenshotPath('alerts-ack-link.png'), fullPage: true });

    await expect.poll(() => page.locator('#incident-list li .incident-status').textContent(), { timeout: 15_000 }).toContain('Acknowledged by contact:Bob');
    await page.screenshot({ path: screenshotPath('alerts-acknowledged.png'), fullPage: true });

    gw.outbox.append({ id: eventId(Date.now() + 1), at: new Date().toISOString(), site: 'town', type: 'alarm', alarm: 'people-inside-after-close', state: 'cleared' } as never);
    uplink.kick();
    await expect.poll(() => page.locator('#incident-count').textContent(), { timeout: 15_000 }).toBe('No open incidents');
    const all = await central.alerts.alerts.incidents.list({ state: 'all', limit: 5 });
    expect(all).toMatchObject([{ status: 'cleared', cleared: { by: 'site:town' }, acknowledged: { by: 'contact:Bob', note: 'On my way' } }]);
  }, 240_000);

  it('acknowledges from the dashboard, as the signed-in operator, with a note', async () => {
    const { gw, uplink } = await connectBranch('branch2');
    const page = await dashboardAsOlivia();

    gw.outbox.append({ id: eventId(Date.now()), at: new Date().toISOString(), site: 'branch2', type: 'alarm', alarm: 'forced-open', state: 'raised', severity: 'major' } as never);
    uplink.kick();
    const item = page.locator('#incident-list li').filter({ hasText: 'branch2' });
    await expect.poll(() => item.count(), { timeout: 15_000 }).toBe(1);
    await item.getByPlaceholder('Note (optional)').fill('CCTV checked: a gust of wind');
    await item.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => item.locator('.incident-status').textContent(), { timeout: 15_000 }).toContain('Acknowledged by user:olivia');
    await page.screenshot({ path: screenshotPath('alerts-dashboard-ack.png'), fullPage: true });
    const [incident] = await central.alerts.alerts.incidents.list({ state: 'open', site: 'branch2', limit: 5 });
    expect(incident).toMatchObject({ alarm: 'forced-open', status: 'acknowledged', acknowledged: { by: 'user:olivia', note: 'CCTV checked: a gust of wind' } });
  }, 120_000);
});
