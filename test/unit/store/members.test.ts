import { describe, expect, it } from 'vitest';
import { EMPTY_LIST_HASH, MemberListError } from '../../../gateway/store/index.js';
import type { MemberRow } from '../../../gateway/store/index.js';
import { cardHash, member, row, useTempDir } from './helpers.js';

const tmp = useTempDir();
const clock = { now: () => new Date('2026-03-02T09:00:00Z') };

describe('member lookup', () => {
  it('finds a member by the keyed hash of the card, with every field a decision needs', () => {
    const store = tmp.open();
    store.members.replaceAll(
      [
        row('04A21B7C', { groups: ['chess-club', 'scouts-1st-town'], adult: true, staff: true, pinHash: 'scrypt$10$8$1$c2FsdA==$a2V5' }),
        row('21123400012345', { blocked: true, blockedUntil: '2026-04-01', openAccess: false, birthDate: null, adult: false, expires: null }),
      ],
      { source: 'test' },
    );
    expect(store.members.find(cardHash('04:a2:1b:7c'))).toEqual(
      member({ groups: ['chess-club', 'scouts-1st-town'], adult: true, staff: true, pinHash: 'scrypt$10$8$1$c2FsdA==$a2V5' }),
    );
    expect(store.members.find(cardHash('2112 3400 0123 45'))).toEqual(
      member({ blocked: true, blockedUntil: '2026-04-01', openAccess: false, birthDate: null, adult: false, expires: null }),
    );
    expect(store.members.find(cardHash('99999999'))).toBeUndefined();
  });

  it('reports no list before the first one, then its count, version, time, source and hash', () => {
    const store = tmp.open('gateway.sqlite', { clock });
    expect(store.members.stats()).toEqual({ count: 0, version: null, updatedAt: null, source: null, hash: EMPTY_LIST_HASH });
    const result = store.members.replaceAll([row('11110001'), row('11110002')], { source: 'csv:members.csv' });
    expect(store.members.stats()).toEqual({ count: 2, version: 1, updatedAt: '2026-03-02T09:00:00.000Z', source: 'csv:members.csv', hash: result.hash });
    store.members.replaceAll([row('11110001')], { source: 'central', version: 42, appliedAt: new Date('2026-03-03T00:00:00Z') });
    expect(store.members.stats()).toMatchObject({ count: 1, version: 42, updatedAt: '2026-03-03T00:00:00.000Z', source: 'central' });
  });
});

describe('replacing the list', () => {
  const previous = (): MemberRow[] => [row('11110001'), row('11110002'), row('11110003', { blocked: true }), row('11110004')];

  it('counts what was added, changed, removed and left as it was', () => {
    const store = tmp.open();
    store.members.replaceAll(previous(), { source: 'first' });
    const result = store.members.replaceAll(
      [row('11110001'), row('11110002', { expires: '2028-01-01' }), row('11110003'), row('11110005'), row('11110006', { staff: true })],
      { source: 'second' },
    );
    expect(result).toMatchObject({ added: 2, changed: 2, removed: 1, unchanged: 1, count: 5, offered: 5, duplicates: 0, version: 2 });
    expect(store.members.find(cardHash('11110004'))).toBeUndefined();
    expect(store.members.find(cardHash('11110003'))?.blocked).toBe(false);
    expect(store.members.find(cardHash('11110006'))?.staff).toBe(true);
  });

  it('leaves the previous list in force when the rows fail halfway', () => {
    const store = tmp.open();
    const before = store.members.replaceAll(previous(), { source: 'first' });
    function* failing(): Generator<MemberRow> {
      yield row('22220001');
      yield row('22220002');
      throw new Error('connection lost');
    }
    expect(() => store.members.replaceAll(failing(), { source: 'second' })).toThrow('connection lost');
    expect(store.members.stats()).toMatchObject({ count: 4, version: 1, source: 'first', hash: before.hash });
    expect(store.members.find(cardHash('11110001'))).toBeDefined();
    expect(store.members.find(cardHash('22220001'))).toBeUndefined();
    // And the next replacement works (nothing left half-done in the way).
    expect(store.members.replaceAll([row('22220001')], { source: 'third' }).count).toBe(1);
  });

  it('leaves the previous list in force when an async source fails, or the caller refuses the result', async () => {
    const store = tmp.open();
    store.members.replaceAll(previous(), { source: 'first' });
    async function* failing(): AsyncGenerator<MemberRow[]> {
      yield [row('22220001'), row('22220002')];
      await new Promise((resolve) => setTimeout(resolve, 1));
      throw new Error('download interrupted');
    }
    await expect(store.members.replaceAllAsync(failing(), { source: 'second' })).rejects.toThrow('download interrupted');
    await expect(
      store.members.replaceAllAsync(
        (async function* () {
          yield row('33330001');
        })(),
        { source: 'third' },
        {
          verify: (diff) => {
            expect(diff).toMatchObject({ added: 1, removed: 4 });
            throw new Error('would remove every member');
          },
        },
      ),
    ).rejects.toThrow('would remove every member');
    expect(store.members.stats()).toMatchObject({ count: 4, version: 1, source: 'first' });
    expect(store.members.find(cardHash('33330001'))).toBeUndefined();
  });

  it('refuses a list with a duplicate card, or keeps the first and reports the others', () => {
    const store = tmp.open();
    store.members.replaceAll(previous(), { source: 'first' });
    const rows = [row('44440001'), row('44440002', { staff: true }), row('44440003'), row('44440002'), row('44440001')];
    expect(() => store.members.replaceAll(rows, { source: 'dup' })).toThrow(MemberListError);
    expect(() => store.members.replaceAll(rows, { source: 'dup' })).toThrow('row 4 repeats row 2');
    expect(store.members.stats().source).toBe('first');
    const duplicates: Array<[number, number]> = [];
    const result = store.members.replaceAll(rows, { source: 'dup' }, { onDuplicate: (position, first) => void duplicates.push([position, first]) });
    expect(duplicates).toEqual([
      [3, 1],
      [4, 0],
    ]);
    expect(result).toMatchObject({ count: 3, offered: 5, duplicates: 2 });
    expect(store.members.find(cardHash('44440002'))?.staff).toBe(true); // the first row won
    expect(result.hash).toBe(store.members.replaceAll([rows[0]!, rows[1]!, rows[2]!], { source: 'same' }).hash);
  });

  it('refuses a list whose count or hash is not the one announced', () => {
    const store = tmp.open();
    const list = previous();
    const applied = store.members.replaceAll(list, { source: 'central' });
    expect(() => store.members.replaceAll(list.slice(1), { source: 'central', expect: { count: 4 } })).toThrow('3 members where 4 were announced');
    expect(() => store.members.replaceAll(list.slice(1), { source: 'central', expect: { hash: applied.hash } })).toThrow('does not match');
    expect(store.members.stats().count).toBe(4);
    expect(store.members.replaceAll(list, { source: 'central', expect: { count: 4, hash: applied.hash.toUpperCase() } }).unchanged).toBe(4);
  });

  it('hashes a list the same whatever the row order', () => {
    const store = tmp.open();
    const a = store.members.replaceAll(previous(), { source: 'a' }).hash;
    const b = store.members.replaceAll(previous().reverse(), { source: 'b' }).hash;
    expect(a).toBe(b);
    expect(a).not.toBe(EMPTY_LIST_HASH);
    expect(store.members.replaceAll(previous().slice(1), { source: 'c' }).hash).not.toBe(a);
  });

  it('refuses a second replacement while one is running', async () => {
    const store = tmp.open();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const running = store.members.replaceAllAsync(
      (async function* () {
        yield row('55550001');
        await gate;
      })(),
      { source: 'slow' },
    );
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(() => store.members.replaceAll([row('55550002')], { source: 'other' })).toThrow('already running');
    release();
    await expect(running).resolves.toMatchObject({ count: 1 });
  });
});

describe('deltas', () => {
  it('add, change and remove single members, keeping the count and the hash equal to a full list', () => {
    const store = tmp.open();
    store.members.replaceAll([row('11110001'), row('11110002'), row('11110003')], { source: 'full', version: 7 });
    expect(store.members.upsert(row('11110004'))).toBe('added');
    expect(store.members.upsert(row('11110002', { blocked: true }))).toBe('changed');
    expect(store.members.upsert(row('11110001'))).toBe('unchanged');
    expect(store.members.remove(cardHash('11110003'))).toBe(true);
    expect(store.members.remove(cardHash('11110003'))).toBe(false);
    const afterDeltas = store.members.stats();
    expect(afterDeltas).toMatchObject({ count: 3, version: 7 });
    expect(store.members.find(cardHash('11110002'))?.blocked).toBe(true);
    const full = store.members.replaceAll([row('11110001'), row('11110002', { blocked: true }), row('11110004')], { source: 'check' });
    expect(full.unchanged).toBe(3);
    expect(full.hash).toBe(afterDeltas.hash);
  });
});
