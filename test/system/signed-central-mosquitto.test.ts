// Issue #13's "even if the broker is open or compromised": Debian's mosquitto with TLS, passwords and the per-site
// ACL, and an attacker holding central's own MQTT login (a leaked password, or a broker that is not ours), so the
// broker carries whatever it sends, wherever it sends it. Real gateways (central's public key from install) and a real
// central. Every forged, replayed or wrongly signed command, policy and member-list announcement is refused by the
// branch, and the door relay, the policy in force and the member list stay as they were. Then a key rollover.
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCentralConfig, startCentral, type RunningCentral } from '../../central/main.js';
import type { Clock } from '../../gateway/core/clock.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { COMMAND_MAX_AGE_MS, CommandSchema, membersCurrentTopic, topics, type CommandName } from '../../policies/contract/index.js';
import { generateMembersCsv } from '../../scripts/bench/import.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { startMosquitto, type RunningMosquitto } from '../helpers/mosquitto.js';
import { signedJson, testSigningKey, type TestSigningKey } from '../helpers/signing-keys.js';
import { TEST_KEY_HEX, alwaysOpen, branchConfig, hashCard, tap, tempDir, until } from '../unit/members-sync/helpers.js';

const PREFIX = 'oa/v1';
const CENTRAL_PASSWORD = 'central-pw';
const central = testSigningKey();
const attackerKey = testSigningKey('attacker');
const oldKey = testSigningKey('old');
const newKey = testSigningKey('new');

let broker: RunningMosquitto;
let centralService: RunningCentral;
let dir: string;
let attacker: MqttClient;
const received: Array<{ topic: string; payload: Buffer; correlation: string | undefined }> = [];
const gateways: RunningGateway[] = [];

/** A branch and what it logged (pino's JSON lines): refusals are logged, and that is what a test waits for. */
interface Branch {
  site: string;
  gw: RunningGateway;
  lines: string[];
  /** How far the branch's clock is ahead of real time: a recorded command replayed "later" without waiting. */
  clockAheadMs: number;
}

function tlsOptions(username: string, password: string, clientId: string): IClientOptions {
  const { ca, clientCert, clientKey } = broker.certs;
  return { protocolVersion: 5, username, password, clientId, ca: readFileSync(ca), cert: readFileSync(clientCert), key: readFileSync(clientKey), reconnectPeriod: 0 };
}

function capturingLogger(lines: string[]): Logger {
  return pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
}

async function startBranch(site: string, keys: readonly TestSigningKey[]): Promise<Branch> {
  const branch: Branch = { site, gw: undefined as unknown as RunningGateway, lines: [], clockAheadMs: 0 };
  const clock: Clock = {
    now: () => new Date(Date.now() + branch.clockAheadMs),
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout> | undefined),
  };
  const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
  const config = branchConfig(dir, site, { url: broker.url, username: site, password: `${site}-pw`, tls, reconnectPeriodMs: 200, centralKeys: keys.map((k) => k.publicFile) });
  const statesBefore = received.filter((m) => m.topic === topics(PREFIX, site).state).length;
  branch.gw = await startGateway(config, { logger: capturingLogger(branch.lines), clock, env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } });
  gateways.push(branch.gw);
  // The uplink subscribes before it publishes its state on the same connection: once the state is here, so is it.
  await until(() => received.filter((m) => m.topic === topics(PREFIX, site).state).length > statesBefore, `${site}'s state at the broker`);
  return branch;
}

/** The number of times the door relay left its safe (locked) level: every release, by a card or a command. */
function releases(branch: Branch): number {
  const history = branch.gw.hardware.simulated!.outputs.door!.history;
  const safe = history[0]!.active;
  return history.filter((w, i) => w.active !== safe && history[i - 1]?.active === safe).length;
}

/** Waits for a log line of `branch` whose message contains every one of `parts`, logged after `from` lines. */
async function logged(branch: Branch, from: number, ...parts: string[]): Promise<void> {
  const messages = (): string[] => branch.lines.slice(from).map((l) => (JSON.parse(l) as { msg: string }).msg);
  await until(() => messages().some((m) => parts.every((p) => m.includes(p))), `${branch.site} to log "${parts.join(' … ')}"; it logged:\n${messages().join('\n')}`);
}

let correlations = 0;
/** Publishes `payload` on `site`'s command topic as the attacker, and returns the branch's reply to it. */
async function sendCommand(site: string, payload: Buffer | string): Promise<{ ok: boolean; error?: string; id?: string }> {
  const t = topics(PREFIX, site);
  const correlation = `attacker-${++correlations}`;
  await attacker.publishAsync(t.command, payload, { qos: 1, properties: { responseTopic: t.commandReply, correlationData: Buffer.from(correlation) } });
  let reply: (typeof received)[number] | undefined;
  await until(() => (reply = received.find((m) => m.topic === t.commandReply && m.correlation === correlation)) !== undefined, `${site}'s reply to ${correlation}`);
  return JSON.parse(reply!.payload.toString()) as { ok: boolean; error?: string; id?: string };
}

/** A command as central makes it, fresh by real time, before any signature. */
function command(name: CommandName): Record<string, unknown> {
  return CommandSchema.parse({ id: randomUUID(), at: new Date().toISOString(), command: name, actor: 'central-team' }) as Record<string, unknown>;
}

function signedCommand(site: string, name: CommandName, key: TestSigningKey): Buffer {
  return signedJson(topics(PREFIX, site).command, command(name), key);
}

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${centralService.httpUrl}/api${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>), ...(await centralHeaders(centralService)) },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function lastOn(topic: string): Buffer {
  const message = received.findLast((m) => m.topic === topic && m.payload.length > 0);
  if (message === undefined) throw new Error(`nothing seen on ${topic}`);
  return message.payload;
}

let town: Branch;
/** Cards on central's list: one that is not staff, and one central will block. */
let member: string;
let toBlock: string;

beforeAll(async () => {
  dir = tempDir('signed-central-mosquitto');
  broker = await startMosquitto({
    users: { central: CENTRAL_PASSWORD, town: 'town-pw', east: 'east-pw', west: 'west-pw' },
    centralUser: 'central',
  });
  const tls = { ca: broker.certs.ca, cert: broker.certs.clientCert, key: broker.certs.clientKey };
  centralService = await startCentral(
    parseCentralConfig({
      signing: { keyFile: central.privateFile },
      broker: { url: broker.url, username: 'central', password: CENTRAL_PASSWORD, tls, clientId: 'oag-central-signed-test' },
      http: { port: 0 },
      store: { path: join(dir, 'central.sqlite') },
      members: { chunkSize: 100, branchList: 'everyone' },
      commandTimeoutMs: 10_000,
      log: { level: 'silent' },
    }),
    { clock: { now: () => new Date() }, logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } },
  );
  const generated = await generateMembersCsv(join(dir, 'export.csv'), 200, 13, { keepCards: 20 });
  await centralService.members!.importFile(join(dir, 'export.csv'));

  // Central's login, another client id: it reads and writes every topic under the prefix, retained ones included.
  attacker = connect(broker.url, tlsOptions('central', CENTRAL_PASSWORD, 'attacker'));
  attacker.on('message', (topic, payload, packet) => received.push({ topic, payload, correlation: packet.properties?.correlationData?.toString() }));
  await until(() => attacker.connected, 'the attacker connected');
  await attacker.subscribeAsync(`${PREFIX}/#`, { qos: 1 });

  town = await startBranch('town', [central]);
  await until(() => town.gw.store.members.stats().version === 1, 'town to apply member list version 1', 30_000);
  const onList = generated.cards.valid.filter((card) => town.gw.store.members.find(hashCard(card))?.staff === false);
  [member, toBlock] = onList as [string, string];
  await until(async () => (await api('/sites/town')).status === 200, 'central to know town');
});

afterAll(async () => {
  attacker?.end(true);
  for (const gw of gateways) await gw.stop();
  await centralService?.close();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a compromised broker cannot open a door: commands', () => {
  it('answers an unsigned unlock "signature: unsigned" and never moves the relay', async () => {
    const before = releases(town);
    const reply = await sendCommand('town', JSON.stringify(command('unlock')));
    expect(reply).toMatchObject({ ok: false, error: 'signature: unsigned' });
    expect(releases(town)).toBe(before);
    expect(town.gw.gateway.door.state).toBe('locked');
  });

  it('refuses an unlock signed with a key the branch does not hold, or signed by central for another branch', async () => {
    const before = releases(town);
    const forged = await sendCommand('town', signedCommand('town', 'unlock', attackerKey));
    expect(forged.ok).toBe(false);
    expect(forged.error).toMatch(new RegExp(`^signature: signed with key ${attackerKey.kid}, which this gateway does not hold`));
    // Central's own signature, but for village's topic: moved to town's, it no longer verifies.
    const moved = await sendCommand('town', signedJson(topics(PREFIX, 'village').command, command('unlock')));
    expect(moved).toMatchObject({ ok: false, error: expect.stringMatching(/^signature: bad signature/) });
    expect(releases(town)).toBe(before);
    expect(town.gw.gateway.door.state).toBe('locked');
  });

  it('runs a recorded genuine unlock once: replayed inside the window it gets the first answer, later it is stale', async () => {
    const before = releases(town);
    const unlock = await api('/sites/town/commands', { method: 'POST', body: JSON.stringify({ command: 'unlock' }) });
    expect(unlock.body).toMatchObject({ ok: true });
    expect(releases(town)).toBe(before + 1);
    const recorded = received.find((m) => m.topic === topics(PREFIX, 'town').command && (JSON.parse(m.payload.toString()) as { id?: unknown }).id === unlock.body.id);
    expect(recorded).toBeDefined();
    expect((await api('/sites/town/commands', { method: 'POST', body: JSON.stringify({ command: 'lock' }) })).body).toMatchObject({ ok: true });
    await until(() => town.gw.gateway.door.state === 'locked', 'the door locked again');

    // The same bytes again at once: the branch answers with the first result and does not run it again.
    const again = await sendCommand('town', recorded!.payload);
    expect(again).toEqual({ v: expect.any(Number), ok: true, id: unlock.body.id });
    expect(releases(town)).toBe(before + 1);
    expect(town.gw.gateway.door.state).toBe('locked');

    // A second past the window on the branch's clock: stale, whatever the signature.
    town.clockAheadMs = COMMAND_MAX_AGE_MS + 1000;
    try {
      const later = await sendCommand('town', recorded!.payload);
      expect(later).toMatchObject({ ok: false, id: unlock.body.id, error: expect.stringMatching(/^stale command: sent 1[01] s ago \(limit 10 s\)/) });
    } finally {
      town.clockAheadMs = 0;
    }
    expect(releases(town)).toBe(before + 1);
    expect(town.gw.gateway.door.state).toBe('locked');
  });
});

describe('a compromised broker cannot change the policy in force', () => {
  it('refuses a forged retained policy, unsigned or signed with another key, and an older genuine one replayed', async () => {
    const policyTopic = topics(PREFIX, 'town').policy;
    const publish = async (body: Record<string, unknown>): Promise<number> => {
      const res = await api('/sites/town/policy', { method: 'PUT', body: JSON.stringify(body) });
      expect(res.status).toBe(202);
      const version = res.body.version as number;
      await until(() => town.gw.gateway.policies.reported.source === 'central' && town.gw.gateway.policies.reported.version === version, `town to apply central's policy version ${version}`);
      await until(() => received.some((m) => m.topic === policyTopic && m.payload.length > 0 && (JSON.parse(m.payload.toString()) as { version?: unknown }).version === version), `version ${version} at the broker`);
      return version;
    };
    const { version: _fileVersion, ...openAllDay } = alwaysOpen('town');
    const first = await publish(openAllDay);
    const genuineFirst = lastOn(policyTopic);
    expect(town.gw.gateway.policies.reported).toEqual({ version: first, source: 'central' });

    // Closed all week, with the highest version a policy may have: it would lock members out and pin the branch.
    const closedForever = { ...openAllDay, version: 2 ** 31 - 1, schedule: { weekly: {} } };
    let from = town.lines.length;
    await attacker.publishAsync(policyTopic, JSON.stringify(closedForever), { qos: 1, retain: true });
    await logged(town, from, 'policy from central refused', 'signature: unsigned');
    expect(town.gw.gateway.policies.reported).toEqual({ version: first, source: 'central' });

    from = town.lines.length;
    await attacker.publishAsync(policyTopic, signedJson(policyTopic, closedForever, attackerKey), { qos: 1, retain: true });
    await logged(town, from, 'policy from central refused', `signed with key ${attackerKey.kid}`);
    expect(town.gw.gateway.policies.reported).toEqual({ version: first, source: 'central' });
    expect(tap(town.gw, member).decision).toBe('granted');

    // Central's next version supersedes; its previous one, recorded and replayed, is refused.
    const second = await publish(openAllDay);
    expect(second).toBe(first + 1);
    from = town.lines.length;
    await attacker.publishAsync(policyTopic, genuineFirst, { qos: 1, retain: true });
    await logged(town, from, 'policy from central refused; the previous policy stays in force');
    expect(town.gw.gateway.policies.reported).toEqual({ version: second, source: 'central' });
  });
});

describe('a compromised broker cannot change the member list', () => {
  it('refuses a forged announcement, unsigned or signed with another key, and never asks for its list', async () => {
    const announcementTopic = membersCurrentTopic(PREFIX);
    const requestTopic = topics(PREFIX, 'town').membersRequest;
    const genuine = JSON.parse(lastOn(announcementTopic).toString()) as Record<string, unknown>;
    expect(genuine).toMatchObject({ version: 1, sig: { kid: central.kid } });
    const requestsBefore = received.filter((m) => m.topic === requestTopic).length;
    // The next version, as if central had made it: the attacker would answer town's request with a list of staff.
    const { sig: _sig, ...unsigned } = genuine;
    const forged = { ...unsigned, version: 2, at: new Date().toISOString() };

    let from = town.lines.length;
    await attacker.publishAsync(announcementTopic, JSON.stringify(forged), { qos: 1, retain: true });
    await logged(town, from, 'member-list announcement refused', 'signature: unsigned');
    from = town.lines.length;
    await attacker.publishAsync(announcementTopic, signedJson(announcementTopic, forged, attackerKey), { qos: 1, retain: true });
    await logged(town, from, 'member-list announcement refused', `signed with key ${attackerKey.kid}`);

    expect(received.filter((m) => m.topic === requestTopic).length).toBe(requestsBefore);
    expect(town.gw.store.members.stats().version).toBe(1);
    expect(town.gw.store.members.find(hashCard(member))?.staff).toBe(false);
    expect(tap(town.gw, '21999999999999')).toMatchObject({ decision: 'refused' });
  });

  it('refuses a genuine announcement of an older version replayed after a newer one', async () => {
    const announcementTopic = membersCurrentTopic(PREFIX);
    const genuineFirst = received.find((m) => m.topic === announcementTopic && (JSON.parse(m.payload.toString()) as { sig?: { kid?: string }; version?: number }).sig?.kid === central.kid)!;
    expect(JSON.parse(genuineFirst.payload.toString())).toMatchObject({ version: 1 });

    await centralService.members!.change(toBlock, { blocked: true }, 'desk');
    await until(() => town.gw.store.members.stats().version === 2, 'town to apply version 2');
    expect(tap(town.gw, toBlock)).toEqual({ decision: 'refused', reason: 'blocked' });

    const from = town.lines.length;
    await attacker.publishAsync(announcementTopic, genuineFirst.payload, { qos: 1, retain: true });
    await logged(town, from, 'member-list announcement refused', 'version 1 is older than 2');
    expect(town.gw.store.members.stats().version).toBe(2);
    expect(tap(town.gw, toBlock)).toEqual({ decision: 'refused', reason: 'blocked' });
  });
});

describe('a key rollover', () => {
  it('a branch holding the old and new keys takes either; one holding only the new refuses the old', async () => {
    const east = await startBranch('east', [oldKey, newKey]);
    const west = await startBranch('west', [newKey]);

    expect(await sendCommand('east', signedCommand('east', 'unlock', newKey))).toMatchObject({ ok: true });
    expect(releases(east)).toBe(1);
    expect(await sendCommand('east', signedCommand('east', 'lock', oldKey))).toMatchObject({ ok: true });
    expect(east.gw.gateway.door.state).toBe('locked');

    const refused = await sendCommand('west', signedCommand('west', 'unlock', oldKey));
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(new RegExp(`^signature: signed with key ${oldKey.kid}, which this gateway does not hold \\(it holds ${newKey.kid}\\)`));
    expect(releases(west)).toBe(0);
    expect(west.gw.gateway.door.state).toBe('locked');
    expect(await sendCommand('west', signedCommand('west', 'unlock', newKey))).toMatchObject({ ok: true });
    expect(releases(west)).toBe(1);
  });
});
