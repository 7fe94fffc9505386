// Central's side of the member list as an operator meets it: `oag central members import` against a running
// central's database (which then announces the version), the API to change one member with its errors, and the
// dashboard's view of which branches are behind.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import type { RunningCentral } from '../../central/main.js';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import type { RunningGateway } from '../../gateway/main.js';
import { fakeMember, generateMembersCsv } from '../../scripts/bench/import.js';
import { runCentralMembersImport } from '../../scripts/commands/central.js';
import { mqttPasswordFileIn } from '../helpers/mqtt-credentials.js';
import { TEST_KEY_HEX, startBranch, startTestCentral, tap, tempDir, until } from '../unit/members-sync/helpers.js';
import { testSigningKey } from '../helpers/signing-keys.js';

let dir: string;
let central: RunningCentral;
let valid: string[];
const branches: RunningGateway[] = [];

type Json = Record<string, unknown>;
/** The member desk's API token (an administrator's): what the audit and the version's source name. */
const desk = new WeakMap<RunningCentral, Promise<string>>();
function deskToken(target: RunningCentral): Promise<string> {
  let token = desk.get(target);
  if (token === undefined) desk.set(target, (token = target.auth.tokens.create({ name: 'desk', role: 'administrator', expiresDays: 1 }, 'test').then((made) => made.token)));
  return token;
}
async function api(path: string, init: RequestInit = {}, target = central): Promise<{ status: number; body: Json }> {
  const response = await fetch(new URL(path, target.httpUrl), { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${await deskToken(target)}` } });
  return { status: response.status, body: (await response.json()) as Json };
}
const patch = (body: unknown, target?: RunningCentral) => api('/api/members', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, target);

beforeAll(async () => {
  dir = tempDir('members-central');
  central = await startTestCentral(dir, { config: { members: { pollSeconds: 1 } } });
  valid = (await generateMembersCsv(join(dir, 'export.csv'), 300, 5, { keepCards: 10 })).cards.valid;
});

afterAll(async () => {
  for (const b of branches) await b.stop();
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('central’s member list', () => {
  it('announces a version that `oag central members import` wrote to its database; branches apply it', async () => {
    writeFileSync(join(dir, 'central.yaml'), `store: { path: ${join(dir, 'central.sqlite')} }\n`);
    writeFileSync(join(dir, 'key.hex'), `${TEST_KEY_HEX}\n`);
    let out = '';
    let err = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
    const code = await runCentralMembersImport(join(dir, 'export.csv'), { config: join(dir, 'central.yaml'), keyFile: join(dir, 'key.hex') }, io);
    expect({ code, err }).toMatchObject({ code: 0 });
    // The generated export has 30 of its 300 members neither registered for open access nor staff.
    expect(out).toMatch(/new version 1, 270 members/);
    expect(out).toMatch(/added\s+270/);
    expect(out).toMatch(/30 members not registered for open access were left off the branches' list, held at central until one registers/);
    await until(() => central.members!.publisher.lastAnnouncement?.version === 1, 'central to announce version 1');
    const town = await startBranch(dir, 'town', central);
    branches.push(town);
    await until(() => town.store.members.stats().version === 1, 'town to apply it');
    expect(tap(town, valid[0]!).decision).toBe('granted');

    // Without a key the command refuses to run; with a file it cannot use it changes nothing.
    vi.stubEnv('OAG_DEPLOYMENT_KEY', '');
    try {
      expect(await runCentralMembersImport(join(dir, 'export.csv'), { config: join(dir, 'central.yaml') }, io)).toBe(2);
    } finally {
      vi.unstubAllEnvs();
    }
    writeFileSync(join(dir, 'cut.csv'), 'card_number,date_of_birth\n');
    expect(await runCentralMembersImport(join(dir, 'cut.csv'), { config: join(dir, 'central.yaml'), keyFile: join(dir, 'key.hex') }, io)).toBe(1);
    expect((await central.members!.store.current())!.version).toBe(1);
  });

  it('shows which branches are behind, and changes one member through the API', async () => {
    const village = await startBranch(dir, 'village', central);
    branches.push(village);
    await until(() => village.store.members.stats().version === 1, 'village to apply version 1');
    await until(async () => (await api('/api/members')).body.behind === 0, 'both branches current at central');
    await village.stop();
    branches.splice(branches.indexOf(village), 1);

    expect(await patch({ cardNumber: valid[1], blocked: true })).toMatchObject({ status: 200, body: { changed: true, version: 2 } });
    expect(await patch({ cardNumber: valid[1], blocked: true })).toMatchObject({ status: 200, body: { changed: false, version: 2 } });
    const town = branches[0]!;
    await until(() => town.store.members.stats().version === 2, 'town to apply version 2');
    await until(async () => {
      const sites = (await api('/api/members')).body.sites as Array<{ site: string; status: string }>;
      return sites.find((s) => s.site === 'town')?.status === 'current';
    }, 'central to see town current');
    const status = (await api('/api/members')).body;
    expect(status).toMatchObject({ enabled: true, current: { version: 2, count: 270, source: 'api:token:desk' }, behind: 1 });
    // The change is the token's, in central's audit, with the member's pseudonym only.
    const audit = (await central.auth.audit.query({ limit: 10, actor: 'token:desk' })).rows.filter((r) => r.action === 'member-change');
    expect(audit.map((r) => r.detail)).toEqual([expect.stringMatching(/^member [0-9a-f]{8}: blocked=true; no change$/), expect.stringMatching(/^member [0-9a-f]{8}: blocked=true; version 2$/)]);
    expect(JSON.stringify(audit)).not.toContain(valid[1]!);
    // Central's own pseudonym: neither a cut of the card hash (the same everywhere) nor the branch's pseudonym.
    const changed = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'))(normaliseCardId(valid[1]!));
    const atCentral = /^member ([0-9a-f]{8})/.exec(String(audit[0]!.detail))?.[1];
    expect([changed.toString('hex', 0, 4), town.gateway.pseudonym(changed)]).not.toContain(atCentral);
    expect(status.sites).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ site: 'town', status: 'current', version: 2, behind: 0 }),
        expect.objectContaining({ site: 'village', status: 'behind', version: 1, behind: 1, online: false }),
      ]),
    );
  });

  it('lets in a member registered at the desk today, and takes them off the list when unregistered', async () => {
    // A member of the export who would get in but for their open-access registration: central holds them off the list.
    const asOf = new Date();
    const index = Array.from({ length: 300 }, (_, i) => i).find((i) => {
      const m = fakeMember(i, 5, asOf);
      return !m.openAccess && !m.blocked && !m.staff && m.expires !== null && m.expires > asOf.toISOString() && m.birthDate !== null && m.birthDate < '2000-01-01';
    })!;
    const card = fakeMember(index, 5, asOf).card.replace(/ /g, '');
    const town = branches[0]!;
    const version = (await central.members!.store.current())!.version;
    expect(tap(town, card)).toEqual({ decision: 'refused', reason: 'unknown-card' });

    expect(await patch({ cardNumber: card, openAccess: true })).toMatchObject({ status: 200, body: { changed: true, version: version + 1, count: 271, listed: true } });
    await until(() => town.store.members.stats().version === version + 1, 'town to apply the registration');
    expect(tap(town, card)).toEqual({ decision: 'granted', reason: 'member' });

    expect(await patch({ cardNumber: card, openAccess: false })).toMatchObject({ status: 200, body: { changed: true, version: version + 2, count: 270, listed: false } });
    await until(() => town.store.members.stats().version === version + 2, 'town to apply the removal');
    expect(tap(town, card)).toEqual({ decision: 'refused', reason: 'unknown-card' });
    // Off the list, a change is still kept at central, for when they register; the branches' list does not move.
    expect(await patch({ cardNumber: card, expires: '2031-01-31' })).toMatchObject({ status: 200, body: { changed: false, version: version + 2, listed: false } });
    const audit = (await central.auth.audit.query({ limit: 1, actor: 'token:desk' })).rows[0]!;
    expect(audit.detail).toMatch(/^member [0-9a-f]{8}: expires=2031-01-31; not on the branches' list$/);
  });

  it('answers a bad change with the field named, and an unknown card with 404', async () => {
    expect(await patch({ cardNumber: valid[2] })).toMatchObject({
      status: 400,
      body: { errors: ['(root): name at least one of blocked, blockedUntil, expires, openAccess, staff'] },
    });
    expect(await patch({ cardNumber: '12!', blocked: true })).toMatchObject({ status: 400, body: { message: 'cardNumber: card number has characters other than letters and digits' } });
    expect(await patch({ cardNumber: valid[2], expires: '31/12/2030' })).toMatchObject({ status: 400, body: { errors: ['expires: must be a date YYYY-MM-DD'] } });
    expect((await patch({ cardNumber: '21999999999999', blocked: true })).status).toBe(404);
  });

  it('runs without member lists when central has no deployment key', async () => {
    const keyless = await startCentral(parseCentralConfig({ embedded: { port: 0, passwordFile: mqttPasswordFileIn(dir) }, http: { port: 0 }, store: { path: ':memory:' }, signing: { keyFile: testSigningKey().privateFile }, log: { level: 'silent' } }), {
      clock: { now: () => new Date() },
      logger: pino({ level: 'silent' }),
      env: {},
    });
    try {
      expect(keyless.members).toBeNull();
      expect(await api('/api/members', undefined, keyless)).toMatchObject({ status: 200, body: { enabled: false, current: null } });
      expect((await patch({ cardNumber: valid[0], blocked: true }, keyless)).status).toBe(503);
    } finally {
      await keyless.close();
    }
  });
});
