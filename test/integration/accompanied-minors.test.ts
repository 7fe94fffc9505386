// Accompanied minors on the real gateway (simulated readers, real SQLite, fake time): a parent taps, then the
// children at the same door are let in as `accompanied` for rules.accompaniedMinors.seconds; at the other door, after
// the seconds, or with the rule off, a child is refused as under-age as before.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { defaultConfig, harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

const PARENT = '04A1B2C3D4';
const CHILD = '04C0000001';
const SISTER = '04C0000002';
const BROTHER = '04C0000003';
const BLOCKED_CHILD = '04C0000004';
const TEEN = '04C0000005';
const MEMBERS = {
  [PARENT]: {},
  [CHILD]: { birthDate: '2016-04-01' },
  [SISTER]: { birthDate: '2014-09-12' },
  [BROTHER]: { birthDate: '2019-01-30' },
  [BLOCKED_CHILD]: { birthDate: '2016-04-01', blocked: true },
  // Over the town's minimum age (16) but not an adult: let in, yet brings nobody in.
  [TEEN]: { birthDate: '2009-06-01' },
};

/** Monday 23 November 2026, 14:00 GMT: open access at the town branch (minimum age 16). */
const OPEN_ACCESS = new Date('2026-11-23T14:00:00Z');

const scene = harnessPerTest();

/** The town branch with a second entry door ("side") and rules.accompaniedMinors as given (undefined = off). */
async function start(accompaniedMinors: { seconds: number } | undefined): Promise<Harness> {
  vi.setSystemTime(OPEN_ACCESS);
  const dir = mkdtempSync(join(tmpdir(), 'oag-gw-accompanied-'));
  scene.dirs.push(dir);
  const hardware = defaultConfig(dir).hardware!;
  const rules = { ...(town.rules as Record<string, unknown>), ...(accompaniedMinors === undefined ? {} : { accompaniedMinors }) };
  scene.current = await startHarness({
    dir,
    policy: { ...town, rules },
    members: MEMBERS,
    config: {
      taps: { repeatWindowMs: 0 },
      hardware: {
        ...hardware,
        readers: [
          { id: 'entry', driver: 'simulated', role: 'entry' },
          { id: 'side', driver: 'simulated', role: 'entry' },
          { id: 'exit', driver: 'simulated', role: 'exit' },
        ],
      },
    },
  });
  return scene.current;
}

function tap(h: Harness, card: string, reader = 'entry'): string {
  h.tap(card, reader);
  return h.reasons().at(-1)!;
}

describe('accompanied minors', () => {
  it('a parent with three children: each child at the same door within the seconds is let in as accompanied', async () => {
    const h = await start({ seconds: 60 });
    expect(tap(h, PARENT)).toBe('member');
    vi.advanceTimersByTime(10_000);
    expect(tap(h, CHILD)).toBe('accompanied');
    expect(h.doorRelayActive()).toBe(true);
    vi.advanceTimersByTime(20_000);
    expect(tap(h, SISTER)).toBe('accompanied');
    vi.advanceTimersByTime(30_000); // 60 s after the parent: still within
    expect(tap(h, BROTHER)).toBe('accompanied');
    const logged = h.events.filter((e) => e.type === 'access').at(-1)!;
    expect(logged).toMatchObject({ decision: 'granted', reason: 'accompanied', reader: 'entry' });
  });

  it('after the seconds the child is refused as under-age; a child let in does not start them again', async () => {
    const h = await start({ seconds: 60 });
    expect(tap(h, PARENT)).toBe('member');
    vi.advanceTimersByTime(50_000);
    expect(tap(h, CHILD)).toBe('accompanied');
    vi.advanceTimersByTime(11_000);
    expect(tap(h, SISTER)).toBe('under-age');
    expect(h.doorRelayActive()).toBe(false);
  });

  it('at the other door the child is refused: the adult was let in elsewhere', async () => {
    const h = await start({ seconds: 60 });
    expect(tap(h, PARENT, 'entry')).toBe('member');
    vi.advanceTimersByTime(5_000);
    expect(tap(h, CHILD, 'side')).toBe('under-age');
    expect(tap(h, CHILD, 'entry')).toBe('accompanied');
  });

  it('only the age is lifted, and only an adult brings a child in', async () => {
    const h = await start({ seconds: 60 });
    expect(tap(h, TEEN)).toBe('member');
    expect(tap(h, CHILD)).toBe('under-age');
    expect(tap(h, PARENT)).toBe('member');
    expect(tap(h, BLOCKED_CHILD)).toBe('blocked');
  });

  it('with the rule off (the default) a child right after a parent is refused as under-age, as before', async () => {
    const h = await start(undefined);
    expect(tap(h, PARENT)).toBe('member');
    expect(tap(h, CHILD)).toBe('under-age');
  });
});
