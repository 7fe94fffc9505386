// Inputs on the character device: gpioget for the level at start, gpiomon's edges debounced as on sysfs, in both
// libgpiod versions' formats; what gpiomon says that cannot be read is named, and a gpiomon that ends is a fault.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GpiodInput } from '../../../firmware-bridge/gpio/gpiod-input.js';
import { probeGpiodTools } from '../../../firmware-bridge/gpio/gpiod-tools.js';
import { fakeChip, settle, type ToolsFlavour } from './gpiod-fakes.js';
import { recordingLogger } from './fakes.js';
import { TestClock } from '../../helpers/test-clock.js';

// Only the debounce timers are fake: the processes' I/O runs on setImmediate, as real pipes do.
beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
afterEach(() => vi.useRealTimers());

describe.each<ToolsFlavour>(['v2-interactive', 'v1'])('an input watched by gpiomon (%s)', (flavour) => {
  it('reads the level at start, so a door found open is open', async () => {
    const chip = fakeChip(flavour);
    chip.released.set(23, 1); // reed open: the pull-up wins
    const tools = await probeGpiodTools(chip.spawn);
    const contact = await GpiodInput.open('doorContact', { activeLevel: 'high', debounceMs: 30 }, { chip: 'gpiochip0', offset: 23 }, tools, chip.spawn, recordingLogger().logger);
    expect(contact.active).toBe(true);
    await settle(); // libgpiod 1's gpiomon prints no banner: open resolves as it starts
    // gpioget first, then gpiomon holding the line.
    expect(chip.commands().filter((c) => !c.startsWith('gpioset')).map((c) => c.split(' ')[0])).toEqual(['gpioget', 'gpiomon']);
    expect(chip.owner(23)?.command).toBe('gpiomon');
    contact.close();
  });

  it('reports debounced logical changes from the edges (contact to ground, pull-up); a glitch is ignored', async () => {
    const chip = fakeChip(flavour);
    chip.released.set(24, 1);
    const tools = await probeGpiodTools(chip.spawn);
    const button = await GpiodInput.open('exitButton', { activeLevel: 'low', debounceMs: 30 }, { chip: 'gpiochip0', offset: 24 }, tools, chip.spawn, recordingLogger().logger);
    await settle();
    const changes: boolean[] = [];
    button.on('change', (active) => changes.push(active));
    expect(button.active).toBe(false);

    chip.drive(24, 0); // pressed
    await settle();
    vi.advanceTimersByTime(10);
    chip.drive(24, 1); // a 10 ms glitch
    await settle();
    vi.advanceTimersByTime(100);
    expect(changes).toEqual([]);

    chip.drive(24, 0);
    await settle();
    vi.advanceTimersByTime(30);
    expect(changes).toEqual([true]);
    expect(button.active).toBe(true);
    chip.drive(24, 1);
    await settle();
    vi.advanceTimersByTime(30);
    expect(changes).toEqual([true, false]);
    button.close();
    await settle();
    expect(chip.owner(24)).toBeUndefined();
  });
});

describe('gpiomon faults', () => {
  it('names what it cannot read, and keeps reading the lines after it', async () => {
    const chip = fakeChip('v2');
    chip.released.set(24, 1);
    const log = recordingLogger();
    const tools = await probeGpiodTools(chip.spawn);
    const button = await GpiodInput.open('exitButton', { activeLevel: 'low', debounceMs: 0 }, { chip: 'gpiochip0', offset: 24 }, tools, chip.spawn, log.logger);
    const changes: boolean[] = [];
    button.on('change', (active) => changes.push(active));
    // libgpiod 2's default human-readable line, which this backend never asks for
    chip.owner(24)!.say('1678184341.123456789\tfalling\tgpiochip0 24\n');
    await settle();
    const error = log.lines.find((l) => l.level === 'error');
    expect(error?.obj).toMatchObject({ input: 'exitButton', line: 'gpiochip0 line 24' });
    expect((error?.obj.err as { message: string }).message).toBe(
      'gpiomon: unexpected output "1678184341.123456789\\tfalling\\tgpiochip0 24" (expected "<edge> <offset>", edge 1 (rising) or 2 (falling))',
    );
    chip.drive(24, 0);
    await settle();
    expect(changes).toEqual([true]);
    button.close();
  });

  it('a gpiomon that ends is logged with the input; the input keeps its last level', async () => {
    const chip = fakeChip('v2');
    chip.released.set(25, 0);
    const log = recordingLogger();
    const tools = await probeGpiodTools(chip.spawn);
    const fire = await GpiodInput.open('fireAlarm', { activeLevel: 'low', debounceMs: 0 }, { chip: 'gpiochip0', offset: 25 }, tools, chip.spawn, log.logger);
    expect(fire.active).toBe(true);
    chip.owner(25)!.onKill?.('SIGKILL');
    await settle();
    expect(fire.faulted).toBe('gpiomon for gpiochip0 line 25 ended (killed by SIGKILL)');
    expect(log.lines.find((l) => l.level === 'error')).toMatchObject({ obj: { input: 'fireAlarm' }, msg: expect.stringMatching(/no longer watched/) });
    expect(fire.active).toBe(true);
  });

  it('a gpiomon that ends is replaced: the line read again (a press meanwhile is seen), then watched, after a wait that grows', async () => {
    const chip = fakeChip('v2');
    chip.released.set(24, 1);
    const clock = new TestClock(0);
    const log = recordingLogger();
    const tools = await probeGpiodTools(chip.spawn);
    const button = await GpiodInput.open('exitButton', { activeLevel: 'low', debounceMs: 0 }, { chip: 'gpiochip0', offset: 24 }, tools, chip.spawn, log.logger, clock);
    const changes: boolean[] = [];
    button.on('change', (active) => changes.push(active));
    const monitors = () => chip.processes.filter((p) => p.command === 'gpiomon').length;

    chip.owner(24)!.onKill?.('SIGKILL');
    await settle();
    expect(button.faulted).toMatch(/killed by SIGKILL/);
    // Pressed, and held, while nothing watches the line.
    chip.released.set(24, 0);
    chip.drive(24, 0);
    clock.advance(0);
    await settle();
    expect(monitors()).toBe(2);
    expect(chip.owner(24)?.command).toBe('gpiomon');
    expect(button.faulted).toBeUndefined();
    expect(changes).toEqual([true]);
    chip.drive(24, 1);
    await settle();
    expect(changes).toEqual([true, false]);

    // Dying again at once: the next one waits a second.
    chip.owner(24)!.onKill?.('SIGKILL');
    await settle();
    clock.advance(999);
    await settle();
    expect(monitors()).toBe(2);
    clock.advance(1);
    await settle();
    expect(monitors()).toBe(3);

    // Closed while a new one is due: none comes.
    chip.owner(24)!.onKill?.('SIGKILL');
    await settle();
    button.close();
    clock.advance(60_000);
    await settle();
    expect(monitors()).toBe(3);
    expect(chip.owner(24)).toBeUndefined();
  });

  it('a line another program holds: open rejects with the tool’s words and the input’s name', async () => {
    const chip = fakeChip('v2');
    chip.busy.add(26);
    const tools = await probeGpiodTools(chip.spawn);
    await expect(GpiodInput.open('tamper', { activeLevel: 'low', debounceMs: 30 }, { chip: 'gpiochip0', offset: 26 }, tools, chip.spawn, recordingLogger().logger)).rejects.toThrow(
      "tamper: gpioget gpiochip0 line 26 failed (exit code 1: gpioget: unable to request lines on chip '/dev/gpiochip0': Device or resource busy)",
    );
  });
});
