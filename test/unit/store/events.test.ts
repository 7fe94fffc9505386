import { describe, expect, it } from 'vitest';
import { ULID_PATTERN, createIdGenerator, decodeTime } from '../../../gateway/store/ulid.js';
import { retentionCutoff } from '../../../gateway/store/index.js';
import { cardHash, useTempDir } from './helpers.js';

const tmp = useTempDir();
const at = (iso: string): Date => new Date(iso);

describe('event ids', () => {
  it('are 26-character ULIDs carrying the millisecond, increasing within a millisecond and when the clock steps back', () => {
    const next = createIdGenerator();
    const t = Date.parse('2026-03-02T18:00:00.000Z');
    const ids = [next(t), next(t), next(t), next(t - 5000), next(t + 1)];
    for (const id of ids) expect(id).toMatch(ULID_PATTERN);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(decodeTime(ids[0]!)).toBe(t);
    expect(decodeTime(ids[3]!)).toBe(t); // the step back kept the last millisecond
    expect(decodeTime(ids[4]!)).toBe(t + 1);
  });

  it('continue after the newest id they are seeded with', () => {
    const first = createIdGenerator();
    const last = first(Date.parse('2030-01-01T00:00:00Z'));
    const next = createIdGenerator(last);
    expect(next(Date.parse('2026-01-01T00:00:00Z')) > last).toBe(true);
  });
});

describe('the event log and outbox', () => {
  it('keeps events in the order they were written, with their fields, and never a clear card', () => {
    const store = tmp.open();
    const card = cardHash('04A21B7C');
    const a = store.events.append({ type: 'access', at: at('2026-03-02T18:00:00Z'), reason: 'member', cardHash: card, data: { person: 'a1b2c3d4' } });
    const b = store.events.append({ type: 'door', at: at('2026-03-02T18:00:00Z'), data: { state: 'open' } });
    const c = store.events.append({ type: 'mode', at: at('2026-03-02T17:59:59Z') });
    expect(a.id < b.id && b.id < c.id).toBe(true);
    const unpublished = store.events.unpublished(10);
    expect(unpublished.map((e) => e.id)).toEqual([a.id, b.id, c.id]);
    expect(unpublished[0]).toEqual({
      id: a.id,
      at: '2026-03-02T18:00:00.000Z',
      type: 'access',
      reason: 'member',
      cardHash: card,
      data: { person: 'a1b2c3d4' },
      published: false,
    });
    expect(unpublished[2]).toMatchObject({ reason: null, cardHash: null, data: {} });
    expect(() => store.events.append({ type: 'access', at: at('2026-03-02T18:00:00Z'), cardHash: Buffer.from('04A21B7C') })).toThrow(/32-byte keyed hash/);
    expect(() => store.events.append({ type: 'x', at: new Date(Number.NaN) })).toThrow(RangeError);
  });

  it('hands out unpublished events oldest first, page by page, until they are marked published', () => {
    const store = tmp.open();
    const ids = Array.from({ length: 5 }, (_, i) => store.events.append({ type: 'door', at: at(`2026-03-02T18:00:0${i}Z`) }).id);
    expect(store.events.unpublished(2).map((e) => e.id)).toEqual(ids.slice(0, 2));
    expect(store.events.unpublished(0)).toEqual([]);
    expect(store.events.markPublished(ids.slice(0, 2))).toBe(2);
    expect(store.events.markPublished(ids.slice(0, 2))).toBe(0); // a second acknowledgement changes nothing
    expect(store.events.unpublished(10).map((e) => e.id)).toEqual(ids.slice(2));
    expect(store.events.countUnpublished()).toBe(3);
    expect(store.events.count()).toBe(5);
  });

  it('keeps unpublished events and keeps ids increasing across a restart', () => {
    const first = tmp.open();
    const before = first.events.append({ type: 'access', at: at('2026-03-02T18:00:00Z') });
    first.close();
    const again = tmp.open();
    // The clock went back (no RTC, no NTP yet): the new id still sorts after the old one.
    const after = again.events.append({ type: 'system', at: at('2026-01-01T00:00:00Z') });
    expect(after.id > before.id).toBe(true);
    expect(again.events.unpublished(10).map((e) => e.id)).toEqual([before.id, after.id]);
  });

  it('answers queries by time and type, newest first, in pages', () => {
    const store = tmp.open();
    const types = ['access', 'door', 'access', 'alarm', 'access'];
    const events = types.map((type, i) => store.events.append({ type, at: at(`2026-03-02T18:0${i}:00Z`), data: { i } }));
    expect(store.events.query({ limit: 10 }).map((e) => e.data.i)).toEqual([4, 3, 2, 1, 0]);
    expect(store.events.query({ limit: 10, types: ['access'] }).map((e) => e.data.i)).toEqual([4, 2, 0]);
    expect(store.events.query({ limit: 10, types: ['door', 'alarm'] }).map((e) => e.data.i)).toEqual([3, 1]);
    expect(store.events.query({ limit: 10, from: at('2026-03-02T18:01:00Z'), to: at('2026-03-02T18:03:00Z') }).map((e) => e.data.i)).toEqual([2, 1]);
    const page1 = store.events.query({ limit: 2 });
    const page2 = store.events.query({ limit: 2, before: page1[1]!.id });
    expect([...page1, ...page2].map((e) => e.id)).toEqual([events[4]!.id, events[3]!.id, events[2]!.id, events[1]!.id]);
    expect(store.events.query({ limit: 10, types: [] })).toEqual([]);
    expect(store.events.query({ limit: 0 })).toEqual([]);
    expect(() => store.events.query({ limit: 1.5 })).toThrow(RangeError);
  });

  it('purges events older than the retention, published or not, and says how many were never sent', () => {
    const warnings: Array<{ object: object; message: string }> = [];
    const store = tmp.open('gateway.sqlite', { logger: { warn: (object, message) => void warnings.push({ object, message }) } });
    const old = [
      store.events.append({ type: 'access', at: at('2026-01-01T10:00:00Z') }),
      store.events.append({ type: 'access', at: at('2026-01-15T10:00:00Z') }),
      store.events.append({ type: 'door', at: at('2026-01-20T10:00:00Z') }),
    ];
    const recent = store.events.append({ type: 'access', at: at('2026-02-28T10:00:00Z') });
    store.events.markPublished([old[0]!.id]);
    const cutoff = retentionCutoff(at('2026-03-02T12:00:00Z'), 30);
    expect(cutoff.toISOString()).toBe('2026-01-31T12:00:00.000Z');
    expect(store.events.purgeOlderThan(cutoff)).toBe(3);
    expect(store.events.count()).toBe(1);
    expect(store.events.unpublished(10).map((e) => e.id)).toEqual([recent.id]);
    expect(warnings).toEqual([
      { object: { purged: 3, unpublished: 2, before: '2026-01-31T12:00:00.000Z' }, message: 'purged events past retention that central never received' },
    ]);
    expect(store.events.purgeOlderThan(cutoff)).toBe(0);
    expect(warnings).toHaveLength(1);
  });
});
