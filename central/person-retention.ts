// Person-level retention at central: after `store.personRetentionDays` the card holder's pseudonym is blanked in the
// events central keeps, while the events themselves stay for `store.retentionDays`. Blanked in place rather than
// rolled up into daily figures: every figure (visits, refusals, occupancy) is counted from fields that stay, so
// they come out the same before and after, and the event history keeps its shape (docs/privacy.md).
// In batches with a turn of the event loop between them, like the branch's purge (gateway/store/purge.ts): a first
// pass over a year of history must not hold central's loop, which ingests every branch's events meanwhile.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { HistoryStore } from './history/history-store.js';

/** Events per batch: a short transaction each. */
export const PERSON_RETENTION_BATCH = 500;

export interface PersonRetentionOptions {
  batch?: number | undefined;
  /** Runs between batches; the default lets one turn of the event loop pass. */
  yieldToLoop?: (() => Promise<void>) | undefined;
  /** Asked before each batch: true once central is stopping, so no batch runs on a closed database. */
  stopped?: (() => boolean) | undefined;
}

/** Blanks the pseudonym in every event from before `before` that still has one; returns how many were blanked. */
export async function forgetPersonsBefore(store: Pick<HistoryStore, 'blankPersonsBefore'>, before: Date, options: PersonRetentionOptions = {}): Promise<number> {
  const batch = options.batch ?? PERSON_RETENTION_BATCH;
  const yieldToLoop = options.yieldToLoop ?? (() => nextTurn());
  let blanked = 0;
  while (options.stopped?.() !== true) {
    const n = await store.blankPersonsBefore(before, batch);
    blanked += n;
    if (n < batch) break;
    await yieldToLoop();
  }
  return blanked;
}
