// Per-site pseudonyms on the real gateway: the same card tapped at two branches is two unrelated pseudonyms, and
// one branch shows it by the same pseudonym after a restart (docs/privacy.md, "Pseudonyms").
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { createCardHasher, normaliseCardId } from '../../gateway/core/cards.js';
import { PseudonymSchema } from '../../policies/contract/index.js';
import { TEST_KEY_HEX, harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const policy = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const CARD = '04A1B2C3D4';
const cardHash = createCardHasher(Buffer.from(TEST_KEY_HEX, 'hex'))(normaliseCardId(CARD));

const scene = harnessPerTest();

async function branch(site: string): Promise<Harness> {
  const h = await startHarness({ policy, members: { [CARD]: {} }, config: { site } });
  scene.dirs.push(h.dir);
  return h;
}

/** The pseudonym on the access event of one tap of the card. */
function tapPerson(h: Harness): string {
  const before = h.events.length;
  h.tap(CARD);
  vi.advanceTimersByTime(5_000);
  const access = h.events.slice(before).find((e) => e.type === 'access');
  if (access?.type !== 'access' || access.person === null) throw new Error('no access event with a pseudonym for the tap');
  return access.person;
}

describe('pseudonyms are per branch', () => {
  it('gives the same card different pseudonyms at two branches, neither a cut of the card hash, each stable across a restart', async () => {
    // Monday evening, open access at both.
    vi.setSystemTime(new Date('2026-11-23T19:00:00Z'));
    const town = await branch('town-central');
    const village = await branch('village');
    try {
      const atTown = tapPerson(town);
      const atVillage = tapPerson(village);
      expect(PseudonymSchema.parse(atTown)).toBe(atTown);
      expect(atVillage).not.toBe(atTown);
      // The old pseudonym was the hash's first 4 bytes: the same at every branch and at central.
      const hashPrefix = cardHash.toString('hex', 0, 4);
      expect([atTown, atVillage]).not.toContain(hashPrefix);
      expect(tapPerson(town)).toBe(atTown);

      const restarted = await village.restart();
      scene.current = restarted;
      expect(tapPerson(restarted)).toBe(atVillage);
    } finally {
      await town.stop();
    }
  });
});
