// Escalation on fake time: the clock is a variable, and the scheduler's timers are vitest's.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { due, EscalationScheduler, MAX_REPEATS, plan } from '../../../central/alerts/escalation.js';
import type { Incident } from '../../../central/alerts/incidents.js';
import { incidentsDb, raise, rulesInput, rulesOf, TableSink } from './helpers.js';

// Monday 2 June 2025, 22:00 BST: Carol's night.
const T = Date.parse('2025-06-02T21:00:00Z');
const at = (minutes: number): Date => new Date(T + minutes * 60_000);

function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 7,
    site: 'riverside',
    alarm: 'fire',
    known: true,
    severity: 'critical',
    detail: null,
    status: 'raised',
    raisedAt: at(0).toISOString(),
    openedAt: at(0).toISOString(),
    notifiedAt: null,
    acknowledged: null,
    cleared: null,
    ...over,
  };
}

const who = (requests: ReturnType<typeof due>): string[] => requests.map((r) => `${r.recipient.name} ${r.recipient.channel} ${r.step}.${r.repeat}`);

describe('the planner', () => {
  it('tells the on-call person at once, and the next contact when nobody acknowledged within M minutes', async () => {
    const rules = rulesOf();
    expect(who(due(incident(), rules, at(0)))).toEqual(['Carol sms 0.0']);
    expect(who(due(incident(), rules, at(14)))).toEqual(['Carol sms 0.0']);
    expect(who(due(incident(), rules, at(15)))).toEqual(['Carol sms 0.0', 'Bob email 1.0']);
    const [carol, bob] = due(incident(), rules, at(15));
    expect(carol).toMatchObject({ incidentId: 7, subject: '[CRITICAL] fire at riverside' });
    expect(carol?.ackUrl).toBeUndefined();
    expect(bob?.subject).toBe('[CRITICAL] fire at riverside: not acknowledged for 15 min');
    expect(bob?.text).toContain('Raised at the branch: Mon 2 Jun 2025, 22:00 BST');
    expect(bob?.text).toContain('Nobody has acknowledged it for 15 minutes.');
  });

  it('stops once the incident is acknowledged or cleared', async () => {
    const rules = rulesOf();
    expect(due(incident({ status: 'acknowledged' }), rules, at(60))).toEqual([]);
    expect(due(incident({ status: 'cleared' }), rules, at(60))).toEqual([]);
  });

  it('repeats to everyone told so far until acknowledged, only the latest round of each step', async () => {
    const input = rulesInput();
    (input.rules as Array<{ repeatMinutes?: number }>)[0]!.repeatMinutes = 10;
    const rules = rulesOf(input);
    expect(who(due(incident(), rules, at(9)))).toEqual(['Carol sms 0.0']);
    expect(who(due(incident(), rules, at(10)))).toEqual(['Carol sms 0.1']);
    expect(who(due(incident(), rules, at(25)))).toEqual(['Carol sms 0.2', 'Bob email 1.1']);
    // Central was away for an hour: one reminder each, not six.
    expect(who(due(incident(), rules, at(85)))).toEqual(['Carol sms 0.8', 'Bob email 1.7']);
    expect(due(incident(), rules, at(85))[0]?.subject).toBe('[CRITICAL] fire at riverside: not acknowledged for 80 min');
  });

  it('says when the next round falls due, and stops reminding after MAX_REPEATS', async () => {
    const input = rulesInput();
    (input.rules as Array<{ repeatMinutes?: number }>)[0]!.repeatMinutes = 1;
    const rules = rulesOf(input);
    expect(plan(incident(), rulesOf(), at(0)).next).toEqual(at(15));
    expect(plan(incident(), rulesOf(), at(15)).next).toBeNull();
    expect(plan(incident(), rules, at(12)).next).toEqual(at(13));
    const week = plan(incident(), rules, at(20_000));
    expect(week.rounds.map((r) => r.repeat)).toEqual([MAX_REPEATS, MAX_REPEATS]);
    expect(week.next).toBeNull();
  });

  it('a reminder goes to whoever is on call when it falls due', async () => {
    const input = rulesInput();
    (input.rules as Array<{ repeatMinutes?: number }>)[0]!.repeatMinutes = 30;
    const rules = rulesOf(input);
    // Opened 06:50 BST; the 07:50 reminder is Carol's, the 08:20 one Alice's.
    const early = incident({ openedAt: '2025-06-03T05:50:00.000Z' });
    expect(who(due(early, rules, new Date('2025-06-03T06:50:00Z')))).toContain('Carol sms 0.2');
    expect(who(due(early, rules, new Date('2025-06-03T07:20:00Z')))).toContain('Alice sms 0.3');
  });

  it('an unknown alarm goes by its severity and says it is unknown; no rule, nobody', async () => {
    const rules = rulesOf();
    const unknown = incident({ site: 'north-a', alarm: 'smoke-detected', known: false, severity: 'major' });
    const [first] = due(unknown, rules, at(0));
    expect(first?.text).toContain('This central does not know the alarm "smoke-detected"');
    expect(due(incident({ site: 'riverside', alarm: 'tamper', severity: 'major' }), rules, at(60))).toEqual([]);
  });
});

describe('the scheduler', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function setUp(input = rulesInput()) {
    // The clock moves with the timers, so a tick inside an advance sees its own time.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: at(0) });
    const { db, incidents } = incidentsDb();
    const rules = rulesOf(input);
    const clock = { now: () => new Date() };
    const sink = new TableSink(db);
    const scheduler = new EscalationScheduler({ incidents, rules: () => rules, sink, clock, intervalMs: 60_000 });
    const advance = async (minutes: number): Promise<void> => {
      await vi.advanceTimersByTimeAsync(minutes * 60_000);
    };
    return { db, incidents, sink, scheduler, advance, clock };
  }

  it('the first contact at once, the second after M minutes without acknowledgement, each once; acknowledging stops it', async () => {
    const { incidents, sink, scheduler, advance } = setUp();
    scheduler.start();
    const fire = (await incidents.alarm(raise(), at(0)))!;
    await advance(0);
    expect(sink.summary()).toEqual(['Carol sms 0.0']);
    expect((await incidents.get(fire.id))?.status).toBe('notified');
    await advance(14);
    expect(sink.summary()).toEqual(['Carol sms 0.0']);
    await advance(1);
    expect(sink.summary()).toEqual(['Carol sms 0.0', 'Bob email 1.0']);
    await incidents.acknowledge(fire.id, { actor: 'contact:Bob' }, at(16));
    await advance(120);
    expect(sink.summary()).toEqual(['Carol sms 0.0', 'Bob email 1.0']);
    expect((await incidents.get(fire.id))?.history.map((h) => `${h.kind}: ${h.note ?? ''}`)).toEqual([
      'raised: ',
      'notified: step 1: Carol (sms)',
      'notified: step 2: Bob (email)',
      'acknowledged: ',
    ]);
    scheduler.stop();
  });

  it('repeats until acknowledged', async () => {
    const input = rulesInput();
    (input.rules as Array<{ repeatMinutes?: number }>)[0]!.repeatMinutes = 10;
    const { incidents, sink, scheduler, advance } = setUp(input);
    scheduler.start();
    const fire = (await incidents.alarm(raise(), at(0)))!;
    await advance(0);
    await advance(10);
    await advance(10);
    expect(sink.summary()).toEqual(['Carol sms 0.0', 'Carol sms 0.1', 'Bob email 1.0', 'Carol sms 0.2']);
    await incidents.acknowledge(fire.id, { actor: 'admin:ann' }, at(21));
    await advance(60);
    expect(sink.summary()).toHaveLength(4);
    scheduler.stop();
  });

  it('a refused hand-over is not marked handed, and goes over once on the next tick', async () => {
    const { incidents, sink, scheduler, advance } = setUp();
    sink.failNext = 1;
    scheduler.start();
    const fire = (await incidents.alarm(raise(), at(0)))!;
    await advance(0);
    expect(sink.summary()).toEqual([]);
    expect((await incidents.get(fire.id))?.status).toBe('raised');
    await advance(1);
    expect(sink.summary()).toEqual(['Carol sms 0.0']);
    await advance(1);
    expect(sink.summary()).toEqual(['Carol sms 0.0']);
    scheduler.stop();
  });

  it('raises an offline branch after N minutes and tells the rule\'s contacts', async () => {
    const { incidents, sink, scheduler, advance } = setUp();
    scheduler.start();
    await incidents.availability('hill', false, at(0));
    await advance(9);
    expect(await incidents.open()).toEqual([]);
    await advance(1);
    expect((await incidents.open()).map((i) => `${i.site} ${i.alarm} ${i.status}`)).toEqual(['hill offline notified']);
    expect(sink.summary()).toEqual(['Bob email 0.0']);
    expect(sink.all()[0]?.subject).toBe('[MAJOR] offline at hill');
    scheduler.stop();
  });

  it('a rules change applies at the next tick, to incidents already open', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: at(0) });
    const { db, incidents } = incidentsDb();
    let rules = rulesOf();
    const sink = new TableSink(db);
    const scheduler = new EscalationScheduler({ incidents, rules: () => rules, sink, clock: { now: () => new Date() }, intervalMs: 60_000 });
    scheduler.start();
    await incidents.alarm(raise({ alarm: 'tamper', severity: 'major' }), at(0));
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(sink.summary()).toEqual([]);
    rules = rulesOf(rulesInput({ rules: [{ id: 'any', alarms: ['*'], steps: [{ afterMinutes: 0, contacts: ['Alice'] }] }] }), 2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sink.summary()).toEqual(['Alice email 0.0', 'Alice sms 0.0']);
    scheduler.stop();
  });

  it('a repeat raise at a higher severity is routed by it', async () => {
    const { incidents, sink, scheduler, advance } = setUp();
    scheduler.start();
    await incidents.alarm(raise({ site: 'north-a', alarm: 'smoke-detected', severity: 'minor' }), at(0));
    await advance(5);
    expect(sink.summary()).toEqual([]);
    await incidents.alarm(raise({ site: 'north-a', alarm: 'smoke-detected', severity: 'major' }), at(5));
    await advance(1);
    expect(sink.summary()).toEqual(['Bob email 0.0', 'ARC webhook 0.0']);
    scheduler.stop();
  });

  it('a burst of incidents in one turn is looked at in one tick, at once', async () => {
    const { incidents, sink, scheduler, advance } = setUp();
    scheduler.start();
    await advance(0);
    const tick = vi.spyOn(scheduler, 'tick');
    for (let i = 0; i < 100; i++) await incidents.alarm(raise({ site: `branch-${i}` }), at(0));
    await advance(0);
    expect(tick).toHaveBeenCalledTimes(1);
    expect(sink.all()).toHaveLength(100);
    scheduler.stop();
  });
});
