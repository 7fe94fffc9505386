// A real gateway (simulated drivers, SQLite file) with its uplink, and a real central service with its embedded
// broker, on loopback: events reach central once, commands and policies come back, bad policies are refused.
import { readFileSync } from 'node:fs';
import { connectAsync } from 'mqtt';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCentral } from '../../central/main.js';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import type { RunningGateway } from '../../gateway/main.js';
import { systemClock } from '../../gateway/core/clock.js';
import { LOCK_WHILE_STAFFED } from '../../gateway/core/commands.js';
import { EventSchema } from '../../policies/contract/events.js';
import { adult, TEST_KEY_HEX } from '../helpers/gateway-harness.js';
import { SITE, startBranchAndCentral, until, type BranchAndCentral } from '../helpers/branch-and-central.js';
import { signedJson } from '../helpers/signing-keys.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const ALWAYS_OPEN: Record<string, unknown> = {
  ...town,
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
};

describe('gateway and central over MQTT', () => {
  let scene: BranchAndCentral;
  let central: RunningCentral;
  let gateway: RunningGateway;
  // The API's own schemas are tested in test/unit/central; here only a few fields are read.
  type Json = { events?: Array<{ event: { id: string } }>; [key: string]: unknown };
  const api = async (path: string, init?: RequestInit): Promise<{ status: number; body: Json }> => scene.api(path, init);

  beforeAll(async () => {
    scene = await startBranchAndCentral({ policy: ALWAYS_OPEN });
    ({ central, gateway } = scene);
    const hash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'));
    gateway.store.members.replaceAll(
      [
        { cardHash: hash(normaliseCardId('04A1B2C3D4')), ...adult },
        { cardHash: hash(normaliseCardId('04A1B2C3D5')), ...adult },
      ],
      { version: 1, source: 'test' },
    );
  });

  afterAll(async () => {
    await scene?.stop();
  });

  it('sends every event to central once, each one valid against the contract', async () => {
    const reader = gateway.hardware.simulated!.reader!;
    reader.tap('04A1B2C3D4');
    reader.tap('0499999999');
    await until(() => gateway.store.events.countUnpublished() === 0, 'the outbox to drain');
    const local = gateway.store.events.query({ limit: 1000 });
    for (const event of local) expect(EventSchema.safeParse({ id: event.id, at: event.at, ...event.data }).success, JSON.stringify(event.data)).toBe(true);
    await until(async () => ((await api('/api/sites/town-central/events?limit=500')).body.events?.length ?? 0) >= local.length, 'central to store them');
    const remote = ((await api('/api/sites/town-central/events?limit=500')).body.events ?? []).map((row) => row.event);
    expect(new Set(remote.map((e) => e.id)).size).toBe(remote.length);
    expect(remote.map((e) => e.id).sort()).toEqual(local.map((e) => e.id).sort());
    expect(JSON.stringify(remote)).not.toContain('04A1B2C3D4');
  });

  it('obeys a lockdown sent from central and answers it', async () => {
    const reply = await api('/api/sites/town-central/commands', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'lockdown-on' }),
    });
    expect(reply.status).toBe(200);
    expect(gateway.gateway.mode).toBe('lockdown');
    gateway.hardware.simulated!.reader!.tap('04A1B2C3D5');
    expect(gateway.store.events.query({ limit: 1, types: ['access'] })[0]?.reason).toBe('lockdown');
    await api('/api/sites/town-central/commands', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'lockdown-off' }),
    });
    expect(gateway.gateway.mode).toBe('open-access');
  });

  it("applies central's numbered policy over the file and refuses an invalid one, keeping the one in force", async () => {
    const put = (doc: unknown) =>
      api('/api/sites/town-central/policy', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    // Central numbers it: the first in its sequence replaces the branch's policy file whatever the file's number.
    const { version: _version, ...unnumbered } = ALWAYS_OPEN;
    const newer = { ...unnumbered, rules: { ...(ALWAYS_OPEN.rules as Record<string, unknown>), capacity: 5 } };
    const applied = await put(newer);
    expect(applied.status, JSON.stringify(applied.body)).toBeLessThan(300);
    await until(() => gateway.gateway.policies.source === 'central', "central's version 1 to be applied");
    expect(gateway.gateway.policies.current.version).toBe(1);
    expect(gateway.gateway.policies.source).toBe('central');
    expect(gateway.gateway.state.occupancy.capacity).toBe(5);

    // Central validates what it publishes, so play a broken publisher (with central's key) straight onto the broker.
    const client = await connectAsync(central.brokerUrl, { protocolVersion: central.mqttProtocolVersion, ...central.embeddedLogin });
    const broken = { ...newer, version: 2, schedule: { weekly: { mon: [{ from: '10:00', to: '09:00', mode: 'staffed' }] } } };
    await client.publishAsync('oa/v1/sites/town-central/policy', signedJson('oa/v1/sites/town-central/policy', broken), { qos: 1, retain: true });
    await client.endAsync();
    await until(() => gateway.gateway.alarms.has('policy-refused'), 'the refusal to be reported');
    expect(gateway.gateway.policies.current.version).toBe(1);
    const refused = gateway.store.events.query({ limit: 5, types: ['policy'] })[0]?.data;
    expect(refused).toMatchObject({ result: 'refused', source: 'central', version: 2 });
    expect(String(refused?.error)).toContain('schedule.weekly.mon[0].to: must be after from');
  });
});

describe('a branch whose clock is a day behind central', () => {
  const STAFFED_ALWAYS: Record<string, unknown> = {
    ...town,
    schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'staffed' }]])) },
  };
  let scene: BranchAndCentral;
  let gateway: RunningGateway;
  const command = (name: string) => scene.api(`/api/sites/${SITE}/commands`, { method: 'POST', role: 'operator', body: JSON.stringify({ command: name }) });

  beforeAll(async () => {
    scene = await startBranchAndCentral({ policy: STAFFED_ALWAYS, clock: { ...systemClock, now: () => new Date(Date.now() - 86_400_000) } });
    gateway = scene.gateway;
  });

  afterAll(async () => {
    await scene?.stop();
  });

  it('refuses an unlock for its age, tells central that lock does nothing while staffed, and takes a lockdown all the same', async () => {
    expect(gateway.gateway.door.state).toBe('unlocked');
    const unlock = await command('unlock');
    expect(unlock).toMatchObject({ status: 200, body: { ok: false, error: expect.stringMatching(/^command dated 86400 s in the future/) } });

    const lock = await command('lock');
    expect(lock).toMatchObject({ status: 200, body: { ok: false, error: LOCK_WHILE_STAFFED } });
    expect(gateway.hardware.outputs.door.active).toBe(true);

    const lockdown = await command('lockdown-on');
    expect(lockdown).toMatchObject({ status: 200, body: { ok: true } });
    expect(gateway.gateway.mode).toBe('lockdown');
    expect(gateway.hardware.outputs.door.active).toBe(false);
  });
});
