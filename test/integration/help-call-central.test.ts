// The help-call button from the person inside to central and back: a real gateway (simulated drivers) pressed, the
// incident at a real central over its embedded broker, acknowledged there by an operator, and the branch then
// showing who is coming (its state, and the green pattern at the door).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayName } from '../../central/alerts/help-relay.js';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import type { RunningCentral } from '../../central/main.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { TEST_KEY_HEX } from '../helpers/gateway-harness.js';
import { centralHeaders } from '../helpers/central-auth.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface IncidentJson {
  id: number;
  alarm: string;
  severity: string;
  acknowledged: { by: string } | null;
}

describe('a help call, answered from central', () => {
  let dir: string;
  let central: RunningCentral;
  let gateway: RunningGateway;
  const api = async (path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(new URL(path, central.httpUrl), {
      ...init,
      headers: { 'content-type': 'application/json', ...centralHeaders(central, 'operator'), ...(init?.headers as Record<string, string>) },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const helpIncidents = async (): Promise<IncidentJson[]> =>
    ((await api('/api/incidents?site=town-central')).body.incidents as IncidentJson[]).filter((i) => i.alarm === 'help-requested');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oag-help-'));
    central = await startCentral(parseCentralConfig({ embedded: { port: 0 }, http: { port: 0 }, store: { path: join(dir, 'central.sqlite') }, log: { level: 'silent' } }), {
      clock: { now: () => new Date() },
      logger: pino({ level: 'silent' }),
    });
    writeFileSync(join(dir, 'policy.yaml'), stringify(town));
    const config = parseGatewayConfig({
      site: 'town-central',
      policyFile: join(dir, 'policy.yaml'),
      store: { path: join(dir, 'gateway.sqlite') },
      clock: { trust: 'trusted' },
      http: { enabled: false },
      log: { level: 'silent' },
      hardware: { gpio: { driver: 'simulated' }, inputs: { helpButton: { debounceMs: 0 } }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
      mqtt: { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, reconnectPeriodMs: 100 },
    });
    gateway = await startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } });
    await until(async () => (await api('/api/sites/town-central')).status === 200, 'the branch to appear at central');
  });

  afterAll(async () => {
    await gateway?.stop();
    await central?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens a critical incident at central, and the acknowledgement there reaches the branch with the name', async () => {
    gateway.hardware.simulated!.inputs.helpButton!.set(true);
    await until(async () => (await helpIncidents()).length === 1, 'the help call as an incident at central');
    const [incident] = await helpIncidents();
    expect(incident).toMatchObject({ severity: 'critical', acknowledged: null });
    expect(gateway.gateway.state.help).toMatchObject({ requested: true, acknowledgedBy: null });

    const ack = await api(`/api/incidents/${incident!.id}/acknowledge`, { method: 'POST', body: JSON.stringify({ note: 'on my way' }) });
    expect(ack.status).toBe(200);
    const by = (await helpIncidents())[0]!.acknowledged!.by;
    await until(() => gateway.gateway.state.help?.acknowledgedBy != null, 'the branch to show the acknowledgement');
    expect(gateway.gateway.state.help).toMatchObject({ requested: true, acknowledgedBy: displayName(by) });
    expect(displayName(by)).not.toMatch(/^(user|token|contact):/);
  });

  it('does not let an operator send help-acknowledged by hand: it goes with the acknowledgement of the incident', async () => {
    const sent = await api('/api/sites/town-central/commands', { method: 'POST', body: JSON.stringify({ command: 'help-acknowledged', text: 'Mallory' }) });
    expect(sent.status).toBe(400);
    expect(String(sent.body.message)).toMatch(/^command: must be one of .*acknowledging its incident/);
  });
});
