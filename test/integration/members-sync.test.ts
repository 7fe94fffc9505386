// The member list from central's LMS import to real gateways over the embedded broker: a new branch gets a
// snapshot in chunks, a block at central arrives as a delta and refuses the card, a damaged chunk is refused and
// asked for again, a list made with another deployment key is refused, and a transfer cut short or an apply that
// fails midway leaves the previous version in force and finishes on the next start.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCentral } from '../../central/main.js';
import type { RunningGateway } from '../../gateway/main.js';
import type { MembersChunk } from '../../policies/contract/index.js';
import { generateMembersCsv } from '../../scripts/bench/import.js';
import { OTHER_KEY_HEX, startBranch, startTestCentral, tap, tempDir, until } from '../unit/members-sync/helpers.js';
import { centralHeaders } from '../helpers/central-auth.js';

let dir: string;
let central: RunningCentral;
let cards: { valid: string[]; other: string[] };
const running: RunningGateway[] = [];
/** What the test hook does to each chunk before central sends it; records what was sent to whom. */
let spoil: ((chunk: MembersChunk, site: string) => MembersChunk | null) | null = null;
const sent: Array<{ site: string; index: number; kind: string; version: number }> = [];

async function branch(site: string, options: Parameters<typeof startBranch>[3] = {}): Promise<RunningGateway> {
  const gw = await startBranch(dir, site, central, options);
  running.push(gw);
  return gw;
}

async function stopBranch(gw: RunningGateway): Promise<void> {
  await gw.stop();
  running.splice(running.indexOf(gw), 1);
}

const members = () => central.members!;
const current = async () => (await members().store.current())!;
const inSync = async (gw: RunningGateway) => gw.store.members.stats().version === (await current()).version && gw.store.members.stats().hash === (await current()).hash;

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL(path, central.httpUrl), { ...init, headers: { ...(init.headers as Record<string, string>), ...(await centralHeaders(central)) } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  dir = tempDir('members-sync');
  central = await startTestCentral(dir, {
    // Small chunks, so a 600-member list travels as a dozen of them; everyone on it, as the counts below say.
    config: { members: { chunkSize: 50, branchList: 'everyone' } },
    hooks: {
      chunk: (chunk, site) => {
        sent.push({ site, index: chunk.index, kind: chunk.kind, version: chunk.version });
        return spoil ? spoil(chunk, site) : chunk;
      },
    },
  });
  const generated = await generateMembersCsv(join(dir, 'export.csv'), 600, 7, { keepCards: 40 });
  cards = generated.cards;
  const summary = await members().importFile(join(dir, 'export.csv'));
  expect(summary).toMatchObject({ created: true, version: 1, added: 600, rejectedCount: 0 });
});

afterAll(async () => {
  for (const gw of running.splice(0)) await gw.stop();
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('member list from central to the branches', () => {
  let town: RunningGateway;

  it('gives a new branch a snapshot in chunks; it applies it and decides from it', async () => {
    town = await branch('town');
    await until(() => inSync(town), 'town to hold version 1');
    const status = town.memberSync!.status();
    expect(status.lastApply).toMatchObject({ kind: 'snapshot', version: 1, count: 600, added: 600 });
    expect(sent.filter((s) => s.site === 'town').length).toBe(12);
    // The same list hash on both sides, computed by one implementation (policies/member-list.ts).
    expect(town.store.members.stats()).toMatchObject({ count: 600, version: 1, source: 'central', hash: (await current()).hash });
    expect(tap(town, cards.valid[0]!).decision).toBe('granted');
    expect(tap(town, cards.valid[1]!).decision).toBe('granted');
    // The state says which version is in force, and central's dashboard API says the branch is current.
    expect(town.gateway.state.memberList).toMatchObject({ version: 1, count: 600 });
    await until(async () => ((await api('/api/members')).body.sites as Array<{ site: string; status: string }>).some((s) => s.site === 'town' && s.status === 'current'), 'central to see town current');
    const applied = town.store.events.query({ limit: 5, types: ['members'] });
    expect(applied[0]?.data).toMatchObject({ result: 'applied', version: 1, count: 600 });
  });

  it('refuses a card blocked at central within seconds: a new version, pulled as a delta', async () => {
    const card = cards.valid[0]!;
    const response = await api('/api/members', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cardNumber: card, blocked: true }),
    });
    expect(response).toMatchObject({ status: 200, body: { changed: true, version: 2, count: 600 } });
    await until(() => town.store.members.stats().version === 2, 'town to apply version 2');
    expect(town.memberSync!.status().lastApply).toMatchObject({ kind: 'delta', version: 2, changed: 1, added: 0, removed: 0 });
    expect(sent.filter((s) => s.site === 'town' && s.version === 2).map((s) => s.kind)).toEqual(['delta']);
    expect(town.store.members.stats().hash).toBe((await current()).hash);
    expect(tap(town, card)).toEqual({ decision: 'refused', reason: 'blocked' });
    expect(tap(town, cards.valid[1]!).decision).toBe('granted');
    // The card number is in neither database: central keeps its HMAC only, and the branch never saw it.
    for (const file of ['central.sqlite', 'central.sqlite-wal', 'town.sqlite', 'town.sqlite-wal']) {
      const bytes = existsSync(join(dir, file)) ? readFileSync(join(dir, file)) : Buffer.alloc(0);
      expect(bytes.includes(Buffer.from(card)), file).toBe(false);
    }
    const unknown = await api('/api/members', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cardNumber: '21999999999999', blocked: true }) });
    expect(unknown.status).toBe(404);
  });

  it('refuses a damaged chunk and asks for it again', async () => {
    let damaged = 0;
    spoil = (chunk, site) => {
      if (site !== 'village' || chunk.index !== 3 || damaged > 0) return chunk;
      damaged++;
      // One member's block flag flipped on the way: the chunk no longer matches its hash.
      const entries = [...chunk.entries];
      entries[0] = entries[0]!.replace(/^([^\t]+\t[^\t]*\t)([01])/, (_m, head: string, bit: string) => `${head}${bit === '1' ? '0' : '1'}`);
      return { ...chunk, entries };
    };
    try {
      const village = await branch('village');
      await until(() => inSync(village), 'village to hold the current version');
      expect(damaged).toBe(1);
      const status = village.memberSync!.status();
      expect(status.corruptChunks).toBe(1);
      expect(status.lastApply).toMatchObject({ kind: 'snapshot', count: 600 });
      expect(sent.filter((s) => s.site === 'village' && s.index === 3)).toHaveLength(2);
      expect(tap(village, cards.valid[0]!)).toEqual({ decision: 'refused', reason: 'blocked' });
    } finally {
      spoil = null;
    }
  });

  it('refuses a list made with another deployment key, and never asks for it', async () => {
    const hamlet = await branch('hamlet', { keyHex: OTHER_KEY_HEX });
    await until(() => hamlet.store.events.query({ limit: 5, types: ['members'] }).length > 0, 'hamlet to report the refusal');
    const refused = hamlet.store.events.query({ limit: 1, types: ['members'] })[0]!.data;
    expect(refused).toMatchObject({ result: 'refused', version: (await current()).version });
    expect(String(refused.error)).toMatch(/another deployment key/);
    expect(hamlet.store.members.stats().version).toBeNull();
    expect(hamlet.memberSync!.status().requests).toBe(0);
    expect(members().publisher.transfers().has('hamlet')).toBe(false);
    await stopBranch(hamlet);
  });

  it('resumes a transfer cut short by a restart, and keeps the previous version in force when an apply fails midway', async () => {
    // Central sends only the first five chunks to this branch: the transfer stops there.
    spoil = (chunk, site) => (site === 'outpost' && chunk.index >= 5 ? null : chunk);
    let outpost = await branch('outpost');
    await until(() => outpost.memberSync!.status().transfer?.received === 5, 'five chunks staged');
    await stopBranch(outpost);
    spoil = null;
    const before = sent.length;
    outpost = await branch('outpost');
    await until(() => inSync(outpost), 'outpost to finish the transfer');
    const resent = sent.slice(before).filter((s) => s.site === 'outpost');
    expect(Math.min(...resent.map((s) => s.index))).toBe(5);
    expect(resent).toHaveLength(7);

    // A new version at central while the branch is away; the branch's first apply of it fails before commit.
    const previous = outpost.store.members.stats();
    await stopBranch(outpost);
    const card = cards.valid[1]!;
    await members().change(card, { blocked: true }, 'test');
    let failures = 0;
    outpost = await branch('outpost', {
      hooks: {
        beforeCommit: () => {
          failures++;
          throw new Error('simulated power cut during the member-list swap');
        },
      },
    });
    await until(() => failures === 1, 'the apply to fail');
    const staged = outpost.memberSync!.status();
    expect(staged.transfer).toMatchObject({ version: (await current()).version, received: staged.transfer!.total });
    expect(staged.lastError).toMatch(/simulated power cut/);
    // The previous version is still in force and decides.
    expect(outpost.store.members.stats()).toEqual(previous);
    expect(tap(outpost, card).decision).toBe('granted');
    await stopBranch(outpost);

    const again = await branch('outpost');
    await until(() => inSync(again), 'the next start to finish the apply');
    expect(again.memberSync!.status()).toMatchObject({ requests: 0, applied: 1 });
    expect(tap(again, card)).toEqual({ decision: 'refused', reason: 'blocked' });
  });
});
