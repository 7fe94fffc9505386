import { describe, expect, it } from 'vitest';
import type { ReceivedEvent } from '../../../policies/contract/index.js';
import { occupancyEvent } from '../contract/fixtures.js';
import { centralParts } from './helpers.js';

describe("central's bus", () => {
  it('keeps a throwing listener from failing ingest (the broker would send the message again and again) and from starving the listeners after it', async () => {
    const { publish, store, bus, ingest } = centralParts();
    const failures: string[] = [];
    bus.onListenerError = ({ event, error }) => failures.push(`${String(event)}: ${(error as Error).message}`);
    bus.on('event', () => {
      throw new Error('a dashboard stream broke');
    });
    const seen: ReceivedEvent[] = [];
    bus.on('event', (e) => seen.push(e));

    // Resolving is what lets the link acknowledge the message: it must, and the event must be stored.
    await expect(publish('town', 'events', occupancyEvent(5))).resolves.toBeUndefined();
    expect(store.eventCount()).toBe(1);
    expect(ingest.stats).toMatchObject({ stored: 1, rejected: 0 });
    expect(seen.map((e) => e.type)).toEqual(['occupancy']);
    expect(failures).toEqual(['event: a dashboard stream broke']);
  });
});
