// A refused policy is recorded as an event central accepts, whatever the refused document held: otherwise the
// only record of the refusal would be dropped at central.
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
    }
    const refusals = harness.events.filter((event) => event.type === 'policy');
    expect(refusals).toHaveLength(4);
    for (const event of refusals) {
      const checked = EventSchema.safeParse(event);
      expect(checked.success, JSON.stringify(checked.error?.issues[0])).toBe(true);
    }
    expect(refusals.map((event) => (event as { version: number | null }).version)).toEqual([null, null, null, 9]);
  });
});
