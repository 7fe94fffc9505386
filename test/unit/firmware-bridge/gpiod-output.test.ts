// Outputs on the character device through gpioset, against a chip and tools played in process (gpiod-fakes.ts): the
// safe level is the level the line is requested at, a change reaches the line, a gpioset that dies is a fault (until
// a new one holds the line: gpiod-respawn.test.ts).
import { describe, expect, it } from 'vitest';
import { GpiodOutput } from '../../../firmware-bridge/gpio/gpiod-output.js';
import { probeGpiodTools, type GpiodTools } from '../../../firmware-bridge/gpio/gpiod-tools.js';
import { fakeChip, settle, type FakeChip, type ToolsFlavour } from './gpiod-fakes.js';
import { recordingLogger } from './fakes.js';
import { TestClock } from '../../helpers/test-clock.js';

async function tools(chip: FakeChip): Promise<GpiodTools> {
  return probeGpiodTools(chip.spawn);
}

// A fail-safe maglock on an active-low relay board: energised (pin low) holds the door locked, so its safe level is low.
const maglock = { activeLevel: 'low', safe: 'active' } as const;
// A strike on an active-high board: safe unpowered, pin low.
const strike = { activeLevel: 'high', safe: 'inactive' } as const;

/** Ready, and the tools' side played out (libgpiod 1 says nothing once it holds a line: ready resolves at once). */
async function held(output: GpiodOutput): Promise<void> {
  await output.ready();
  await settle();
}

describe.each<ToolsFlavour>(['v2-interactive', 'v2', 'v1'])('an output held by gpioset (%s)', (flavour) => {
  it('requests its line already at the safe level, before anything else reaches the line', async () => {
    const chip = fakeChip(flavour);
    const t = await tools(chip);
    const log = recordingLogger();
    const door = new GpiodOutput('door', maglock, { chip: 'gpiochip0', offset: 17 }, t, chip.spawn, log.logger);
    await held(door);
    expect(door.active).toBe(true);
    // One gpioset, started with the safe level in its request: the line never showed the other level.
    const holders = chip.commands().filter((c) => c.startsWith('gpioset') && c.includes('17='));
    expect(holders).toHaveLength(1);
    expect(holders[0]).toMatch(/ 17=0$/);
    expect(chip.line(17).driven).toEqual([0]);
    expect(chip.owner(17)).toBeDefined();
    door.close();
  });

  it('drives the line on set, reads it back, and goes back to safe', async () => {
    const chip = fakeChip(flavour);
    const door = new GpiodOutput('door', strike, { chip: 'gpiochip0', offset: 17 }, await tools(chip), chip.spawn, recordingLogger().logger);
    await held(door);
    door.set(true);
    await settle();
    expect(chip.line(17).level).toBe(1);
    expect(await door.readback()).toBe(true);
    door.set(false);
    await settle();
    expect(chip.line(17).level).toBe(0);
    expect(await door.readback()).toBe(false);
    expect(chip.line(17).driven).toEqual([0, 1, 0]);
    // Never two holders at once: the chip would have refused the second (busy), which is a fault.
    expect(door.faulted).toBeUndefined();
    door.close();
  });

  it('holds: after hold, a set writes the safe level; close lets the line go at the safe level', async () => {
    const chip = fakeChip(flavour);
    chip.released.set(17, 0); // the relay board's input pulled to its unpowered side
    const door = new GpiodOutput('door', strike, { chip: 'gpiochip0', offset: 17 }, await tools(chip), chip.spawn, recordingLogger().logger);
    await held(door);
    door.set(true);
    await settle();
    door.hold();
    door.set(true);
    await settle();
    expect(chip.line(17).level).toBe(0);
    expect(door.active).toBe(false);
    door.close();
    await settle();
    expect(chip.owner(17)).toBeUndefined();
    expect(chip.line(17).level).toBe(0);
    expect(door.faulted).toBeUndefined();
    expect(() => door.set(true)).toThrow(/closed/);
  });

  it('a gpioset that dies is a fault until the line is held again: logged with the output, the line released to the wiring, and the door logic keeps running', async () => {
    const chip = fakeChip(flavour);
    chip.released.set(17, 1); // a maglock board whose pull-up leaves the relay energised: locked
    const log = recordingLogger();
    const clock = new TestClock(0); // not moved: the new gpioset waits on it (gpiod-respawn.test.ts)
    const door = new GpiodOutput('door', maglock, { chip: 'gpiochip0', offset: 17 }, await tools(chip), chip.spawn, log.logger, clock);
    await held(door);
    const holder = chip.owner(17)!;
    holder.onKill?.('SIGKILL');
    await settle();
    expect(chip.owner(17)).toBeUndefined();
    expect(chip.line(17).level).toBe(1);
    expect(door.faulted).toMatch(/gpioset for gpiochip0 line 17 ended \(killed by SIGKILL\)/);
    const fault = log.lines.find((l) => l.level === 'error');
    expect(fault?.obj).toMatchObject({ output: 'door', line: 'gpiochip0 17', retryInMs: 0 });
    expect(fault?.msg).toMatch(/line is released/);
    // The door logic goes on: a set while faulted is kept for the next holder, and the safety paths never throw.
    expect(() => door.set(false)).not.toThrow();
    expect(door.active).toBe(false);
    expect(() => door.toSafe()).not.toThrow();
    await expect(door.readback()).rejects.toThrow(/output door: gpioset for gpiochip0 line 17 ended .*the line is released/);
    await expect(door.ready()).rejects.toThrow(/line is released/);
    door.close();
  });

  it('a line another program holds: ready rejects with gpioset’s own words', async () => {
    const chip = fakeChip(flavour);
    const t = await tools(chip);
    const other = new GpiodOutput('lights', strike, { chip: 'gpiochip0', offset: 27 }, t, chip.spawn, recordingLogger().logger);
    await held(other);
    const log = recordingLogger();
    const lights = new GpiodOutput('lights', strike, { chip: 'gpiochip0', offset: 27 }, t, chip.spawn, log.logger, new TestClock(0));
    const busy = /gpioset for gpiochip0 line 27 ended \(exit code 1: gpioset: unable to request lines on chip '\/dev\/gpiochip0': Device or resource busy\)/;
    if (flavour === 'v1') {
      // No banner to wait for: the refusal shows as the process's end, a fault.
      await settle();
      expect(lights.faulted).toMatch(busy);
    } else {
      await expect(lights.ready()).rejects.toThrow(new RegExp(`output lights: ${busy.source}`));
    }
    expect(log.lines.find((l) => l.level === 'error')?.obj).toMatchObject({ output: 'lights' });
    lights.close();
    other.close();
  });
});

describe('an interactive gpioset', () => {
  it('logs what gpioset refuses instead of failing silently', async () => {
    const chip = fakeChip('v2-interactive');
    const log = recordingLogger();
    const door = new GpiodOutput('door', strike, { chip: 'gpiochip0', offset: 17 }, await probeGpiodTools(chip.spawn), chip.spawn, log.logger);
    await held(door);
    chip.owner(17)!.stdin.write('set 18=1\n');
    await settle();
    expect(log.lines.find((l) => l.msg === 'gpioset refused a command')?.obj).toMatchObject({ output: 'door', said: "unknown line: '18'" });
    door.close();
  });

  it('changes the level through stdin: one process for the whole run', async () => {
    const chip = fakeChip('v2-interactive');
    const door = new GpiodOutput('door', strike, { chip: 'gpiochip0', offset: 17 }, await probeGpiodTools(chip.spawn), chip.spawn, recordingLogger().logger);
    await held(door);
    for (let i = 0; i < 5; i++) door.set(i % 2 === 0);
    await settle();
    expect(chip.line(17).driven).toEqual([0, 1, 0, 1, 0, 1]);
    expect(chip.processes.filter((p) => p.args.includes('17=0'))).toHaveLength(1);
    door.close();
  });
});

describe('without interactive mode', () => {
  it('a change ends the holder and the next one takes the line once it is free; quick changes end at the last level', async () => {
    const chip = fakeChip('v2');
    const door = new GpiodOutput('door', strike, { chip: 'gpiochip0', offset: 17 }, await probeGpiodTools(chip.spawn), chip.spawn, recordingLogger().logger);
    await held(door);
    door.set(true);
    door.set(false);
    door.set(true);
    await settle(20);
    expect(chip.line(17).level).toBe(1);
    expect(door.faulted).toBeUndefined();
    // Each process ended by SIGTERM before the next started: the chip refuses a second owner.
    const holders = chip.processes.filter((p) => p.args.some((a) => /^17=/.test(a)));
    expect(holders.at(-1)?.args.at(-1)).toBe('17=1');
    expect(holders.slice(0, -1).every((p) => p.ended && p.signals.includes('SIGTERM'))).toBe(true);
    door.close();
  });
});
