// The help call between a real gateway (simulated drivers, SQLite file) and what central sees, through a real broker
// in process (aedes, MQTT 3.1.1): the press reaches the broker as a critical alarm and in the retained state, and
// central's help-acknowledged command comes back the way every command does, shows who in the state, and turns the
// door's signal green. The gateway's own timers run on a clock the test moves; the broker and MQTT run for real.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { EmbeddedBroker } from '../../central/broker.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { CommandSchema, topics, type Command } from '../../policies/contract/index.js';
import { TEST_KEY_HEX } from '../helpers/gateway-harness.js';
import { startTestBroker } from '../helpers/mqtt-credentials.js';
import { TestClock } from '../helpers/test-clock.js';
import { signedJson, testSigningKey } from '../helpers/signing-keys.js';
import { until } from '../helpers/until.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const T = topics('oa/v1', 'town-central');


describe('a help call over MQTT', () => {
  let dir: string;
  let broker: EmbeddedBroker;
  let testBroker: Awaited<ReturnType<typeof startTestBroker>>;
  let gateway: RunningGateway;
  let central: MqttClient;
  const clock = new TestClock();
  const seen: Array<{ topic: string; json: Record<string, unknown> }> = [];
  const latestState = (): Record<string, unknown> | undefined => seen.filter((s) => s.topic === T.state).at(-1)?.json;
  const events = (): Array<Record<string, unknown>> => seen.filter((s) => s.topic === T.events).map((s) => s.json);

  /**
   * Publishes a command as central's link does (`checked`), or as a central that did not check it might (signed
   * all the same), and waits for the branch's reply by its id.
   */
  async function command(request: Pick<Command, 'command' | 'text'>, checked = true): Promise<Record<string, unknown>> {
    const cmd: Command = { id: randomUUID(), at: clock.now().toISOString(), actor: 'sam', ...request };
    await central.publishAsync(T.command, signedJson(T.command, checked ? CommandSchema.parse(cmd) : cmd), { qos: 1 });
    await until(() => seen.some((s) => s.topic === T.commandReply && s.json.id === cmd.id), `the reply to ${cmd.command}`);
    return seen.find((s) => s.topic === T.commandReply && s.json.id === cmd.id)!.json;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oag-help-'));
    testBroker = await startTestBroker(['town-central']);
    broker = testBroker.broker;
    central = await connectAsync(broker.url, { protocolVersion: 4, clientId: `central-${randomUUID()}`, ...broker.central });
    central.on('message', (topic, payload) => {
      if (payload.length > 0) seen.push({ topic, json: JSON.parse(payload.toString()) as Record<string, unknown> });
    });
    await central.subscribeAsync('oa/v1/sites/+/#', { qos: 1 });
    writeFileSync(join(dir, 'policy.yaml'), stringify(town));
    const config = parseGatewayConfig({
      site: 'town-central',
      policyFile: join(dir, 'policy.yaml'),
      store: { path: join(dir, 'gateway.sqlite') },
      clock: { trust: 'trusted' },
      http: { enabled: false },
      log: { level: 'silent' },
      hardware: {
        gpio: { driver: 'simulated' },
        inputs: { doorContact: { debounceMs: 0 }, helpButton: { debounceMs: 0 } },
        readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
      },
      mqtt: { url: broker.url, protocolVersion: 4, reconnectPeriodMs: 100, centralKeys: [testSigningKey().publicFile], ...testBroker.mqtt.login('town-central') },
    });
    gateway = await startGateway(config, { clock, logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } });
    await until(() => latestState() !== undefined, 'the first state');
  });

  afterAll(async () => {
    await gateway?.stop();
    await central?.endAsync(true);
    await testBroker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches central as a critical alarm and an open call in the state', async () => {
    const doorWrites = gateway.hardware.simulated!.outputs.door!.history.length;
    gateway.hardware.simulated!.inputs.helpButton!.set(true);
    await until(() => events().some((e) => e.type === 'alarm' && e.alarm === 'help-requested'), 'the alarm event');
    expect(events().find((e) => e.alarm === 'help-requested')).toMatchObject({ state: 'raised', severity: 'critical', site: 'town-central' });
    await until(() => (latestState()?.help as { requested?: boolean } | undefined)?.requested === true, 'the call in the state');
    expect(latestState()).toMatchObject({ alarms: expect.arrayContaining(['help-requested']), help: { presses: 1, acknowledgedBy: null, acknowledgedAt: null } });
    expect(gateway.hardware.simulated!.outputs.door!.history.length).toBe(doorWrites);
  });

  it("refuses central's acknowledgement without a usable name, naming why, and changes nothing", async () => {
    // Central's own schema would not send it: a hand-made message.
    const reply = await command({ command: 'help-acknowledged', text: 'Sam\tOkafor' }, false);
    expect(reply).toMatchObject({ ok: false, error: 'invalid command: text: must be one line without control characters (who acknowledged)' });
    expect(gateway.gateway.state.help.acknowledgedBy).toBeNull();
  });

  it('takes central\'s help-acknowledged: the state says who and when, the door flashes green and the chirp stops', async () => {
    const reply = await command({ command: 'help-acknowledged', text: 'Sam Okafor' });
    expect(reply).toMatchObject({ ok: true });
    const ackAt = clock.now().toISOString();
    await until(() => (latestState()?.help as { acknowledgedBy?: string } | undefined)?.acknowledgedBy === 'Sam Okafor', 'who acknowledged, in the state');
    expect(latestState()?.help).toEqual({ requested: true, since: expect.any(String), presses: 1, acknowledgedBy: 'Sam Okafor', acknowledgedAt: ackAt });
    await until(() => events().some((e) => e.type === 'staff' && e.action === 'help-acknowledged'), 'the acknowledgement event');
    expect(events().find((e) => e.action === 'help-acknowledged')).toMatchObject({ actor: 'central:sam', text: 'Sam Okafor' });

    const { outputs } = gateway.hardware;
    const green: boolean[] = [];
    const red: boolean[] = [];
    const soundsBefore = gateway.hardware.simulated!.outputs.sounder!.history.length;
    for (let i = 0; i < 8; i += 1) {
      green.push(outputs.ledGreen.active);
      red.push(outputs.ledRed.active);
      clock.advance(250);
    }
    expect(green).toEqual([true, true, false, false, true, true, false, false]);
    expect(red).not.toContain(true);
    clock.advance(30_000);
    expect(gateway.hardware.simulated!.outputs.sounder!.history.slice(soundsBefore).filter((w) => w.active)).toEqual([]);
  });

  it('clears 30 minutes after the acknowledgement, and central sees the alarm cleared', async () => {
    clock.advance(30 * 60_000);
    await until(() => events().some((e) => e.alarm === 'help-requested' && e.state === 'cleared'), 'the cleared alarm');
    expect(events().filter((e) => e.alarm === 'help-requested').at(-1)).toMatchObject({ state: 'cleared', detail: 'cleared 30 min after Sam Okafor acknowledged' });
    await until(() => (latestState()?.help as { requested?: boolean } | undefined)?.requested === false, 'no call in the state');
  });
});
