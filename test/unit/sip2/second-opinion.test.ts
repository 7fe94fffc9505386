// The second opinion's bounds and the blocks' time limit, on their own: a fake library system and a fake clock.
import { describe, expect, it } from 'vitest';
import { LmsBlocks } from '../../../gateway/core/lms-blocks.js';
import type { LmsBlockStorage } from '../../../gateway/core/lms-blocks.js';
import { SecondOpinion } from '../../../gateway/sip2/second-opinion.js';
import type { Decision, Member } from '../../../policies/types.js';

const member: Member = { expires: null, blocked: false, blockedUntil: null, openAccess: true, birthDate: null, adult: true, staff: false, groups: [], pinHash: null };
const granted: Decision = { allow: true, reason: 'member', mode: 'open-access' };
const card = (n: number): Buffer => Buffer.alloc(32, n);
const silent = { info: () => {}, warn: () => {}, debug: () => {} };

function setup(
  config: Partial<{ askAgainMinutes: number; perMinute: number; burst: number; queue: number; blockHours: number }> = {},
  answer: () => Member | undefined = () => ({ ...member, blocked: true }),
) {
  let now = Date.parse('2026-11-23T14:00:00Z');
  const clock = { now: () => new Date(now) };
  let saved: unknown;
  const storage: LmsBlockStorage = { load: () => saved, save: (v) => (saved = v), findMember: () => member, listHash: () => 'list-1' };
  const blocks = new LmsBlocks({ storage, clock, alarms: { clear: () => {} }, guard: (_what, fn) => fn() });
  const asked: string[] = [];
  const alarms: string[] = [];
  const deferred: Array<() => void> = [];
  const opinion = new SecondOpinion({
    lookup: { lookupPatron: async (number) => (asked.push(number), answer()) },
    blocks,
    alarms: { repeat: (_name, detail) => void alarms.push(detail) },
    enabled: () => true,
    clock,
    logger: silent,
    pseudonym: () => 'p',
    config: { askAgainMinutes: 10, perMinute: 30, burst: 5, queue: 50, blockHours: 72, ...config },
    defer: (run) => deferred.push(run),
  });
  const drain = async (): Promise<void> => {
    for (let run = deferred.shift(); run !== undefined; run = deferred.shift()) run();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { blocks, opinion, asked, alarms, drain, advance: (ms: number) => (now += ms), saved: () => saved };
}

describe('SIP2 second opinion, bounded', () => {
  it('asks about a card once in askAgainMinutes, however often it is let in', async () => {
    const s = setup();
    for (let i = 0; i < 3; i++) s.opinion.afterDecision('1001', card(1), member, granted, false);
    await s.drain();
    expect(s.asked).toEqual(['1001']);
  });

  it('asks no more than the bucket allows at once; the rest are decided by the list alone', async () => {
    const s = setup({ burst: 2, perMinute: 1 });
    for (let i = 1; i <= 4; i++) s.opinion.afterDecision(`100${i}`, card(i), member, granted, false);
    await s.drain();
    expect(s.asked).toEqual(['1001', '1002']);
  });

  it('does not follow up staff: their cards are often not patrons of the library system', async () => {
    const s = setup();
    s.opinion.afterDecision('1001', card(1), { ...member, staff: true }, { allow: true, reason: 'staff', mode: 'closed' }, false);
    await s.drain();
    expect(s.asked).toEqual([]);
  });

  it('follows up no refusal but its own block', async () => {
    const s = setup();
    s.opinion.afterDecision('1001', card(1), member, { allow: false, reason: 'closed', mode: 'closed' }, false);
    await s.drain();
    expect(s.asked).toEqual([]);
  });
});

describe('library-system blocks', () => {
  it('stand for blockHours, then the list decides again', async () => {
    const s = setup({ blockHours: 1 });
    s.opinion.afterDecision('1001', card(1), member, granted, false);
    await s.drain();
    expect(s.blocks.blocks(card(1), member)).toBe(true);
    s.advance(3_600_000);
    expect(s.blocks.blocks(card(1), member)).toBe(false);
    expect(s.blocks.sweep()).toBe(1);
    expect(s.saved()).toEqual([]);
  });

  it('are not made for "no such patron": that is told, and the card still gets in', async () => {
    const s = setup({}, () => undefined);
    s.opinion.afterDecision('1001', card(1), member, granted, false);
    await s.drain();
    expect(s.asked).toEqual(['1001']);
    expect(s.blocks.blocks(card(1), member)).toBe(false);
    expect(s.alarms).toEqual(['p: the library system does not know the card, the member list lets it in; not blocked (check the card or the SIP2 mapping)']);
  });

  it('stand only for the row they were made against', async () => {
    const s = setup();
    s.opinion.afterDecision('1001', card(1), member, granted, false);
    await s.drain();
    expect(s.blocks.blocks(card(1), { ...member, expires: '2027-01-31' })).toBe(false);
  });
});
