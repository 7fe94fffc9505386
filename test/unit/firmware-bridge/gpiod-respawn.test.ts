// A gpioset that dies is taken up again: a new one requests the line at the level the output wants now, after a
// wait that grows while they keep dying; the fault clears once the new one holds the line. The waits run on the
// TestClock, the tools on the in-process chip (gpiod-fakes.ts).
import { describe, expect, it } from 'vitest';
import { GpiodOutput, RESPAWN_CALM_MS, RESPAWN_SETTLE_MS } from '../../../firmware-bridge/gpio/gpiod-output.js';
import { probeGpiodTools } from '../../../firmware-bridge/gpio/gpiod-tools.js';
import { TestClock } from '../../helpers/test-clock.js';
import { fakeChip, settle, type FakeChip, type FakeProcess, type ToolsFlavour } from './gpiod-fakes.js';
import { recordingLogger } from './fakes.js';

// A fail-secure strike on an active-high board: safe unpowered (pin low), energised (pin high) to release the door.
const strike = { activeLevel: 'high', safe: 'inactive' } as const;

/** Every gpioset that requested line 17, in order. */
function holders(chip: FakeChip): FakeProcess[] {
  return chip.processes.filter((p) => p.command === 'gpioset' && p.args.some((a) => /^17=/.test(a)));
}

/** The OOM killer, a stray killall: the holding gpioset ends without being asked. */
async function killHolder(chip: FakeChip): Promise<void> {
  chip.owner(17)!.onKill?.('SIGKILL');
  await settle();
}

/** Moves the clock and lets the tools' side play out. */
async function advance(clock: TestClock, ms: number): Promise<void> {
  clock.advance(ms);
  await settle();
}

async function strikeOn(flavour: ToolsFlavour) {
  const chip = fakeChip(flavour);
  chip.released.set(17, 0); // the relay board's input pulled to its unpowered side
  const clock = new TestClock(0);
  const log = recordingLogger();
  const door = new GpiodOutput('door', strike, { chip: 'gpiochip0', offset: 17 }, await probeGpiodTools(chip.spawn), chip.spawn, log.logger, clock);
  await door.ready();
  await settle();
  return { chip, clock, log, door };
}

describe.each<ToolsFlavour>(['v2-interactive', 'v2', 'v1'])('a gpioset that dies (%s)', (flavour) => {
  // Interactive, the new gpioset answers a `get`; otherwise it holds the line once it has outlived its start.
  const untilHeld = flavour === 'v2-interactive' ? 0 : RESPAWN_SETTLE_MS;

  it('is replaced at once by a new gpioset at the level last set, and the fault clears once it holds the line', async () => {
    const { chip, clock, log, door } = await strikeOn(flavour);
    door.set(true); // released: the strike energised
    await settle();
    await killHolder(chip);
    expect(chip.line(17).level).toBe(0);
    expect(door.faulted).toMatch(/killed by SIGKILL/);
    await advance(clock, 0);
    expect(holders(chip).at(-1)?.args.at(-1)).toBe('17=1');
    expect(chip.owner(17)).toBe(holders(chip).at(-1));
    expect(chip.line(17).level).toBe(1);
    await advance(clock, untilHeld);
    expect(door.faulted).toBeUndefined();
    expect(log.lines.find((l) => l.msg === "output's gpioset holds its line again")?.obj).toMatchObject({ output: 'door', line: 'gpiochip0 17', level: 1 });
    // The output works as before: the exit button can release the strike and the door lock it again.
    door.set(false);
    await settle(20);
    expect(chip.line(17).level).toBe(0);
    expect(await door.readback()).toBe(false);
    door.close();
  });

  it('a set while faulted does not throw and reaches the line once a gpioset holds it again, as does one during its start', async () => {
    const { chip, clock, door } = await strikeOn(flavour);
    await killHolder(chip);
    expect(() => door.set(true)).not.toThrow();
    expect(chip.line(17).level).toBe(0); // nothing holds the line: the wiring's level
    await advance(clock, 0);
    expect(holders(chip).at(-1)?.args.at(-1)).toBe('17=1');
    expect(chip.line(17).level).toBe(1);

    await killHolder(chip);
    clock.advance(1_000); // the second death in a row waits a second
    // The new process is starting: the door locks again before it holds the line.
    expect(holders(chip).at(-1)?.args.at(-1)).toBe('17=1');
    expect(door.faulted).toBeDefined();
    door.set(false);
    await settle(20);
    await advance(clock, untilHeld);
    await settle(20);
    expect(door.faulted).toBeUndefined();
    expect(chip.line(17).level).toBe(0);
    expect(door.active).toBe(false);
    door.close();
  });

  it('waits longer each time it keeps dying (0 s, 1 s, 2 s, 5 s, then every 30 s), and starts over once the line is held a while', async () => {
    const { chip, clock, door } = await strikeOn(flavour);
    // Another program takes the line as ours dies: every new gpioset is refused (Device or resource busy).
    chip.busy.add(17);
    await killHolder(chip);
    const spawnsAt: number[] = [];
    let seen = holders(chip).length;
    for (let t = 0; t <= 100_000; t += 500) {
      if (t > 0) await advance(clock, 500);
      else await advance(clock, 0);
      for (; seen < holders(chip).length; seen++) spawnsAt.push(t);
    }
    expect(spawnsAt).toEqual([0, 1_000, 3_000, 8_000, 38_000, 68_000, 98_000]);
    expect(door.faulted).toMatch(/Device or resource busy/);

    // The other program lets go: the next attempt, 30 s after the last, takes the line.
    chip.busy.delete(17);
    await advance(clock, 30_000);
    await advance(clock, untilHeld);
    expect(door.faulted).toBeUndefined();
    expect(chip.owner(17)).toBe(holders(chip).at(-1));

    // Held for a while: a later death is replaced at once again.
    await advance(clock, RESPAWN_CALM_MS);
    const before = holders(chip).length;
    await killHolder(chip);
    await advance(clock, 0);
    expect(holders(chip)).toHaveLength(before + 1);
    door.close();
  });

  it('after close, or once held for a stop, nothing takes the line again', async () => {
    const { chip, clock, door } = await strikeOn(flavour);
    await killHolder(chip);
    // Closed while the new gpioset waits for its turn.
    door.close();
    await advance(clock, 60_000);
    expect(holders(chip)).toHaveLength(1);
    expect(chip.owner(17)).toBeUndefined();

    const stopping = await strikeOn(flavour);
    stopping.door.hold();
    await settle(20);
    const count = holders(stopping.chip).length;
    await killHolder(stopping.chip);
    await advance(stopping.clock, 60_000);
    expect(holders(stopping.chip)).toHaveLength(count);
    expect(stopping.chip.owner(17)).toBeUndefined();
    expect(stopping.door.faulted).toMatch(/killed by SIGKILL/);
    stopping.door.close();
  });
});
