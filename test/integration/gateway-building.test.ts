// The building runs itself, on the real gateway (simulated drivers and a simulated alarm panel, real SQLite, fake
// time): the public PCs follow the schedule, the intruder alarm sets once the branch is closed and empty and unsets
// before opening, a panel that will not set is a fault a person can act on, a clock that cannot be believed holds
// both, a fire leaves the panel to the building, and the door never waits for any of it.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { SimulatedIntruderPanel } from '../../firmware-bridge/simulated/intruder-panel.js';
import { hashPin } from '../../policies/pin.js';
import { GatewayStateSchema } from '../../policies/contract/state.js';
import { systemClock } from '../../gateway/core/clock.js';
import type { ClockProbeIo } from '../../gateway/core/clock-trust.js';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { advanceTo, defaultConfig, harnessPerTest, startHarness } from '../helpers/gateway-harness.js';
import type { Harness, HarnessOptions } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
/** Town Central with its public PCs on from 10 minutes before opening to 15 minutes before the close, and a panel. */
const policy = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...town,
  outputs: { pcs: [{ during: ['open-access', 'staffed', 'changeover'], fromMinutes: -10, untilMinutes: -15 }] },
  intruderAlarm: { unsetMinutesBefore: 10, confirmSeconds: 60 },
  ...extra,
});

const MEMBER = '04A1B2C3D4';
const STAFF = '04EE0000AA';
const MEMBERS = { [MEMBER]: {}, [STAFF]: { staff: true } };

// Monday 23 November 2026 at the town branch (GMT): open access 13:15–20:00, then closed until Tuesday 08:00.
const at = (hhmm: string, day = 23): Date => new Date(`2026-11-${day}T${hhmm}Z`);
const MARKER = '/run/systemd/timesync/synchronized';

const scene = harnessPerTest();

/** A door contact, an exit button, a PIR, the fire input, the PCs' contactor and the panel's wiring. */
function hardware(): GatewayConfigInput['hardware'] {
  return {
    ...defaultConfig('/not-used').hardware!,
    inputs: {
      doorContact: { debounceMs: 0 },
      exitButton: { debounceMs: 0 },
      motion: { debounceMs: 0 },
      fireAlarm: { debounceMs: 0 },
    },
    switched: [{ id: 'pcs', label: 'Public PCs' }],
    intruderAlarm: { status: { debounceMs: 0 }, pulseMs: 1000 },
  } as GatewayConfigInput['hardware'];
}

interface Scene {
  h: Harness;
  /** The panel on the end of the wiring (a new one once set at its keypad). */
  panel: SimulatedIntruderPanel;
  /** `secured` in each state the gateway published, with the time. */
  secured: Array<[string, boolean | undefined]>;
}

async function start(
  now: Date,
  options: { policy?: Record<string, unknown>; members?: HarnessOptions['members']; hardware?: GatewayConfigInput['hardware']; clock?: ClockProbeIo } = {},
): Promise<Scene> {
  vi.setSystemTime(now);
  const h = await startHarness({
    policy: options.policy ?? policy(),
    members: options.members ?? MEMBERS,
    config: { hardware: options.hardware ?? hardware(), ...(options.clock === undefined ? {} : { clock: { trust: 'timesyncd', syncMarker: MARKER } }) },
    ...(options.clock === undefined ? {} : { start: { clockProbeIo: options.clock } }),
  });
  scene.current = h;
  scene.dirs.push(h.dir);
  const panel = panelOn(h);
  const secured: Scene['secured'] = [];
  h.running.gateway.bus.on('state-changed', () => secured.push([hhmmss(), h.running.gateway.state.secured]));
  return { h, panel, secured };
}

function panelOn(h: Harness): SimulatedIntruderPanel {
  return new SimulatedIntruderPanel({
    wiring: h.running.hardware.simulated!.intruderAlarm!,
    // The system clock's timers are vitest's fake ones here: the panel's exit time passes with the branch's.
    clock: systemClock,
  });
}

/** Someone sets the panel at its own keypad: its status input goes active, and the panel is set. */
function setAtKeypad(s: Scene): void {
  s.panel.detach();
  s.h.running.hardware.simulated!.intruderAlarm!.status.set(true);
  s.panel = panelOn(s.h);
}

function hhmmss(): string {
  return new Date().toISOString().slice(11, 19);
}

/** The building's events as stored (those at start too), with what matters in each, in order. */
function building(h: Harness): string[] {
  const stored = h.running.store.events.query({ types: ['output', 'intruder-alarm', 'alarm'], limit: 1000 }).reverse();
  return stored.flatMap((e) => {
    const x = e.data;
    const time = String(e.at).slice(11, 19);
    if (e.type === 'intruder-alarm') return [`${time} intruder-alarm ${x.action} ${x.outcome} (${x.by})`];
    if (e.type === 'output') return [`${time} output ${x.output} ${x.on ? 'on' : 'off'} (${x.by})`];
    if (e.type === 'alarm' && x.alarm === 'intruder-alarm-fault') return [`${time} alarm ${x.alarm} ${x.state}`];
    return [];
  });
}

function panelPulses(h: Harness, output: 'set' | 'unset'): number {
  return h.running.hardware.simulated!.intruderAlarm![output].history.filter((write) => write.active).length;
}

/** The last visitor leaves through the door at 19:58, moving past the PIR on the way out. */
function lastVisitorLeaves(h: Harness): void {
  h.input('motion', true);
  h.input('motion', false);
  h.input('exitButton', true);
  h.input('exitButton', false);
  h.input('doorContact', true);
  vi.advanceTimersByTime(2000);
  h.input('doorContact', false);
}

function visitorComesIn(h: Harness): void {
  h.tap(MEMBER);
  h.input('doorContact', true);
  vi.advanceTimersByTime(2000);
  h.input('doorContact', false);
}

describe('an evening at a branch with an intruder alarm', () => {
  it('sets the alarm once the last visitor has gone and the building is quiet, and says the branch is secured', async () => {
    const { h, panel, secured } = await start(at('19:20:00'));
    const { gateway } = h.running;
    visitorComesIn(h);
    expect(gateway.occupancy.inside).toBe(1);
    expect(gateway.state.intruderAlarm).toEqual({ state: 'unset', since: null });

    advanceTo(at('19:58:00'));
    lastVisitorLeaves(h);
    expect(gateway.occupancy.inside).toBe(0);
    advanceTo(at('20:07:59'));
    // Closed at 20:00 with a count of 0, but someone moved at 19:58: not empty until the quiet minutes have passed.
    expect(panelPulses(h, 'set')).toBe(0);
    expect(gateway.state.secured).toBe(false);

    advanceTo(at('20:08:00'));
    expect(h.running.hardware.intruderAlarm!.set.active).toBe(true);
    expect(gateway.state.intruderAlarm).toEqual({ state: 'setting', since: at('20:08:00').toISOString() });
    advanceTo(at('20:08:01'));
    expect(h.running.hardware.intruderAlarm!.set.active).toBe(false);
    expect(panel.state).toBe('exit');
    expect(gateway.state.secured).toBe(false);

    // The panel's exit time (30 s from the contact it took 0.2 s in) ends and its status input says set.
    advanceTo(at('20:08:31'));
    expect(gateway.state.intruderAlarm).toEqual({ state: 'set', since: at('20:08:30.200').toISOString() });
    expect(gateway.state.secured).toBe(true);
    expect(secured.at(-1)).toEqual(['20:08:30', true]);
    expect(panelPulses(h, 'set')).toBe(1);
    expect(gateway.alarms.has('intruder-alarm-fault')).toBe(false);
    expect(building(h)).toEqual([
      '19:20:00 output pcs on (start)',
      '19:45:00 output pcs off (schedule)',
      '20:08:00 intruder-alarm set requested (empty after close)',
      '20:08:30 intruder-alarm set confirmed (empty after close)',
    ]);
    const order = h.events.map((e) => e.type).filter((type) => type === 'mode' || type === 'intruder-alarm');
    expect(order).toEqual(['mode', 'intruder-alarm', 'intruder-alarm']);
    // As the uplink publishes it (its own `uplink` added), the state passes the contract.
    const published = GatewayStateSchema.parse({ ...gateway.state, uplink: { connectedAt: null, reconnects: 0 } });
    expect(published).toMatchObject({ outputs: [{ id: 'pcs', on: false, label: 'Public PCs' }], intruderAlarm: { state: 'set' }, secured: true });
  });

  it('raises a fault a person can act on when the panel will not set, and the branch is not secured', async () => {
    const { h, panel } = await start(at('19:50:00'));
    const { gateway } = h.running;
    panel.refuseSet = true;
    advanceTo(at('20:00:00'));
    expect(gateway.state.intruderAlarm?.state).toBe('setting');

    advanceTo(at('20:00:59'));
    expect(gateway.alarms.has('intruder-alarm-fault')).toBe(false);
    advanceTo(at('20:01:00'));
    expect(gateway.alarms.has('intruder-alarm-fault')).toBe(true);
    const fault = h.events.find((e) => e.type === 'alarm' && e.alarm === 'intruder-alarm-fault');
    expect(fault).toMatchObject({
      state: 'raised',
      severity: 'major',
      detail: 'the intruder alarm did not set 60 s after the branch asked: a zone may be open; check the panel',
    });
    expect(gateway.state.intruderAlarm?.state).toBe('unset');
    expect(gateway.state.secured).toBe(false);
    expect(building(h)).toEqual([
      '20:00:00 intruder-alarm set requested (empty after close)',
      '20:01:00 intruder-alarm set failed (empty after close)',
      '20:01:00 alarm intruder-alarm-fault raised',
    ]);

    // Someone comes and sets it at the panel's keypad: theirs, reported, and the fault is over.
    h.running.hardware.simulated!.intruderAlarm!.status.set(true);
    expect(gateway.alarms.has('intruder-alarm-fault')).toBe(false);
    expect(gateway.state.secured).toBe(true);
    expect(building(h).slice(3)).toEqual(['20:01:00 intruder-alarm set at-panel (panel)', '20:01:00 alarm intruder-alarm-fault cleared']);
  });

  it('keeps the alarm unset and the branch not secured while the PIR sees someone after the close, and sets it once quiet', async () => {
    const { h } = await start(at('19:50:00'));
    const { gateway } = h.running;
    advanceTo(at('19:59:00'));
    h.input('motion', true);
    h.input('motion', false);
    advanceTo(at('20:05:00'));
    h.input('motion', true);
    h.input('motion', false);
    advanceTo(at('20:14:59'));
    expect(panelPulses(h, 'set')).toBe(0);
    expect(gateway.state.intruderAlarm?.state).toBe('unset');
    expect(gateway.state.secured).toBe(false);

    advanceTo(at('20:15:00'));
    expect(gateway.state.intruderAlarm?.state).toBe('setting');
    advanceTo(at('20:16:00'));
    expect(gateway.state.secured).toBe(true);
  });

  it('decides a tap during a pending set as always: the door is never held up for the panel', async () => {
    const { h } = await start(at('19:50:00'));
    const { gateway } = h.running;
    advanceTo(at('20:00:00'));
    expect(gateway.state.intruderAlarm?.state).toBe('setting');

    h.tap(MEMBER);
    expect(h.reasons()).toEqual(['closed']);
    expect(h.doorRelayActive()).toBe(false);
    h.tap(STAFF);
    // Granted and the relay written within the tap itself, whatever the panel is doing.
    expect(h.reasons()).toEqual(['closed', 'staff']);
    expect(h.doorRelayActive()).toBe(true);
    // With the default `unsetInClosedHours: panel-keypad` a staff card never unsets the panel: the keypad is theirs to use.
    advanceTo(at('20:02:00'));
    expect(panelPulses(h, 'unset')).toBe(0);
    expect(gateway.state.intruderAlarm?.state).toBe('set');
  });
});

describe('a group booking in closed hours', () => {
  it('unsets the alarm before the group comes, and sets it again once they have gone', async () => {
    const CLUB = '04C1000001';
    const { h } = await start(at('19:50:00'), {
      policy: policy({ bookings: [{ group: 'chess-club', label: 'Chess club', weekly: { day: 'mon', from: '21:00', to: '22:00' }, minimumAge: null }] }),
      members: { ...MEMBERS, [CLUB]: { groups: ['chess-club'] } },
    });
    const { gateway } = h.running;
    advanceTo(at('20:01:00'));
    expect(gateway.state.intruderAlarm?.state).toBe('set');

    // Ten minutes before the booking, as before opening hours: the group must not walk into a set alarm.
    advanceTo(at('20:50:05'));
    expect(gateway.state.intruderAlarm?.state).toBe('unset');
    advanceTo(at('21:01:00'));
    h.tap(CLUB);
    expect(h.reasons()).toEqual(['booking']);
    h.input('doorContact', true);
    vi.advanceTimersByTime(2000);
    h.input('doorContact', false);
    advanceTo(at('21:45:00'));
    lastVisitorLeaves(h);
    // The booking's end is a close: empty and quiet, so the alarm is set again.
    advanceTo(at('22:01:00'));
    expect(gateway.state.intruderAlarm?.state).toBe('set');
    expect(building(h).filter((line) => line.includes('intruder-alarm'))).toEqual([
      '20:00:00 intruder-alarm set requested (empty after close)',
      '20:00:30 intruder-alarm set confirmed (empty after close)',
      '20:50:00 intruder-alarm unset requested (before the booking of Chess club)',
      '20:50:01 intruder-alarm unset confirmed (before the booking of Chess club)',
      '22:00:00 intruder-alarm set requested (empty after close)',
      '22:00:30 intruder-alarm set confirmed (empty after close)',
    ]);
  });
});

describe('a member of staff at closed hours, with unsetInClosedHours: staff-card-and-pin', () => {
  it('asks the staff card for its PIN while the panel is set; the PIN opens the door and unsets the panel; a member card never does', async () => {
    const s = await start(at('21:00:00'), {
      policy: policy({ intruderAlarm: { unsetInClosedHours: 'staff-card-and-pin' } }),
      members: { [MEMBER]: { pinHash: hashPin('1357') }, [STAFF]: { staff: true, pinHash: hashPin('2468') } },
      hardware: { ...hardware(), keypad: { driver: 'simulated' } } as GatewayConfigInput['hardware'],
    });
    const { h } = s;
    setAtKeypad(s);
    const { gateway } = h.running;
    const keypad = h.running.hardware.simulated!.keypad!;
    expect(gateway.state.intruderAlarm?.state).toBe('set');

    h.tap(MEMBER);
    keypad.enter('1357');
    await gateway.access.pinChecksDone();
    expect(h.reasons()).toEqual(['closed']);

    // The card alone is not enough while the alarm guards the building: a found staff card must not walk in.
    h.tap(STAFF);
    expect(h.reasons()).toEqual(['closed', 'pin-required']);
    expect(h.doorRelayActive()).toBe(false);
    keypad.enter('0000');
    await gateway.access.pinChecksDone();
    expect(h.reasons().at(-1)).toBe('pin-wrong');
    expect(panelPulses(h, 'unset')).toBe(0);

    vi.advanceTimersByTime(4000);
    h.tap(STAFF);
    keypad.enter('2468');
    await gateway.access.pinChecksDone();
    expect(h.reasons().at(-1)).toBe('staff');
    expect(h.doorRelayActive()).toBe(true);
    expect(h.running.hardware.intruderAlarm!.unset.active).toBe(true);
    vi.advanceTimersByTime(2000);
    expect(gateway.state.intruderAlarm?.state).toBe('unset');
    expect(building(h).filter((line) => line.includes('intruder-alarm unset'))).toEqual([
      expect.stringMatching(/intruder-alarm unset requested \(staff card and PIN \(.+\)\)$/),
      expect.stringMatching(/intruder-alarm unset confirmed \(staff card and PIN/),
    ]);
    // No clear card number in what the branch keeps: the staff card is named by its pseudonym.
    expect(JSON.stringify(h.running.store.events.query({ types: ['intruder-alarm'], limit: 10 }))).not.toContain(STAFF);
  });

  it('lets a staff card in on the card alone once the panel is unset', async () => {
    const { h } = await start(at('21:00:00'), { policy: policy({ intruderAlarm: { unsetInClosedHours: 'staff-card-and-pin' } }) });
    expect(h.running.gateway.state.intruderAlarm?.state).toBe('unset');
    h.tap(STAFF);
    expect(h.reasons()).toEqual(['staff']);
  });
});

describe('the morning', () => {
  it('unsets the alarm 10 minutes before open access and the panel confirms it', async () => {
    const s = await start(at('22:00:00'));
    const { h } = s;
    const { gateway } = h.running;
    // Nothing is pulsed at start; the panel is set at its keypad by whoever locked up, and that is reported.
    expect(panelPulses(h, 'set')).toBe(0);
    setAtKeypad(s);
    expect(gateway.state.intruderAlarm?.state).toBe('set');
    expect(gateway.state.secured).toBe(true);

    advanceTo(at('07:49:59', 24));
    expect(panelPulses(h, 'unset')).toBe(0);
    advanceTo(at('07:50:00', 24));
    expect(h.running.hardware.intruderAlarm!.unset.active).toBe(true);
    expect(gateway.state.intruderAlarm?.state).toBe('unsetting');
    advanceTo(at('07:50:02', 24));
    expect(s.panel.state).toBe('unset');
    expect(gateway.state.intruderAlarm).toEqual({ state: 'unset', since: at('07:50:01.200', 24).toISOString() });
    expect(gateway.state.secured).toBe(false);
    expect(building(h)).toEqual([
      '22:00:00 intruder-alarm set at-panel (panel)',
      '07:50:00 output pcs on (schedule)',
      '07:50:00 intruder-alarm unset requested (before open access)',
      '07:50:01 intruder-alarm unset confirmed (before open access)',
    ]);
  });
});

describe('the public PCs', () => {
  it('go off 15 minutes before the close and on 10 minutes before the next opening, each an output event', async () => {
    const { h } = await start(at('19:40:00'));
    const { gateway } = h.running;
    const pcs = h.running.hardware.switched.get('pcs')!;
    expect(pcs.active).toBe(true);
    expect(gateway.state.outputs).toEqual([{ id: 'pcs', on: true, label: 'Public PCs' }]);
    advanceTo(at('19:44:59'));
    expect(pcs.active).toBe(true);
    advanceTo(at('19:45:00'));
    expect(pcs.active).toBe(false);
    expect(gateway.state.outputs).toEqual([{ id: 'pcs', on: false, label: 'Public PCs' }]);
    advanceTo(at('07:49:59', 24));
    expect(pcs.active).toBe(false);
    advanceTo(at('07:50:00', 24));
    expect(pcs.active).toBe(true);
    expect(building(h).filter((line) => line.includes('output'))).toEqual([
      '19:40:00 output pcs on (start)',
      '19:45:00 output pcs off (schedule)',
      '07:50:00 output pcs on (schedule)',
    ]);
  });
});

describe('a clock the branch cannot trust', () => {
  /** systemd-timesyncd as the gateway sees it: `synced` puts its marker in place. */
  function fakeTimesyncd(): ClockProbeIo & { synced: boolean } {
    const io = {
      synced: false,
      readFile: async () => undefined,
      exists: async (path: string) => io.synced && path === MARKER,
      run: async () => undefined,
    };
    return io;
  }

  it('holds the outputs and does not unset the alarm, says so in the fault, and catches up once the clock is believed', async () => {
    const timesyncd = fakeTimesyncd();
    const s = await start(at('07:30:00', 24), { clock: timesyncd });
    const { h } = s;
    const { gateway } = h.running;
    setAtKeypad(s);
    const pcs = h.running.hardware.switched.get('pcs')!;

    await vi.advanceTimersByTimeAsync(at('07:50:30', 24).getTime() - Date.now());
    expect(gateway.state.clock.trusted).toBe(false);
    expect(pcs.active).toBe(false);
    expect(panelPulses(h, 'unset')).toBe(0);
    expect(gateway.state.intruderAlarm?.state).toBe('set');
    const fault = h.events.find((e) => e.type === 'alarm' && e.alarm === 'intruder-alarm-fault');
    expect(fault).toMatchObject({
      state: 'raised',
      detail: 'the clock is not trusted, so the branch did not unset the intruder alarm before opening: it stays set; unset it at the panel’s keypad',
    });

    timesyncd.synced = true;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(gateway.state.clock.trusted).toBe(true);
    expect(pcs.active).toBe(true);
    expect(panelPulses(h, 'unset')).toBe(1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(gateway.state.intruderAlarm?.state).toBe('unset');
    expect(gateway.alarms.has('intruder-alarm-fault')).toBe(false);
  });
});

describe('a fire', () => {
  it('leaves the panel to the building: no set at the close, and its changes are reported as at the panel', async () => {
    const { h } = await start(at('19:40:00'));
    const { gateway } = h.running;
    h.input('fireAlarm', true);
    expect(gateway.mode).toBe('emergency');
    advanceTo(at('20:30:00'));
    expect(panelPulses(h, 'set')).toBe(0);
    h.running.hardware.simulated!.intruderAlarm!.status.set(true);
    expect(gateway.state.intruderAlarm?.state).toBe('set');
    expect(building(h).filter((line) => line.includes('intruder-alarm '))).toEqual(['20:30:00 intruder-alarm set at-panel (panel)']);
    // The PCs follow their schedule through the fire: the fire system's own interlocks cut what must be cut.
    expect(building(h).filter((line) => line.includes('output'))).toEqual(['19:40:00 output pcs on (start)', '19:45:00 output pcs off (schedule)']);
  });
});

describe('a policy that names an output the branch does not have', () => {
  it('is refused with the path and the outputs this branch has; the one in force stays', async () => {
    const { h } = await start(at('12:00:00'));
    const { gateway } = h.running;
    const result = gateway.offerPolicy({ ...policy({ outputs: { kiosk: [{ during: ['open-access'] }] } }), version: 2 }, 'central');
    expect(result).toMatchObject({ ok: false, errors: ['outputs.kiosk: no switched output "kiosk" at this branch (outputs: pcs)'] });
    expect(gateway.policies.current.version).toBe(1);
  });
});
