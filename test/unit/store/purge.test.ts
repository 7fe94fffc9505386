// Retention in batches: the same rows go as with one DELETE, the warning about events central never received is
// given once for the pass, and the event loop runs between batches (a tap waiting behind the purge is served
// while old rows are still there).
import { describe, expect, it } from 'vitest';
import { retentionCutoff } from '../../../gateway/store/index.js';
import type { Store } from '../../../gateway/store/index.js';
import { purgeInBatches } from '../../../gateway/store/purge.js';
import { cardHash, useTempDir } from './helpers.js';

const tmp = useTempDir();
const at = (iso: string) => new Date(iso);
const NOW = at('2026-03-02T12:00:00Z');
const CUTOFF = retentionCutoff(NOW, 30);

/** `old` events before the cutoff (one in three published) and `recent` after it, written in one transaction. */
function fill(store: Store, old: number, recent: number): void {
  store.transaction(() => {
    for (let i = 0; i < old; i++) {
      const e = store.events.append({ type: 'access', at: new Date(CUTOFF.getTime() - (old - i) * 60_000) });
      if (i % 3 === 0) store.events.markPublished([e.id]);
    }
    for (let i = 0; i < recent; i++) store.events.append({ type: 'door', at: new Date(CUTOFF.getTime() + (i + 1) * 60_000) });
  });
}

/** Counts turns of the event loop (setImmediate callbacks) until stopped. */
function loopTurns(): { stop: () => number } {
  let turns = 0;
  let handle = setImmediate(function tick() {
    turns++;
    handle = setImmediate(tick);
  });
  return {
    stop: () => {
      clearImmediate(handle);
      return turns;
    },
  };
}

describe('purging in batches', () => {
  it('deletes what purgeOlderThan would, published or not, and warns once about the unpublished ones', async () => {
    const warnings: Array<{ object: object; message: string }> = [];
    const store = tmp.open('gateway.sqlite', { logger: { warn: (object, message) => void warnings.push({ object, message }) } });
    fill(store, 250, 7);
    store.pins.recordFailure(cardHash('04A1B2C3'), at('2026-01-02T10:00:00Z'));
    store.pins.recordFailure(cardHash('04A1B2C4'), at('2026-03-01T10:00:00Z'));
    expect(await purgeInBatches(store, CUTOFF, { batch: 40 })).toEqual({ events: 250, pins: 1 });
    expect(store.events.count()).toBe(7);
    expect(store.events.query({ limit: 10 }).every((e) => e.type === 'door')).toBe(true);
    expect(store.pins.get(cardHash('04A1B2C4'))).toBeDefined();
    expect(warnings).toEqual([
      { object: { purged: 250, unpublished: 166, before: CUTOFF.toISOString() }, message: 'purged events past retention that central never received' },
    ]);
    expect(await purgeInBatches(store, CUTOFF, { batch: 40 })).toEqual({ events: 0, pins: 0 });
    expect(warnings).toHaveLength(1);
  });

  it('deletes at most the batch, oldest first, in each step', () => {
    const warnings: object[] = [];
    const store = tmp.open('gateway.sqlite', { logger: { warn: (object) => void warnings.push(object) } });
    fill(store, 10, 2);
    const oldest = store.events.query({ limit: 12 }).reverse();
    expect(store.events.purgeBatch(CUTOFF, 4)).toBe(4);
    expect(store.events.query({ limit: 12 }).reverse()[0]!.id).toBe(oldest[4]!.id);
    expect(warnings).toEqual([{ purged: 4, unpublished: 2, before: CUTOFF.toISOString() }]);
    expect(store.events.purgeBatch(CUTOFF, 100)).toBe(6);
    expect(store.events.purgeBatch(CUTOFF, 100)).toBe(0);
    expect(store.events.count()).toBe(2);
    expect(() => store.events.purgeBatch(CUTOFF, 0)).toThrow(RangeError);
    expect(() => store.events.purgeBatch(new Date(Number.NaN), 10)).toThrow(RangeError);
  });

  it('lets the event loop run between batches: a tap scheduled during the purge is served before it ends', async () => {
    const store = tmp.open();
    fill(store, 3000, 5);
    const turns = loopTurns();
    let leftWhenTapRan: number | undefined;
    const purging = purgeInBatches(store, CUTOFF, { batch: 100 });
    // Scheduled once the purge has started: one DELETE for everything would run to the end first.
    setImmediate(() => (leftWhenTapRan = store.events.count()));
    expect(await purging).toEqual({ events: 3000, pins: 0 });
    // 30 batches, a turn between each: one synchronous block would give no turn at all.
    expect(turns.stop()).toBeGreaterThanOrEqual(29);
    expect(leftWhenTapRan).toBeGreaterThan(5);
    expect(store.events.count()).toBe(5);
  });

  it('calls the given yield between batches', async () => {
    const store = tmp.open();
    fill(store, 1000, 0);
    let yields = 0;
    await purgeInBatches(store, CUTOFF, { batch: 250, yieldToLoop: async () => void yields++ });
    // 4 full batches, an empty fifth, then the pins: a yield after each full batch and one before the pins.
    expect(yields).toBe(5);
  });
});
