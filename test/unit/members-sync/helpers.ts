// Shared by the member-list tests: a central with its embedded broker and a deployment key, real gateways pointed
// at it, a generated LMS export, and small waits.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { parseCentralConfig, startCentral } from '../../../central/main.js';
import type { CentralConfigInput, RunningCentral } from '../../../central/main.js';
import type { MemberStore } from '../../../central/members/member-store.js';
import { SqliteMemberStore, SqliteMemberTables } from '../../../central/members/sqlite-member-store.js';
import type { PublisherHooks } from '../../../central/members/publisher.js';
import { parseGatewayConfig } from '../../../gateway/config.js';
import type { GatewayConfigInput } from '../../../gateway/config.js';
import { startGateway } from '../../../gateway/main.js';
import type { RunningGateway } from '../../../gateway/main.js';
import type { MemberSyncHooks } from '../../../gateway/members/sync.js';
import { createCardHasher, normaliseCardId } from '../../../policies/cards.js';
import { digestOfParts, memberFieldsText } from '../../../policies/member-list.js';
import type { MemberRecord } from '../../../policies/member-list.js';
import type { Member } from '../../../policies/types.js';
import { TEST_KEY_HEX } from '../../helpers/gateway-harness.js';
import { testSigningKey } from '../../helpers/signing-keys.js';
import { addMqttUser, mqttPasswordFileIn } from '../../helpers/mqtt-credentials.js';

export { TEST_KEY_HEX };
export const OTHER_KEY_HEX = 'a1'.repeat(32);
export const hashCard = (card: string, keyHex = TEST_KEY_HEX): Buffer => createCardHasher(Buffer.from(keyHex, 'hex'))(normaliseCardId(card));

const town = parse(readFileSync(new URL('../../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
/** The town policy, open access all day every day, for any site. */
export function alwaysOpen(site: string): Record<string, unknown> {
  return {
    ...town,
    site,
    schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
  };
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `oag-${name}-`));
}

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function startTestCentral(
  dir: string,
  options: { config?: Partial<CentralConfigInput>; hooks?: PublisherHooks; keyHex?: string } = {},
): Promise<RunningCentral> {
  // Each branch adds its own login as it starts (startBranch).
  const passwordFile = mqttPasswordFileIn(dir);
  return startCentral(
    parseCentralConfig({
      signing: { keyFile: testSigningKey().privateFile },
      embedded: { port: 0, passwordFile },
      http: { port: 0 },
      store: { path: join(dir, 'central.sqlite') },
      log: { level: 'silent' },
      ...options.config,
    }),
    {
      clock: { now: () => new Date() },
      logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      env: { OAG_DEPLOYMENT_KEY: options.keyHex ?? TEST_KEY_HEX },
      ...(options.hooks ? { membersHooks: options.hooks } : {}),
    },
  );
}

export function branchConfig(dir: string, site: string, mqtt: GatewayConfigInput['mqtt'], extra: Partial<GatewayConfigInput> = {}) {
  writeFileSync(join(dir, `${site}.policy.yaml`), stringify(alwaysOpen(site)));
  return parseGatewayConfig({
    site,
    policyFile: join(dir, `${site}.policy.yaml`),
    store: { path: join(dir, `${site}.sqlite`) },
    clock: { trust: 'trusted' },
    // Every tap decided on its own (the same card is tapped again after a change).
    taps: { repeatWindowMs: 0 },
    http: { enabled: false },
    log: { level: 'silent' },
    hardware: { gpio: { driver: 'simulated' }, inputs: { doorContact: { debounceMs: 0 } }, readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }] },
    mqtt,
    ...extra,
  });
}

export async function startBranch(
  dir: string,
  site: string,
  central: RunningCentral,
  options: { keyHex?: string; hooks?: MemberSyncHooks; members?: GatewayConfigInput['members'] } = {},
): Promise<RunningGateway> {
  const login = await addMqttUser(mqttPasswordFileIn(dir), site);
  const config = branchConfig(
    dir,
    site,
    { url: central.brokerUrl, protocolVersion: central.mqttProtocolVersion, reconnectPeriodMs: 100, ...login, centralKeys: [testSigningKey().publicFile] },
    options.members ? { members: options.members } : {},
  );
  return startGateway(config, {
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
    env: { OAG_DEPLOYMENT_KEY: options.keyHex ?? TEST_KEY_HEX },
    ...(options.hooks ? { memberSyncHooks: options.hooks } : {}),
  });
}

/** Taps a card at the branch's entry reader; the access event's decision and reason. */
export function tap(branch: RunningGateway, card: string): { decision: unknown; reason: unknown } {
  branch.hardware.simulated!.reader!.tap(card);
  const event = branch.store.events.query({ limit: 1, types: ['access'] })[0];
  return { decision: event?.data.decision, reason: event?.reason };
}


export function member(overrides: Partial<Member> = {}): Member {
  return {
    expires: '2027-03-31',
    blocked: false,
    blockedUntil: null,
    openAccess: true,
    birthDate: '1980-05-01',
    adult: null,
    staff: false,
    groups: [],
    pinHash: null,
    ...overrides,
  };
}

/** Members numbered from `from`: card `2100000000{n}` with the given fields. */
export function records(n: number, from = 0, overrides: (i: number) => Partial<Member> = () => ({})): MemberRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { cardHash: hashCard(`21${String(i).padStart(12, '0')}`), ...member(overrides(i)) };
  });
}

/** Makes `rows` the current list at central as one import would (a new version unless nothing changed). */
export function importRecords(store: SqliteMemberTables | MemberStore, rows: readonly MemberRecord[], keyId: string, keepVersions = 50): number | null {
  if (!(store instanceof SqliteMemberTables) && !(store instanceof SqliteMemberStore)) throw new Error('importRecords stages on SQLite');
  const staging = (store instanceof SqliteMemberStore ? store.tables : store).beginImport();
  try {
    rows.forEach((r, i) => {
      const fields = memberFieldsText(r);
      staging.add(r.cardHash, fields, digestOfParts(r.cardHash, fields), i + 2);
    });
    staging.finish(() => {
      throw new Error('duplicate in test data');
    });
    return staging.commit({ keyId, source: 'test', at: new Date('2026-03-02T10:00:00Z'), keepVersions }).version?.version ?? null;
  } finally {
    staging.dispose();
  }
}
