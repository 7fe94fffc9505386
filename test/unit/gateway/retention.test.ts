// Retention waits for a clock it can believe: a Pi booting years ahead would otherwise take every event, the ones
// central never received included, as past retention.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../gateway/core/clock.js';
import type { Clock } from '../../../gateway/core/clock.js';
import { RetentionExtension } from '../../../gateway/extensions/retention.js';
import { useTempDir } from '../store/helpers.js';

const tmp = useTempDir();
const REAL_NOW = new Date('2026-03-02T12:00:00Z');
// The clock the Pi booted with: ten years ahead, so every real event looks ten years old.
const WRONG_NOW = new Date('2036-03-02T12:00:00Z');
const clockAt = (now: Date): Clock => ({ ...systemClock, now: () => now });

function storeWithEvents() {
  const store = tmp.open();
  for (let day = 1; day <= 20; day++) store.events.append({ type: 'access', at: new Date(REAL_NOW.getTime() - day * 86_400_000) });
  return store;
}

describe('the retention purge', () => {
  it('deletes nothing while the clock is not trusted, and says why', async () => {
    const store = storeWithEvents();
    const warnings: string[] = [];
    const logger = pino({ level: 'silent' });
    logger.warn = ((message: string) => void warnings.push(message)) as typeof logger.warn;
    const retention = new RetentionExtension({ store, clock: clockAt(WRONG_NOW), retentionDays: 30, clockTrusted: () => false });
    expect(await retention.purge({ logger })).toBeUndefined();
    expect(store.events.count()).toBe(20);
    expect(warnings).toEqual(['retention purge skipped: the clock is not trusted']);
  });

  it('purges past retention once the clock is trusted', async () => {
    const store = storeWithEvents();
    let trusted = false;
    const retention = new RetentionExtension({ store, clock: clockAt(new Date(REAL_NOW.getTime() + 10 * 86_400_000)), retentionDays: 20, clockTrusted: () => trusted });
    const context = { logger: pino({ level: 'silent' }) };
    expect(await retention.purge(context)).toBeUndefined();
    trusted = true;
    // 20 days' retention, 10 days on: the events from 11 to 20 days before are past it.
    expect(await retention.purge(context)).toEqual({ events: 10, pins: 0 });
    expect(store.events.count()).toBe(10);
  });

  it('skips its first pass at start on an untrusted clock', async () => {
    const store = storeWithEvents();
    const retention = new RetentionExtension({ store, clock: clockAt(WRONG_NOW), retentionDays: 30, clockTrusted: () => false });
    retention.start({ logger: pino({ level: 'silent' }), on: () => {}, fail: () => {} });
    await retention.stop();
    expect(store.events.count()).toBe(20);
  });
});
