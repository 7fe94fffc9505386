// A refused policy is recorded as an event central accepts, whatever the refused document held: otherwise the
// only record of the refusal would be dropped at central. A flood of them is one event per kind and interval.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { EventSchema } from '../../policies/contract/events.js';
import { removeDir, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  if (harness) removeDir(harness.dir);
  harness = undefined;
});

describe('a refused policy', () => {
  it('is recorded within the contract for an absurd version and for a document with hundreds of errors', async () => {
    harness = await startHarness({ policy: town });
    const manyErrors = { version: 9, site: 'town-central', schedule: { weekly: {} }, ...Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`unknown${i}`, i])) };
    for (const document of [{ ...town, version: 1e308 }, { ...town, version: 5e-324 }, { ...town, version: -1e308 }, manyErrors]) {
      expect(harness.running.gateway.offerPolicy(document, 'central').ok).toBe(false);
      // Ends the interval, so that the next refusal of the same kind is recorded in full, not counted.
      harness.running.gateway.policies.stop();
    }
    const refusals = harness.events.filter((event) => event.type === 'policy');
    expect(refusals).toHaveLength(4);
    for (const event of refusals) {
      const checked = EventSchema.safeParse(event);
      expect(checked.success, JSON.stringify(checked.error?.issues[0])).toBe(true);
    }
    expect(refusals.map((event) => (event as { version: number | null }).version)).toEqual([null, null, null, 9]);
  });

  it('writes a handful of events for 3,000 refused policies, counts the rest, and the door still decides a tap', async () => {
    harness = await startHarness({ policy: town, members: { '04A1B2C3D4': {} } });
    const { gateway } = harness.running;
    expect(gateway.offerPolicy({ ...town, version: 5 }, 'central').ok).toBe(true);
    const broken = { ...town, schedule: { weekly: { mon: [{ from: '10:00', to: '09:00', mode: 'staffed' }] } } };
    const flood = (i: number): unknown =>
      [
        { ...broken, version: 6 + i }, // invalid
        { ...town, site: 'village', version: 6 + i }, // another site's
        { ...town, version: 1 + (i % 4) }, // older than central's 5
        { ...town, name: `Town ${i}`, version: 5 }, // central's 5 again with other content
        { ...town, version: 2 ** 53 - 1 }, // a number that would pin the branch: invalid
      ][i % 5];
    for (let i = 0; i < 3000; i++) expect(gateway.offerPolicy(flood(i), 'central').ok).toBe(false);
    harness.tap('04A1B2C3D4');
    expect(harness.reasons()).toHaveLength(1);
    expect(gateway.policies.current.version).toBe(5);

    const refusals = (): Array<{ error: string }> => harness!.events.filter((e) => e.type === 'policy' && e.result === 'refused') as unknown as Array<{ error: string }>;
    // One for each kind of refusal: invalid, another site's, older, central's version again with other content.
    expect(refusals()).toHaveLength(4);
    expect(refusals().map((e) => e.error)).toEqual([
      expect.stringMatching(/^schedule\.weekly\.mon\[0\]\.to: must be after from/),
      expect.stringMatching(/^site: "village" is not this gateway's site/),
      "version: 3 is older than central's version 5, already applied",
      "version: 5 is central's version already applied, with other content; central numbers each version once",
    ]);
    // The end of the interval (here: the stop) writes how many more were refused, one event a kind.
    gateway.policies.stop();
    const summaries = refusals().slice(4);
    expect(summaries).toHaveLength(4);
    const counted = summaries.map((e) => Number(/^(\d+) more polic/.exec(e.error)?.[1]));
    expect(counted.reduce((a, b) => a + b, 0)).toBe(3000 - 4);
    for (const event of harness.events.filter((e) => e.type === 'policy')) expect(EventSchema.safeParse(event).success).toBe(true);
  });
});
