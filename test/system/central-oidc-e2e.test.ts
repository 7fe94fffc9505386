// Single sign-on end to end in Debian's chromium: the real central (startCentral) with `oidc:` pointing at a real
// OpenID provider (oidc-provider) on loopback. Chromium opens central's sign-in page, clicks the single sign-on
// button, signs in as alice on the provider's own form, agrees on its consent form, and ends on the dashboard
// signed in (her name in the header); carol, who has no role at central, gets a page saying so and no session.
// The provider is `localhost` and central `127.0.0.1`: two sites, as a real provider and central are, so the
// browser's cross-site cookie rules apply on the way back.
import { pino } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { launchChromium, screenshotPath } from '../helpers/chromium.js';
import { freePort } from '../helpers/free-port.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { mqttCredentials, type MqttCredentials } from '../helpers/mqtt-credentials.js';
import { expectAccessible } from '../helpers/axe.js';

const LABEL = 'Sign in with the library account';

let provider: TestOidcProvider;
let central: RunningCentral;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let mqtt: MqttCredentials;

beforeAll(async () => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider({ redirectUris: [`${origin}/auth/oidc/callback`] });
  mqtt = await mqttCredentials([]);
  central = await startCentral(
    parseCentralConfig({
      signing: { keyFile: testSigningKey().privateFile },
      embedded: { port: 0, passwordFile: mqtt.passwordFile },
      http: { port },
      store: { path: ':memory:' },
      oidc: {
        issuer: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
        publicUrl: origin,
        label: LABEL,
        scopes: ['openid', 'profile', 'groups'],
        roles: { operator: ['library-staff'], administrator: ['library-admins'] },
      },
    }),
    { clock: { now: () => new Date() }, logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }) },
  );
  expect(central.httpUrl).toBe(origin);
  // Central starts without asking the provider anything: it must start while the provider is down.
  expect(provider.requests).toEqual([]);
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1180, height: 820 }, locale: 'en-GB' });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await central?.close();
  await provider?.close();
  mqtt?.remove();
});

describe('single sign-on in Chromium', () => {
  it("signs alice in from central's sign-in page through the provider's forms, onto the dashboard as administrator", async () => {
    // The dashboard's own request: does it carry the session? (Not if the callback redirected: the navigation would
    // still count as coming from the provider's site, and the SameSite=Strict cookie would stay behind.)
    const dashboardCookies: Array<Promise<string>> = [];
    page.on('request', (request) => {
      if (request.isNavigationRequest() && request.url() === `${central.httpUrl}/`) dashboardCookies.push(request.headerValue('cookie').then((c) => c ?? ''));
    });
    await page.goto(`${central.httpUrl}/login`);
    await page.getByRole('link', { name: LABEL }).click();

    // The provider's own pages (oidc-provider's development forms): sign-in, then consent.
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('alice’s password at the council');
    await page.locator('button[type="submit"]').click();
    await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
    await page.locator('button[type="submit"]').click();

    // Back at central, through the callback, on the dashboard and signed in.
    await page.waitForURL(`${central.httpUrl}/`);
    expect(await Promise.all(dashboardCookies)).toEqual([expect.stringMatching(/(^|; )oag_central_session=/)]);
    const header = page.getByRole('banner');
    await expect.poll(async () => header.innerText()).toContain('alice');
    await page.screenshot({ path: screenshotPath('central-oidc-dashboard.png'), fullPage: true });

    // The session is real: the API answers as alice, an administrator, signed in by single sign-on.
    const session = await page.evaluate(async () => {
      const response = await fetch('/api/auth/session');
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    });
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({ username: 'alice', role: 'administrator', via: 'oidc' });
    // Discovery happened once, at this first sign-in, and was kept.
    expect(provider.requests.filter((r) => r === 'GET /.well-known/openid-configuration')).toHaveLength(1);
  });

  it('refuses carol, whom the provider knows but central gives no role: a page saying so, and still signed out', async () => {
    // Its own browser (no session from alice's test); CSP bypassed only so that the test can inject axe-core.
    const own = await browser.newContext({ viewport: { width: 1180, height: 820 }, locale: 'en-GB', bypassCSP: true });
    try {
      const tab = await own.newPage();
      tab.setDefaultTimeout(15_000);
      await tab.goto(`${central.httpUrl}/login`);
      await tab.getByRole('link', { name: LABEL }).click();
      await tab.waitForURL((url) => url.origin === provider.issuer);
      await tab.locator('input[name="login"]').fill('carol');
      await tab.locator('input[name="password"]').fill('carol’s password at the council');
      await tab.locator('button[type="submit"]').click();
      await tab.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
      await tab.locator('button[type="submit"]').click();

      await tab.waitForURL((url) => url.href.startsWith(`${central.httpUrl}/auth/oidc/callback?`));
      await expect.poll(async () => tab.getByRole('alert').innerText()).toBe(`Signed in at ${provider.issuer} as carol, but that account has no role at central.`);
      await tab.screenshot({ path: screenshotPath('central-oidc-no-role.png'), fullPage: true });
      await expectAccessible(tab, 'the no-role page');
      const session = await tab.evaluate(async () => (await fetch('/api/auth/session')).status);
      expect(session).toBe(401);
      // Its one way on is the sign-in page.
      await tab.getByRole('link', { name: 'Back to the sign-in page' }).click();
      await tab.waitForURL(`${central.httpUrl}/login`);
    } finally {
      await own.close();
    }
  });
});
