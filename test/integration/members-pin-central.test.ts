// An open-access PIN set through central's API (a library website's token) reaches a branch with the member's row,
// and opens the door there with the card; the PIN is in no log, audit row or answer.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCentral } from '../../central/main.js';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import { parseMemberFields } from '../../policies/member-list.js';
import { GENERATED_CSV_HEADER, generateMembersCsv } from '../../scripts/bench/import.js';
import { addMqttUser, mqttPasswordFileIn } from '../helpers/mqtt-credentials.js';
import { testSigningKey } from '../helpers/signing-keys.js';
import { stopBranchAndCentral } from '../helpers/branch-and-central.js';
import { TEST_KEY_HEX, alwaysOpen, branchConfig, startTestCentral, tempDir, until } from '../unit/members-sync/helpers.js';

let dir: string;
let central: RunningCentral;
let branch: RunningGateway;
let card: string;
let websiteToken: string;

async function putPin(body: unknown, token = websiteToken): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL('/api/members/pin', central.httpUrl), {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Taps the card, types `pin` at the keypad, and waits for the PIN's decision. */
async function cardAndPin(pin: string): Promise<string[]> {
  const before = branch.store.events.query({ limit: 1000, types: ['access'] }).length;
  branch.hardware.simulated!.reader!.tap(card);
  branch.hardware.simulated!.keypad!.enter(pin);
  await branch.gateway.access.pinChecksDone();
  const rows = branch.store.events.query({ limit: 1000, types: ['access'] });
  return rows.slice(0, rows.length - before).map((e) => String(e.reason)).reverse();
}

beforeAll(async () => {
  dir = tempDir('members-pin');
  central = await startTestCentral(dir);
  const generated = await generateMembersCsv(join(dir, 'export.csv'), 50, 5, { keepCards: 10 });
  await central.members!.importFile(join(dir, 'export.csv'));
  websiteToken = (await central.auth.tokens.create({ name: 'website', role: 'operator', expiresDays: 1 }, 'test')).token;
  const login = await addMqttUser(mqttPasswordFileIn(dir), 'town');
  const config = branchConfig(
    dir,
    'town',
    { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, reconnectPeriodMs: 100, ...login, centralKeys: [testSigningKey().publicFile] },
    { hardware: { gpio: { driver: 'simulated' }, inputs: { doorContact: { debounceMs: 0 } }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }], keypad: { driver: 'simulated' } } },
  );
  const policy = alwaysOpen('town');
  writeFileSync(config.policyFile, stringify({ ...policy, rules: { ...(policy.rules as object), pin: 'open-access' } }));
  branch = await startGateway(config, { logger: pino({ level: 'silent' }), env: { OAG_DEPLOYMENT_KEY: TEST_KEY_HEX } });
  await until(() => branch.store.members.stats().version === 1, 'the branch to apply the export');
  // A member the branch lets in on a card alone but for the PIN rule.
  card = generated.cards.valid.find((c) => {
    branch.hardware.simulated!.reader!.tap(c);
    return branch.store.events.query({ limit: 1, types: ['access'] })[0]?.reason === 'not-registered';
  })!;
  expect(card).toBeDefined();
});

afterAll(() => stopBranchAndCentral({ branch, central, dir }));

describe('an open-access PIN set through central', () => {
  it('reaches the branch with the member row: the card and that PIN open the door, another PIN does not', async () => {
    const version = (await central.members!.store.current())!.version;
    expect(await putPin({ cardNumber: card, pin: '482913' })).toMatchObject({ status: 200, body: { changed: true, version: version + 1, listed: true } });
    await until(() => branch.store.members.stats().version === version + 1, 'the branch to apply the PIN');
    expect(await cardAndPin('111111')).toEqual(['pin-required', 'pin-wrong']);
    expect(await cardAndPin('482913')).toEqual(['pin-required', 'member']);

    const audit = (await central.auth.audit.query({ limit: 1, actor: 'token:website' })).rows[0]!;
    expect(audit).toMatchObject({ action: 'member-change', detail: expect.stringMatching(/^member [0-9a-f]{8}: PIN set; version \d+$/) });
    expect(JSON.stringify((await central.auth.audit.query({ limit: 50 })).rows)).not.toMatch(/482913|scrypt/);
    expect(JSON.stringify(branch.store.events.query({ limit: 1000 }))).not.toMatch(/482913|scrypt/);
  });

  it('keeps the PIN when the library system sends the member again: a full import, then a delta with a new expiry', async () => {
    const cardHash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'))(normaliseCardId(card));
    const held = async () => parseMemberFields((await central.members!.store.fields(cardHash))!);
    const pinHash = (await held()).pinHash;
    expect(pinHash).toMatch(/^scrypt\$/);

    // The export has no PINs: the same export again is the same list, and no new version.
    const version = (await central.members!.store.current())!.version;
    await central.members!.importFile(join(dir, 'export.csv'));
    expect((await central.members!.store.current())!.version).toBe(version);
    expect((await held()).pinHash).toBe(pinHash);

    await central.members!.applyChanges([{ cardNumber: normaliseCardId(card), row: { ...(await held()), pinHash: null, expires: '2031-01-31' } }], { source: 'delta:test' });
    expect((await held())).toMatchObject({ expires: '2031-01-31', pinHash });
    await until(() => branch.store.members.stats().version === version + 1, 'the branch to apply the delta');
    expect(await cardAndPin('482913')).toEqual(['pin-required', 'member']);
  });

  it('keeps the PIN when a delta file from the library system sends the member again', async () => {
    const cardHash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'))(normaliseCardId(card));
    const held = async () => parseMemberFields((await central.members!.store.fields(cardHash))!);
    const { pinHash, birthDate } = (await held());
    expect(pinHash).toMatch(/^scrypt\$/);
    const version = (await central.members!.store.current())!.version;
    const file = join(dir, 'changes.delta.csv');
    writeFileSync(file, `${GENERATED_CSV_HEADER},deleted\n${card},${birthDate ?? ''},2032-01-31,N,,Y,N,,N\n`);
    await central.members!.importDeltaFile(file);
    expect((await held())).toMatchObject({ expires: '2032-01-31', pinHash });
    await until(() => branch.store.members.stats().version === version + 1, 'the branch to apply the delta file');
    expect(await cardAndPin('482913')).toEqual(['pin-required', 'member']);
  });

  it('refuses a malformed PIN or card with the field named, an unknown card with 404, a viewer with 403; nothing changes', async () => {
    const version = (await central.members!.store.current())!.version;
    expect(await putPin({ cardNumber: card, pin: '12a4' })).toMatchObject({ status: 400, body: { errors: ['pin: must be 4 to 8 digits'] } });
    expect(await putPin({ cardNumber: card, pin: '123' })).toMatchObject({ status: 400, body: { errors: ['pin: must be 4 to 8 digits'] } });
    expect(await putPin({ cardNumber: '12!', pin: '1234' })).toMatchObject({ status: 400, body: { message: 'cardNumber: card number has characters other than letters and digits' } });
    expect((await putPin({ cardNumber: '21999999999999', pin: '1234' })).status).toBe(404);
    const viewer = (await central.auth.tokens.create({ name: 'kiosk', role: 'viewer', expiresDays: 1 }, 'test')).token;
    expect((await putPin({ cardNumber: card, pin: '1234' }, viewer)).status).toBe(403);
    expect((await central.members!.store.current())!.version).toBe(version);
  });
});
