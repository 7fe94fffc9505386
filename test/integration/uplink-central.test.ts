// A gateway uplink and central together over central's embedded broker: what the central team sees and does.
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import { Uplink } from '../../gateway/uplink/index.js';
import { occupancyEvent } from '../unit/contract/fixtures.js';
import { FakeGateway, until } from '../unit/uplink/fakes.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { mqttCredentials, type MqttCredentials } from '../helpers/mqtt-credentials.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let mqtt: MqttCredentials;
beforeAll(async () => {
  mqtt = await mqttCredentials(['town', 'village']);
});
afterAll(() => mqtt.remove());

async function central(): Promise<RunningCentral> {
  const c = await startCentral(parseCentralConfig({ signing: { keyFile: testSigningKey().privateFile }, embedded: { port: 0, passwordFile: mqtt.passwordFile }, http: { port: 0 }, store: { path: ':memory:' }, commandTimeoutMs: 1500 }), {
    clock: { now: () => new Date() },
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  });
  cleanups.push(() => c.close());
  return c;
}

function gateway(c: RunningCentral, site = 'town'): { gw: FakeGateway; uplink: Uplink } {
  const gw = new FakeGateway();
  gw.now = new Date();
  gw.state = { ...gw.state, site, at: gw.now.toISOString() };
  const uplink = new Uplink(gw.deps({ url: c.brokerUrl, protocolVersion: c.mqttProtocolVersion, ...mqtt.login(site) }, site));
  uplink.start();
  cleanups.push(() => uplink.stop());
  return { gw, uplink };
}

interface SiteJson {
  id?: string;
  online?: boolean;
  state?: { occupancy: { inside: number } } | null;
  events?: Array<{ event: { inside: number } }>;
}
const get = async (c: RunningCentral, path: string) => (await fetch(`${c.httpUrl}${path}`, { headers: await centralHeaders(c, 'viewer') })).json() as Promise<SiteJson>;

describe('uplink → central', () => {
  it('shows the branch online with its state, stores its events once, and offline after it stops', async () => {
    const c = await central();
    const { gw, uplink } = gateway(c);
    for (let i = 1; i <= 5; i++) gw.outbox.append(occupancyEvent(i, new Date(Date.now() - 60_000 + i).toISOString()));
    uplink.kick();
    await until(() => gw.outbox.pending === 0, 'events acknowledged');
    let site: SiteJson = {};
    await (async () => {
      for (let i = 0; i < 100; i++) {
        site = await get(c, '/api/sites/town');
        if (site.online && site.state) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    expect(site).toMatchObject({ id: 'town', online: true, state: { occupancy: { inside: 3 } } });
    const events = await get(c, '/api/sites/town/events');
    expect(events.events?.map((e) => e.event.inside)).toEqual([5, 4, 3, 2, 1]);

    await uplink.stop();
    for (let i = 0; i < 100 && (await get(c, '/api/sites/town')).online; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await get(c, '/api/sites/town')).online).toBe(false);
  });

  it('sends a command from the API and returns the branch answer; 504 when nobody answers', async () => {
    const c = await central();
    const { gw, uplink } = gateway(c);
    await until(() => uplink.connected, 'gateway connected');
    for (let i = 0; i < 100 && !(await get(c, '/api/sites/town')).id; i++) await new Promise((r) => setTimeout(r, 20));
    gw.now = new Date();
    // Alice signs in as the dashboard does; the branch is told it was her, by central.
    await c.auth.accounts.add('alice', 'operator', 'correct horse battery');
    const login = await fetch(`${c.httpUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }) });
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith('oag_central_session=') && !c.startsWith('oag_central_session=;'))!.split(';')[0]!;
    const post = (site: string, body: unknown) =>
      fetch(`${c.httpUrl}/api/sites/${site}/commands`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken }, body: JSON.stringify(body) });
    const ok = await post('town', { command: 'unlock' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true });
    expect(gw.executed.map((e) => [e.cmd.command, e.actor])).toEqual([['unlock', 'central:user:alice']]);
    const refused = await post('town', { command: 'lockdown-off' });
    expect(await refused.json()).toMatchObject({ ok: false, error: 'not in lockdown' });

    await uplink.stop();
    const late = await post('town', { command: 'lock' });
    expect(late.status).toBe(504);
  });

  it('publishes a policy the branch is offered, retained for when it reconnects', async () => {
    const c = await central();
    const put = await fetch(`${c.httpUrl}/api/sites/village/policy`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...(await centralHeaders(c)) },
      body: JSON.stringify({ site: 'village', schedule: { weekly: { sat: [{ from: '10:00', to: '16:00', mode: 'open-access' }] } } }),
    });
    expect(put.status).toBe(202);
    // The branch was not connected when it was published; it gets it on connect.
    const { gw } = gateway(c, 'village');
    await until(() => gw.offers.length === 1, 'policy offered');
    // Central numbered it: the first in its sequence for the site.
    expect(gw.policyVersion).toBe(1);
  });
});
