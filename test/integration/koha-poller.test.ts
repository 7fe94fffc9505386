// Central polling Koha (a recorded-response fake of its REST API, test/helpers/koha-fake.ts): a patron restricted
// in Koha is refused at an online branch after one poll; a poll makes one version however many pages it walks; a
// token Koha stops taking, and a Koha that fails, are got over; no change makes no version; and where the poller got
// to survives a restart of central; a patron attribute's NFC card UIDs open the door as the patron. Every answer
// the fake gave is checked against Koha's OpenAPI excerpt.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCentral } from '../../central/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import { GENERATED_CSV_HEADER } from '../../scripts/bench/import.js';
import { startKohaFake, type KohaFake } from '../helpers/koha-fake.js';
import { parseMemberFields } from '../../policies/member-list.js';
import { hashCard, startBranch, startTestCentral, tap, tempDir, until } from '../unit/members-sync/helpers.js';

let dir: string;
let koha: KohaFake;
let central: RunningCentral;
let town: RunningGateway;

/** Ten patrons, in the export and in Koha alike: cards 23529000200000…09, registered for open access. */
const PATRONS = Array.from({ length: 10 }, (_, i) => ({ patron_id: 2000 + i, cardnumber: `2352900020000${i}` }));

function kohaConfig(overrides: Record<string, unknown> = {}) {
  return {
    members: {
      koha: { url: koha.url, clientId: koha.clientId, clientSecretFile: join(dir, 'koha.secret'), pollSeconds: 3600, perPage: 4, registeredAttribute: 'OPENACCESS', cardUidsAttribute: 'RFID', failuresBeforeIncident: 3, ...overrides },
    },
  };
}

const version = async (): Promise<number> => (await central.members!.store.current())?.version ?? 0;
const kohaIncidents = async () => (await central.alerts.alerts.incidents.open()).filter((i) => i.alarm === 'lms-feed-failed');

beforeAll(async () => {
  dir = tempDir('koha');
  koha = await startKohaFake();
  for (const p of PATRONS) koha.add(p);
  writeFileSync(join(dir, 'koha.secret'), `${koha.clientSecret}\n`);
  writeFileSync(join(dir, 'export.csv'), `${GENERATED_CSV_HEADER}\n${PATRONS.map((p) => `${p.cardnumber},1980-05-01,2099-12-31,N,,Y,N,`).join('\n')}\n`);
  central = await startTestCentral(dir, { config: kohaConfig() });
  await central.members!.importFile(join(dir, 'export.csv'));
  town = await startBranch(dir, 'town', central);
  await until(() => town.store.members.stats().version === 1, 'town to apply the export');
  // The poll central makes as it starts: from now on, the export is the list until then.
  await central.koha!.poll();
});

afterEach(() => {
  expect(koha.schemaErrors).toEqual([]);
});

afterAll(async () => {
  await town?.stop();
  await central?.close();
  await koha?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Koha poller', () => {
  it('refuses at the branch, after one poll, a patron restricted in Koha', async () => {
    expect(tap(town, PATRONS[0]!.cardnumber)).toMatchObject({ decision: 'granted' });
    koha.update(PATRONS[0]!.patron_id, { restricted: true });
    const before = (await version());
    const result = await central.koha!.poll();
    expect(result).toMatchObject({ changes: 1, version: before + 1 });
    await until(() => town.store.members.stats().version === before + 1, 'town to apply the version');
    expect(tap(town, PATRONS[0]!.cardnumber)).toMatchObject({ reason: 'blocked' });
    expect(tap(town, PATRONS[1]!.cardnumber)).toMatchObject({ decision: 'granted' });
    expect((await central.members!.store.current())).toMatchObject({ source: 'koha:poll', changed: 1, added: 0, removed: 0 });
  });

  it('makes one version of changes spread over three pages', async () => {
    const before = (await version());
    const asked = koha.requests.length;
    for (const p of PATRONS.slice(1, 10)) koha.update(p.patron_id, { patron_card_lost: true });
    const result = await central.koha!.poll();
    expect(result).toMatchObject({ changes: 9, version: before + 1 });
    const pages = koha.requests.slice(asked).filter((r) => r.path === '/api/v1/patrons');
    expect(pages.map((r) => r.query.get('_page'))).toEqual(['1', '2', '3']);
    await until(() => town.store.members.stats().version === before + 1, 'town to apply the version');
    // A card reported lost in Koha no longer opens the door.
    expect(tap(town, PATRONS[9]!.cardnumber)).toMatchObject({ reason: 'blocked' });
    // Found again: the next poll lets them in.
    koha.update(PATRONS[9]!.patron_id, { patron_card_lost: false });
    await central.koha!.poll();
    await until(() => town.store.members.stats().version === before + 2, 'town to apply the next version');
    expect(tap(town, PATRONS[9]!.cardnumber)).toMatchObject({ decision: 'granted' });
  });

  it('makes no version when nothing changed in Koha (the overlap asked again changes nothing)', async () => {
    const before = (await version());
    expect(await central.koha!.poll()).toMatchObject({ changes: 0, version: null });
    // A change Koha records that the door does not care about (an address) makes none either.
    koha.update(PATRONS[1]!.patron_id, { address: '2 Library Lane' });
    expect(await central.koha!.poll()).toMatchObject({ changes: 1, version: null });
    expect((await version())).toBe(before);
  });

  it('takes a new token when Koha stops taking the old one', async () => {
    koha.revokeTokens();
    const asked = koha.requests.length;
    koha.update(PATRONS[2]!.patron_id, { patron_card_lost: false });
    expect(await central.koha!.poll()).toMatchObject({ changes: 1 });
    const seen = koha.requests.slice(asked).map((r) => `${r.path} ${r.status}`);
    expect(seen.slice(0, 3)).toEqual(['/api/v1/patrons 401', '/api/v1/oauth/token 200', '/api/v1/patrons 200']);
    expect(seen.slice(3).every((r) => r === '/api/v1/patrons 200')).toBe(true);
  });

  it('raises lms-feed-failed after three failed polls, changes nothing meanwhile, and clears it when Koha answers', async () => {
    const before = (await version());
    // Lifted in Koha while Koha's API fails.
    koha.update(PATRONS[0]!.patron_id, { restricted: false });
    koha.failNext(1, 'http-500');
    koha.failNext(1, 'not-json');
    koha.failNext(1, 'not-a-patron');
    await expect(central.koha!.poll()).rejects.toThrow(/HTTP 500 listing patrons/);
    await expect(central.koha!.poll()).rejects.toThrow(/not JSON/);
    expect(await kohaIncidents()).toEqual([]);
    await expect(central.koha!.poll()).rejects.toThrow(/does not match Koha's patron definition: \[0\]\.patron_id/);
    expect(await kohaIncidents()).toEqual([expect.objectContaining({ site: '(central)', severity: 'major', detail: expect.stringMatching(/^3 polls of Koha failed in a row/) })]);
    expect((await version())).toBe(before);
    // The change made while Koha failed is not lost: the mark did not move.
    expect(await central.koha!.poll()).toMatchObject({ changes: 1, version: before + 1 });
    expect(await kohaIncidents()).toEqual([]);
  });

  it('lets a patron in with the NFC cards of their RFID attribute, stops a card the attribute drops, and never gives one card to two patrons', async () => {
    const [uidA, uidB] = ['04A21B7C3D5E80', '0A0B0C0D'];
    const attributes = (...uids: string[]) => [{ extended_attribute_id: 501, type: 'OPENACCESS', value: '1' }, ...uids.map((value, i) => ({ extended_attribute_id: 600 + i, type: 'RFID', value }))];
    // Patron 5's card was reported lost above and is found again.
    koha.update(PATRONS[5]!.patron_id, { patron_card_lost: false, extended_attributes: attributes('04:a2:1b:7c:3d:5e:80', uidB) });
    let before = (await version());
    await central.koha!.poll();
    await until(() => town.store.members.stats().version === before + 1, 'town to apply the cards');
    expect([tap(town, uidA), tap(town, uidB), tap(town, PATRONS[5]!.cardnumber)]).toEqual(Array(3).fill({ decision: 'granted', reason: 'member' }));

    // Another patron given the same card in Koha is left as they were: the card still opens as its patron only.
    koha.update(PATRONS[6]!.patron_id, { restricted: true, extended_attributes: attributes(uidA) });
    expect(await central.koha!.poll()).toMatchObject({ changes: 1, version: null });
    expect((await central.members!.store.credentials(hashCard(uidA))).member).toEqual(hashCard(PATRONS[5]!.cardnumber));
    expect(tap(town, uidA)).toMatchObject({ decision: 'granted' });

    koha.update(PATRONS[5]!.patron_id, { extended_attributes: attributes(uidB) });
    before = (await version());
    await central.koha!.poll();
    await until(() => town.store.members.stats().version === before + 1, 'town to apply the dropped card');
    expect(tap(town, uidA)).toEqual({ decision: 'refused', reason: 'unknown-card' });
    expect(tap(town, uidB)).toMatchObject({ decision: 'granted' });
  });

  it('goes on, after a restart of central, from where it got to', async () => {
    await central.close();
    // Restricted while central was down, more than the overlap before it starts again.
    koha.update(PATRONS[4]!.patron_id, { restricted: true });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    central = await startTestCentral(dir, { config: kohaConfig({ overlapSeconds: 0 }) });
    // The poll central makes as it starts, then one more: neither starts from now.
    await central.koha!.poll();
    const fields = (await central.members!.store.fields(hashCard(PATRONS[4]!.cardnumber)));
    expect(fields === undefined ? undefined : parseMemberFields(fields)).toMatchObject({ blocked: true });
    expect((await central.members!.store.current())).toMatchObject({ source: 'koha:poll' });
  });

  it('refuses to start with a missing secret file, naming the field', async () => {
    const other = tempDir('koha-bad');
    try {
      await expect(startTestCentral(other, { config: kohaConfig({ clientSecretFile: join(other, 'nope') }) })).rejects.toThrow(/members\.koha\.clientSecretFile \(.*nope\): cannot read: ENOENT/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
