// The help-call button from the person inside to central and back: a real gateway (simulated drivers) pressed, the
// incident at a real central over its embedded broker, acknowledged there by an operator, and the branch then
// showing who is coming (its state, and the green pattern at the door).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayName } from '../../central/alerts/help-relay.js';
import type { RunningGateway } from '../../gateway/main.js';
import { SITE, startBranchAndCentral, until, type BranchAndCentral } from '../helpers/branch-and-central.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

interface IncidentJson {
  id: number;
  alarm: string;
  severity: string;
  acknowledged: { by: string } | null;
}

describe('a help call, answered from central', () => {
  let scene: BranchAndCentral;
  let gateway: RunningGateway;
  const api = (path: string, init?: RequestInit) => scene.api(path, { ...init, role: 'operator' });
  const helpIncidents = async (): Promise<IncidentJson[]> =>
    ((await api(`/api/incidents?site=${SITE}`)).body.incidents as IncidentJson[]).filter((i) => i.alarm === 'help-requested');

  beforeAll(async () => {
    scene = await startBranchAndCentral({ policy: town, inputs: { helpButton: { debounceMs: 0 } } });
    gateway = scene.gateway;
  });

  afterAll(async () => {
    await scene?.stop();
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
    const sent = await api(`/api/sites/${SITE}/commands`, { method: 'POST', body: JSON.stringify({ command: 'help-acknowledged', text: 'Mallory' }) });
    expect(sent.status).toBe(400);
    expect(String(sent.body.message)).toMatch(/^command: must be one of .*acknowledging its incident/);
  });
});
