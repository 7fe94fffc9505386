// Who is inside, on the real gateway (simulated drivers, real SQLite, fake time): entries and exits from what the
// hardware can see, a figure that says when it is an estimate, beams, counter bounces, PIR motion after the close,
// tailgating as an alarm, and the age band on access events.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import type { InputName } from '../../firmware-bridge/types.js';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { advanceTo, defaultConfig, harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const policy = (occupancy?: Record<string, unknown>): Record<string, unknown> => ({
  ...town,
  rules: { ...(town.rules as Record<string, unknown>), ...(occupancy === undefined ? {} : { occupancy }) },
});

const MEMBER = '04A1B2C3D4';
const SECOND = '04A1B2C3D5';
const CHILD = '04C0000001';
const FLAGGED_ADULT = '04C0000002';
const AGE_UNKNOWN = '04C0000003';
const MEMBERS = {
  [MEMBER]: {},
  [SECOND]: {},
  [CHILD]: { birthDate: '2015-03-01' },
  [FLAGGED_ADULT]: { birthDate: null, adult: true },
  [AGE_UNKNOWN]: { birthDate: null, adult: null, staff: true },
};

// Monday 23 November 2026 at the town branch (GMT): open access 08–10, staffed 10–13, open access 13:15–20, then closed.
const at = (hhmm: string): Date => new Date(`2026-11-23T${hhmm}:00Z`);

const scene = harnessPerTest();

type Fitted = 'contact' | 'counter' | 'beams' | 'motion';

/** The branch's inputs: the exit button always; a door contact, a people counter, a beam pair, a PIR as asked. */
function hardware(fitted: readonly Fitted[]): GatewayConfigInput['hardware'] {
  const inputs: Partial<Record<InputName, { debounceMs: number }>> = { exitButton: { debounceMs: 0 } };
  const fit = (...names: InputName[]): void => names.forEach((name) => (inputs[name] = { debounceMs: 0 }));
  if (fitted.includes('contact')) fit('doorContact');
  if (fitted.includes('counter')) fit('counterIn', 'counterOut');
  if (fitted.includes('beams')) fit('beamOuter', 'beamInner');
  if (fitted.includes('motion')) fit('motion');
  return { ...defaultConfig('/not-used').hardware!, inputs };
}

async function start(now: string, fitted: readonly Fitted[], occupancy?: Record<string, unknown>): Promise<Harness> {
  vi.setSystemTime(at(now));
  scene.current = await startHarness({ policy: policy(occupancy), members: MEMBERS, config: { hardware: hardware(fitted) } });
  scene.dirs.push(scene.current.dir);
  return scene.current;
}

function occupancyEvents(h: Harness, change?: string): Array<Record<string, unknown>> {
  return h.events.filter((e) => e.type === 'occupancy' && (change === undefined || e.change === change)) as unknown as Array<Record<string, unknown>>;
}

function openAndShut(h: Harness): void {
  h.input('doorContact', true);
  vi.advanceTimersByTime(2000);
  h.input('doorContact', false);
}

function pressExit(h: Harness): void {
  h.input('exitButton', true);
  h.input('exitButton', false);
}

/** A member taps and two people go in on that one grant, counted by the people counter a second apart. */
function twoInOnOneGrant(h: Harness): void {
  h.tap(MEMBER);
  h.input('doorContact', true);
  for (let i = 0; i < 2; i += 1) {
    h.input('counterIn', true);
    h.input('counterIn', false);
    vi.advanceTimersByTime(1000);
  }
  h.input('doorContact', false);
}

/** Someone crosses the beam pair, breaking `first` then the other, and clearing them in `clearOrder`. */
function cross(h: Harness, first: 'beamOuter' | 'beamInner', clearOrder: ReadonlyArray<'beamOuter' | 'beamInner'>): void {
  const second = first === 'beamOuter' ? 'beamInner' : 'beamOuter';
  h.input(first, true);
  vi.advanceTimersByTime(300);
  h.input(second, true);
  for (const beam of clearOrder) {
    vi.advanceTimersByTime(300);
    h.input(beam, false);
  }
  vi.advanceTimersByTime(1000);
}

describe('exits with a door contact', () => {
  it('takes an exit only when the door opens after the exit request: a press nobody follows through changes nothing', async () => {
    const h = await start('19:00', ['contact']);
    const { gateway } = h.running;
    h.tap(MEMBER);
    openAndShut(h);
    expect(gateway.occupancy.inside).toBe(1);

    pressExit(h);
    vi.advanceTimersByTime(30_000);
    expect(gateway.occupancy.inside).toBe(1);

    pressExit(h);
    openAndShut(h);
    expect(gateway.occupancy.inside).toBe(0);
    expect(occupancyEvents(h).map((e) => [e.change, e.via, e.confidence, e.mode])).toEqual([
      ['entry', 'contact', 'counted', 'open-access'],
      ['exit', 'contact', 'counted', 'open-access'],
    ]);
    expect(occupancyEvents(h, 'entry')[0]).toMatchObject({ grant: 'member' });
    expect(gateway.state.occupancy).toMatchObject({ inside: 0, confidence: 'counted' });
  });

  it('counts one entry for each grant that goes through on one opening', async () => {
    const h = await start('19:00', ['contact']);
    h.tap(MEMBER);
    h.tap(SECOND);
    openAndShut(h);
    expect(h.running.gateway.occupancy.inside).toBe(2);
  });
});

describe('without a door contact', () => {
  it('takes a grant as an entry and an exit request as an exit, and says the figure is estimated', async () => {
    const h = await start('19:00', []);
    const { gateway } = h.running;
    h.tap(MEMBER);
    expect(gateway.occupancy.inside).toBe(1);
    expect(gateway.occupancy.confidence).toBe('estimated');
    pressExit(h);
    expect(gateway.occupancy.inside).toBe(0);
    expect(occupancyEvents(h).map((e) => [e.change, e.via, e.confidence])).toEqual([
      ['entry', 'grant', 'estimated'],
      ['exit', 'exit-request', 'estimated'],
    ]);
    expect(gateway.state.occupancy.confidence).toBe('estimated');
  });

  it('keeps the count and its confidence across a restart, and the close says the figure is an estimate', async () => {
    let h = await start('19:20', []);
    h.tap(MEMBER);
    // A crash: the timers die with the process (and clearing them puts the fake clock back, so it is set again).
    vi.clearAllTimers();
    vi.setSystemTime(at('19:21'));
    h = await h.restart({ clean: false });
    scene.current = h;
    const { gateway } = h.running;
    expect(gateway.occupancy.inside).toBe(1);
    expect(gateway.occupancy.confidence).toBe('estimated');

    advanceTo(at('20:01'));
    expect(gateway.alarms.has('people-inside-after-close')).toBe(true);
    const alarm = h.events.find((e) => e.type === 'alarm' && e.alarm === 'people-inside-after-close');
    expect(alarm).toMatchObject({ state: 'raised', detail: 'about 1 inside (estimated)' });
    expect(gateway.lights.on).toBe(true);
  });
});

describe("staff's lights-off after the close", () => {
  it('confirms the building empty: the alarm clears, and the figure is 0 and counted again, so the next close is quiet', async () => {
    const h = await start('19:20', []);
    const { gateway } = h.running;
    h.tap(MEMBER);
    advanceTo(at('20:01'));
    expect(gateway.alarms.has('people-inside-after-close')).toBe(true);
    expect(gateway.execute({ command: 'lights-off' }, 'mia')).toEqual({ ok: true });
    expect(gateway.alarms.has('people-inside-after-close')).toBe(false);
    expect(gateway.lights.on).toBe(false);
    expect(gateway.state.occupancy).toMatchObject({ inside: 0, confidence: 'counted' });
    expect(occupancyEvents(h, 'reset')).toEqual([expect.objectContaining({ actor: 'mia', inside: 0 })]);
  });
});

describe('staffed hours with only a door contact', () => {
  it('keeps the count at the staffed start, makes it an estimate at the first opening nobody can attribute, and a staff reset counts again', async () => {
    const h = await start('09:30', ['contact']);
    const { gateway } = h.running;
    h.tap(MEMBER);
    openAndShut(h);
    advanceTo(at('10:01'));
    expect(gateway.mode).toBe('staffed');
    expect(gateway.occupancy.inside).toBe(1);
    expect(occupancyEvents(h, 'reset')).toEqual([]);

    // The door is held free: someone went in or out, and nothing says which. The opening is told, not guessed.
    openAndShut(h);
    expect(gateway.occupancy.inside).toBe(1);
    expect(gateway.state.occupancy.confidence).toBe('estimated');
    expect(occupancyEvents(h, 'uncounted')).toEqual([expect.objectContaining({ inside: 1, via: 'contact', mode: 'staffed', confidence: 'estimated' })]);

    // A member who taps anyway is seen going in.
    h.tap(SECOND);
    openAndShut(h);
    expect(gateway.occupancy.inside).toBe(2);
    expect(occupancyEvents(h, 'entry').at(-1)).toMatchObject({ grant: 'staffed', mode: 'staffed', confidence: 'estimated' });

    expect(gateway.execute({ command: 'reset-occupancy' }, 'manager')).toEqual({ ok: true });
    expect(gateway.state.occupancy).toMatchObject({ inside: 0, confidence: 'counted' });
  });

  it('resets at the staffed start when the policy asks', async () => {
    const h = await start('09:30', ['contact'], { resetAtStaffedStart: true });
    h.tap(MEMBER);
    openAndShut(h);
    advanceTo(at('10:01'));
    expect(h.running.gateway.occupancy.inside).toBe(0);
    expect(occupancyEvents(h, 'reset')).toEqual([expect.objectContaining({ actor: 'schedule', confidence: 'counted' })]);
  });
});

describe('a directional pair of beams', () => {
  it('counts outer-then-inner as in and inner-then-outer as out, and records beams broken out of order as ignored', async () => {
    const h = await start('19:00', ['contact', 'beams']);
    const { gateway } = h.running;
    h.tap(MEMBER);
    h.input('doorContact', true);
    cross(h, 'beamOuter', ['beamOuter', 'beamInner']);
    h.input('doorContact', false);
    expect(gateway.occupancy.inside).toBe(1);
    expect(occupancyEvents(h, 'entry')).toEqual([expect.objectContaining({ via: 'beams', grant: 'member', confidence: 'counted' })]);

    pressExit(h);
    h.input('doorContact', true);
    cross(h, 'beamInner', ['beamInner', 'beamOuter']);
    h.input('doorContact', false);
    expect(gateway.occupancy.inside).toBe(0);
    expect(occupancyEvents(h, 'exit')).toEqual([expect.objectContaining({ via: 'beams' })]);

    // In, then back out the way they came: the outer beam was first and last.
    cross(h, 'beamOuter', ['beamInner', 'beamOuter']);
    // Only one beam: someone looked in.
    h.input('beamOuter', true);
    vi.advanceTimersByTime(500);
    h.input('beamOuter', false);
    expect(gateway.occupancy.inside).toBe(0);
    expect(occupancyEvents(h, 'ignored').map((e) => e.detail)).toEqual([
      expect.stringMatching(/out of order/),
      expect.stringMatching(/only the outer beam/),
    ]);
    expect(gateway.occupancy.confidence).toBe('counted');
  });

  it('counts nothing for a beam held broken past the timeout, and counts the next passage', async () => {
    const h = await start('19:00', ['contact', 'beams']);
    const { gateway } = h.running;
    h.input('beamOuter', true);
    h.input('beamInner', true);
    vi.advanceTimersByTime(60_000);
    h.input('beamOuter', false);
    h.input('beamInner', false);
    expect(gateway.occupancy.inside).toBe(0);
    expect(occupancyEvents(h, 'ignored').map((e) => e.detail)).toEqual([expect.stringMatching(/stayed broken/)]);
    cross(h, 'beamOuter', ['beamOuter', 'beamInner']);
    expect(gateway.occupancy.inside).toBe(1);
  });
});

describe('a people counter', () => {
  it('takes pulses closer than the minimum gap as one person, and logs the bounce', async () => {
    const h = await start('19:00', ['contact', 'counter']);
    h.input('counterIn', true);
    h.input('counterIn', false);
    vi.advanceTimersByTime(50);
    h.input('counterIn', true);
    h.input('counterIn', false);
    expect(h.running.gateway.occupancy.inside).toBe(1);
    expect(occupancyEvents(h, 'ignored')).toEqual([expect.objectContaining({ via: 'counter', detail: 'counter in pulses 50 ms apart: one person' })]);
  });

  it('raises one tailgating alarm for a cycle with more entries than grants, counts each person once, and clears it after a quiet while', async () => {
    const h = await start('19:00', ['contact', 'counter']);
    const { gateway } = h.running;
    twoInOnOneGrant(h);
    expect(gateway.occupancy.inside).toBe(2);
    expect(occupancyEvents(h, 'entry')).toHaveLength(2);
    expect(occupancyEvents(h, 'entry').map((e) => e.grant)).toEqual(['member', undefined]);
    expect(occupancyEvents(h, 'tailgate')).toEqual([expect.objectContaining({ entries: 2, grants: 1 })]);
    expect(gateway.alarms.has('tailgating')).toBe(true);
    expect(h.events.filter((e) => e.type === 'alarm' && e.alarm === 'tailgating' && e.state === 'raised')).toHaveLength(1);

    vi.advanceTimersByTime(10 * 60_000);
    expect(gateway.alarms.has('tailgating')).toBe(false);
  });

  it('ends a tailgating alarm restored after a crash after the same quiet while', async () => {
    let h = await start('19:00', ['contact', 'counter']);
    twoInOnOneGrant(h);
    expect(h.running.gateway.alarms.has('tailgating')).toBe(true);
    vi.clearAllTimers();
    vi.setSystemTime(at('19:01'));
    h = await h.restart({ clean: false });
    scene.current = h;
    expect(h.running.gateway.alarms.has('tailgating')).toBe(true);
    vi.advanceTimersByTime(10 * 60_000);
    expect(h.running.gateway.alarms.has('tailgating')).toBe(false);
  });

  it('only logs tailgating when the policy says log', async () => {
    const h = await start('19:00', ['contact', 'counter'], { tailgating: 'log' });
    twoInOnOneGrant(h);
    expect(occupancyEvents(h, 'tailgate')).toHaveLength(1);
    expect(h.running.gateway.alarms.has('tailgating')).toBe(false);
  });
});

describe('PIR motion after the close', () => {
  it('raises people-inside-after-close and keeps the lights on with a count of 0, until the quiet minutes pass', async () => {
    const h = await start('19:50', ['contact', 'motion']);
    const { gateway } = h.running;
    const empty: Array<[string, boolean]> = [];
    gateway.bus.on('building-empty', (isEmpty) => empty.push([new Date().toISOString().slice(11, 16), isEmpty]));
    advanceTo(at('20:00'));
    expect(gateway.occupancy.inside).toBe(0);
    expect(gateway.lights.on).toBe(false);

    advanceTo(at('20:20'));
    h.input('motion', true);
    h.input('motion', false);
    expect(gateway.alarms.has('people-inside-after-close')).toBe(true);
    expect(gateway.lights.on).toBe(true);
    expect(gateway.state.occupancy.motionAt).toBe(at('20:20').toISOString());

    advanceTo(at('20:25'));
    h.input('motion', true);
    h.input('motion', false);
    advanceTo(at('20:34'));
    expect(gateway.alarms.has('people-inside-after-close')).toBe(true);
    expect(gateway.lights.on).toBe(true);

    advanceTo(at('20:35'));
    expect(gateway.alarms.has('people-inside-after-close')).toBe(false);
    expect(gateway.lights.on).toBe(false);
    // What the intruder alarm waits for: empty at the close, not while someone moved about, empty again once quiet.
    expect(empty).toEqual([
      ['20:00', true],
      ['20:20', false],
      ['20:35', true],
    ]);
  });

  it('takes motion just after the close as people leaving: lights on until it is quiet, no alarm', async () => {
    const h = await start('19:50', ['contact', 'motion']);
    const { gateway } = h.running;
    advanceTo(at('20:03'));
    h.input('motion', true);
    h.input('motion', false);
    expect(gateway.lights.on).toBe(true);
    expect(gateway.alarms.has('people-inside-after-close')).toBe(false);
    advanceTo(at('20:13'));
    expect(gateway.lights.on).toBe(false);
  });

  it('lets a PIR confirm an estimated 0 as empty after the quiet minutes', async () => {
    const h = await start('19:55', ['motion']);
    const { gateway } = h.running;
    h.tap(MEMBER);
    h.input('motion', true);
    h.input('motion', false);
    pressExit(h);
    expect(gateway.occupancy).toMatchObject({ inside: 0, confidence: 'estimated' });
    advanceTo(at('20:00'));
    expect(gateway.lights.on).toBe(true);
    expect(gateway.alarms.has('people-inside-after-close')).toBe(false);
    advanceTo(at('20:05'));
    expect(gateway.lights.on).toBe(false);
  });

  it('takes a PIR held in alarm (or its wire cut) as motion all along: the building is never empty while it lasts', async () => {
    const h = await start('19:50', ['contact', 'motion']);
    const { gateway } = h.running;
    advanceTo(at('20:20'));
    h.input('motion', true);
    advanceTo(at('21:00'));
    expect(gateway.alarms.has('people-inside-after-close')).toBe(true);
    expect(gateway.lights.on).toBe(true);
    h.input('motion', false);
    advanceTo(at('21:09'));
    expect(gateway.lights.on).toBe(true);
    advanceTo(at('21:10'));
    expect(gateway.alarms.has('people-inside-after-close')).toBe(false);
    expect(gateway.lights.on).toBe(false);
  });

  it('has no motionAt in the state where no sensor is fitted', async () => {
    const h = await start('19:00', ['contact']);
    expect(h.running.gateway.state.occupancy).not.toHaveProperty('motionAt');
  });
});

describe('a group booking while the branch is closed', () => {
  const CLUB = '04C1000001';
  // Monday evening after the close (20:00): the chess club has the building 20:30–22:00.
  const booked = {
    ...policy(),
    bookings: [{ group: 'chess-club', label: 'Chess club', weekly: { day: 'mon', from: '20:30', to: '22:00' }, minimumAge: null }],
  };

  async function startBooked(now: string, fitted: readonly Fitted[]): Promise<Harness> {
    vi.setSystemTime(at(now));
    scene.current = await startHarness({ policy: booked, members: { ...MEMBERS, [CLUB]: { groups: ['chess-club'] } }, config: { hardware: hardware(fitted) } });
    scene.dirs.push(scene.current.dir);
    return scene.current;
  }

  it('puts the lights on for whoever is let in, raises nothing while the group moves about, and closes again at its end', async () => {
    const h = await startBooked('20:25', ['contact', 'motion']);
    const { gateway } = h.running;
    const told: string[] = [];
    gateway.bus.on('booking-ending', ({ minutes }) => told.push(`${new Date().toISOString().slice(11, 16)} ${minutes}`));
    expect(gateway.mode).toBe('closed');
    expect(gateway.lights.on).toBe(false);

    advanceTo(at('20:31'));
    h.tap(CLUB);
    openAndShut(h);
    expect(gateway.occupancy.inside).toBe(1);
    expect(gateway.lights.on).toBe(true);

    // Long after the schedule's close: movement is the club, not someone left behind.
    advanceTo(at('21:00'));
    h.input('motion', true);
    h.input('motion', false);
    expect(gateway.alarms.has('people-inside-after-close')).toBe(false);
    expect(gateway.lights.on).toBe(true);

    // The booking ends with the member still counted inside: the close's own alarm, saying when.
    advanceTo(at('22:00'));
    // The group was told before the end, at the closing warnings' minutes (15 and 5), as open access is.
    expect(told).toEqual(['21:45 15', '21:55 5']);
    expect(gateway.alarms.has('people-inside-after-close')).toBe(true);
    expect(h.events.filter((e) => e.type === 'alarm' && e.alarm === 'people-inside-after-close').at(-1)).toMatchObject({ detail: '1 counted inside at the end of the booking' });
    expect(gateway.lights.on).toBe(true);

    // They leave; it is empty once nothing has moved for the quiet minutes.
    pressExit(h);
    openAndShut(h);
    advanceTo(at('22:11'));
    expect(gateway.alarms.has('people-inside-after-close')).toBe(false);
    expect(gateway.lights.on).toBe(false);
  });
});

describe('the age band on access events', () => {
  it('is child or adult by birth date or adult flag, unknown where neither is held, and absent for an unknown card', async () => {
    const h = await start('19:00', ['contact']);
    for (const card of [MEMBER, CHILD, FLAGGED_ADULT, AGE_UNKNOWN, '04FFFFFFFF']) {
      h.tap(card);
      vi.advanceTimersByTime(5000);
    }
    const access = h.events.filter((e) => e.type === 'access') as unknown as Array<Record<string, unknown>>;
    expect(access.map((e) => [e.reason, e.ageBand])).toEqual([
      ['member', 'adult'],
      ['under-age', 'child'],
      ['member', 'adult'],
      ['staff', 'unknown'],
      ['unknown-card', undefined],
    ]);
  });
});
