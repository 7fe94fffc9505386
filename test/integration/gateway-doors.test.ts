// A branch with a second door (a meeting room with its own reader, relay, contact and exit button): each door is
// driven by its own reader and inputs, and both share one count, one set of alarms and the branch's mode.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { harnessPerTest, startHarness, type Harness } from '../helpers/gateway-harness.js';

const town = parse(readFileSync(new URL('../../policies/examples/town.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const CARD = '04A1B2C3D4';
const ROOM = 'meeting-room';

const scene = harnessPerTest();

const CHESS_CARD = '04C0FFEE01';
/** The chess club has the meeting room (and only it) on Monday evenings, after the library has closed at 20:00. */
const withBooking = { ...town, bookings: [{ group: 'chess-club', label: 'Chess club', weekly: { day: 'mon', from: '20:00', to: '22:00' }, doors: [ROOM] }] };

async function twoDoors(at = '2026-11-23T19:00:00Z'): Promise<Harness> {
  vi.setSystemTime(new Date(at)); // Monday 19:00: open access
  scene.current = await startHarness({
    policy: withBooking,
    members: { [CARD]: {}, [CHESS_CARD]: { groups: ['chess-club'] } },
    config: {
      hardware: {
        gpio: { driver: 'simulated' },
        inputs: { doorContact: { debounceMs: 0 }, exitButton: { debounceMs: 0 }, fireAlarm: { debounceMs: 0 } },
        readers: [
          { id: 'entry', driver: 'simulated', role: 'entry' },
          { id: 'room', driver: 'simulated', role: 'entry', door: ROOM },
        ],
        doors: [{ id: ROOM, contact: { debounceMs: 0 }, exit: { debounceMs: 0 } }],
      },
    },
  });
  return scene.current;
}

function room(h: Harness) {
  return h.running.hardware.simulated!.doors[ROOM]!;
}

describe('a second door', () => {
  it('opens for a card at its own reader: its relay pulses, the main door stays locked, and the entry is counted once with its door', async () => {
    const h = await twoDoors();
    const { gateway } = h.running;
    h.tap(CARD, 'room');
    expect(room(h).relay.active).toBe(true);
    expect(h.doorRelayActive()).toBe(false);
    expect(h.events.filter((e) => e.type === 'access').map((e) => [e.decision, e.door])).toEqual([['granted', ROOM]]);
    room(h).contact!.set(true);
    room(h).contact!.set(false);
    expect(gateway.occupancy.inside).toBe(1);
    expect(h.events.filter((e) => e.type === 'occupancy').map((e) => [e.change, e.door])).toEqual([['entry', ROOM]]);
    // The relay relocks as the door shuts; the state lists both doors.
    expect(room(h).relay.active).toBe(false);
    expect(gateway.state.doors).toEqual([
      { id: 'main', state: 'locked' },
      { id: ROOM, state: 'locked' },
    ]);
  });

  it("counts an exit at the second door into the branch's one count", async () => {
    const h = await twoDoors();
    const { gateway } = h.running;
    h.tap(CARD, 'entry');
    h.input('doorContact', true);
    h.input('doorContact', false);
    expect(gateway.occupancy.inside).toBe(1);
    room(h).exit!.set(true);
    expect(room(h).relay.active).toBe(true);
    expect(h.doorRelayActive()).toBe(false);
    room(h).contact!.set(true);
    room(h).contact!.set(false);
    expect(gateway.occupancy.inside).toBe(0);
    expect(h.events.filter((e) => e.type === 'occupancy').map((e) => [e.change, e.door])).toEqual([
      ['entry', 'main'],
      ['exit', ROOM],
    ]);
  });

  it('raises forced-open naming the second door, and the main door shutting does not end it', async () => {
    const h = await twoDoors();
    const { gateway } = h.running;
    room(h).contact!.set(true);
    expect(gateway.alarms.list()).toContain('forced-open');
    expect(h.events.flatMap((e) => (e.type === 'alarm' && e.alarm === 'forced-open' ? [e.detail] : []))).toEqual([`door ${ROOM}`]);
    expect(gateway.state.doors?.[1]).toEqual({ id: ROOM, state: 'forced-open' });
    expect(gateway.door.state).toBe('locked');
    // Someone leaves by the main door: its cycle ends, the meeting room still stands forced open.
    h.input('exitButton', true);
    h.input('doorContact', true);
    h.input('doorContact', false);
    expect(gateway.alarms.list()).toContain('forced-open');
    room(h).contact!.set(false);
    expect(gateway.alarms.list()).not.toContain('forced-open');
  });

  it('the fire input releases both doors; stop leaves both relays locked and held', async () => {
    const h = await twoDoors();
    const { gateway } = h.running;
    h.input('fireAlarm', true);
    expect(h.doorRelayActive()).toBe(true);
    expect(room(h).relay.active).toBe(true);
    expect(gateway.state.doors?.map((d) => d.state)).toEqual(['released', 'released']);
    await h.stop();
    scene.current = undefined;
    expect(h.doorRelayActive()).toBe(false);
    expect(room(h).relay.active).toBe(false);
  });

  it('lockdown holds both doors: a card at either is refused, the exit button of the second still releases it', async () => {
    const h = await twoDoors();
    expect(h.running.gateway.execute({ command: 'lockdown-on' }, 'manager')).toEqual({ ok: true });
    h.tap(CARD, 'room');
    expect(room(h).relay.active).toBe(false);
    room(h).exit!.set(true);
    expect(room(h).relay.active).toBe(true);
    expect(h.doorRelayActive()).toBe(false);
  });

  it('unlock takes a door: no door is the main one; an unknown door is refused by name and nothing moves', async () => {
    const h = await twoDoors();
    const { gateway } = h.running;
    expect(gateway.execute({ command: 'unlock', door: ROOM }, 'manager')).toEqual({ ok: true });
    expect(room(h).relay.active).toBe(true);
    expect(h.doorRelayActive()).toBe(false);
    expect(h.events.filter((e) => e.type === 'staff').map((e) => [e.action, e.door])).toEqual([['unlock', ROOM]]);
    expect(gateway.execute({ command: 'lock', door: ROOM }, 'manager')).toEqual({ ok: true });
    expect(room(h).relay.active).toBe(false);
    expect(gateway.execute({ command: 'unlock' }, 'manager')).toEqual({ ok: true });
    expect(h.doorRelayActive()).toBe(true);
    expect(gateway.execute({ command: 'unlock', door: 'back' }, 'manager')).toEqual({ ok: false, error: 'door: no door "back" at this branch (doors: main, meeting-room)' });
    expect(gateway.execute({ command: 'lights-on', door: ROOM }, 'manager')).toEqual({ ok: false, error: 'door: only allowed with unlock and lock' });
    expect(room(h).relay.active).toBe(false);
  });

  it("opens the meeting room for a group booking's card at its reader while the library is closed, and not the main door", async () => {
    const h = await twoDoors('2026-11-23T20:30:00Z'); // Monday 20:30: closed, the chess club's booking running
    expect(h.running.gateway.mode).toBe('closed');
    h.tap(CARD, 'room');
    expect(room(h).relay.active).toBe(false);
    // The booking names the meeting room: at the main door's reader the chess card is refused as on any closed night.
    h.tap(CHESS_CARD, 'entry');
    expect(h.doorRelayActive()).toBe(false);
    // Straight round to the meeting room's reader: a tap of its own there, however soon (the repeat window is per reader).
    h.tap(CHESS_CARD, 'room');
    expect(room(h).relay.active).toBe(true);
    expect(h.doorRelayActive()).toBe(false);
    expect(h.events.filter((e) => e.type === 'access').map((e) => [e.reason, e.door])).toEqual([
      ['closed', ROOM],
      ['closed', 'main'],
      ['booking', ROOM],
    ]);
  });

  it('refuses a policy from central whose booking names a door the branch does not have, and keeps the one in force', async () => {
    const h = await twoDoors();
    const { gateway } = h.running;
    const typo = { ...withBooking, version: 2, bookings: [{ ...withBooking.bookings[0], doors: ['meeting-rom'] }] };
    const error = 'bookings[0].doors[0]: no door "meeting-rom" at this branch (doors: main, meeting-room)';
    expect(gateway.policies.offer(typo, 'central')).toMatchObject({ ok: false, errors: [error] });
    expect(h.events.filter((e) => e.type === 'policy')).toMatchObject([{ result: 'refused', source: 'central', error }]);
    expect(gateway.policies.current.bookings[0]?.doors).toEqual([ROOM]);
  });
});

describe('a branch with one door', () => {
  it('names no door in its events or state, as before several doors existed', async () => {
    vi.setSystemTime(new Date('2026-11-23T19:00:00Z'));
    scene.current = await startHarness({ policy: town, members: { [CARD]: {} } });
    const h = scene.current;
    h.tap(CARD, 'entry');
    h.input('doorContact', true);
    h.input('doorContact', false);
    expect(h.events.filter((e) => ['access', 'occupancy', 'door'].includes(e.type)).some((e) => 'door' in e)).toBe(false);
    expect(h.running.gateway.state.doors).toBeUndefined();
  });
});
