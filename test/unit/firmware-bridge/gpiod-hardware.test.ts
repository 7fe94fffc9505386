// The gpiod backend from the config up: which backend `auto` picks, the config's refusals, the bundle built with
// every output held at its safe level before any input is read, `oag outputs-safe` through gpioset, and the parsers
// on the tools' real lines.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HardwareConfigSchema, type HardwareConfigInput } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import { resolveGpioDriver } from '../../../firmware-bridge/gpio/gpiod-driver.js';
import { MAX_PARTIAL_LINE, onLines, parseGetValue, parseGpiosetLine, parseMonitorLine, parseToolVersion, probeGpiodTools } from '../../../firmware-bridge/gpio/gpiod-tools.js';
import { runBootConfig } from '../../../scripts/commands/boot-config.js';
import { runOutputsSafe } from '../../../scripts/commands/outputs-safe.js';
import { fakeChip, noTools, settle } from './gpiod-fakes.js';
import { recordingLogger } from './fakes.js';

function problems(input: unknown): string[] {
  const result = HardwareConfigSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const readers = [{ id: 'entry', driver: 'pcsc', role: 'entry' }] as const;
const pins = { door: { pin: 17, activeLevel: 'low' }, lights: { pin: 27, safe: 'active' }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } } as const;
const wiring = (gpio: Record<string, unknown>, extra: Partial<HardwareConfigInput> = {}): HardwareConfigInput =>
  ({ gpio, outputs: pins, inputs: { doorContact: { pin: 23, activeLevel: 'high' }, exitButton: { pin: 24 } }, readers, ...extra }) as HardwareConfigInput;

/** Only these paths exist: the machine `auto` looks at. */
const machine = (...paths: string[]) => (path: string) => paths.includes(path);

describe('hardware config: gpio', () => {
  it('takes gpiod and auto, with a chip, and refuses what is not a chip or a driver', () => {
    expect(problems(wiring({ driver: 'gpiod', chip: 'gpiochip4' }))).toEqual([]);
    expect(problems(wiring({ driver: 'auto' }))).toEqual([]);
    expect(HardwareConfigSchema.parse(wiring({ driver: 'gpiod' })).gpio.chip).toBeUndefined();
    expect(problems(wiring({ driver: 'gpiod', chip: 'pinctrl-rp1' }))).toEqual(['gpio.chip: must be a GPIO chip: gpiochip0, gpiochip4 or /dev/gpiochip0']);
    expect(problems(wiring({ driver: 'libgpiod' }))[0]).toMatch(/^gpio\.driver: Invalid option: expected one of "simulated"\|"sysfs"\|"gpiod"\|"auto"/);
  });

  it('requires every pin under gpiod and auto, naming the driver', () => {
    expect(problems({ gpio: { driver: 'gpiod' }, outputs: { ...pins, ledRed: {} }, readers })).toEqual(['outputs.ledRed.pin: required when gpio.driver is gpiod']);
    expect(problems({ gpio: { driver: 'auto' }, outputs: pins, inputs: { tamper: {} }, readers })).toEqual(['inputs.tamper.pin: required when gpio.driver is auto']);
  });
});

describe('gpio.driver auto', () => {
  const gpio = (driver: 'auto' | 'gpiod', chip?: string) => HardwareConfigSchema.parse(wiring({ driver, ...(chip === undefined ? {} : { chip }) })).gpio;

  it('keeps sysfs wherever the kernel has it', async () => {
    const chip = fakeChip('v2-interactive');
    expect(await resolveGpioDriver(gpio('auto'), { exists: machine('/sys/class/gpio', '/dev/gpiochip0'), spawn: chip.spawn })).toEqual({
      driver: 'sysfs',
      reason: 'auto: /sys/class/gpio exists',
    });
  });

  it('takes the character device when sysfs is gone and the chip and the tools are there', async () => {
    const chip = fakeChip('v2-interactive');
    const resolved = await resolveGpioDriver(gpio('auto'), { exists: machine('/dev/gpiochip0'), spawn: chip.spawn });
    expect(resolved).toEqual({
      driver: 'gpiod',
      tools: { version: 'v2.1.3', major: 2, interactive: true },
      reason: 'auto: no /sys/class/gpio, /dev/gpiochip0 and gpioset v2.1.3',
    });
  });

  it('says what to install when the tools are missing, and which chip is missing', async () => {
    await expect(resolveGpioDriver(gpio('auto'), { exists: machine('/dev/gpiochip0'), spawn: noTools })).rejects.toThrow(
      /sysfs GPIO is absent.*gpio\.driver auto would use \/dev\/gpiochip0, but: GPIO unavailable: gpioset is not installed\. Fix: sudo apt-get install gpiod/,
    );
    await expect(resolveGpioDriver(gpio('gpiod', 'gpiochip4'), { exists: machine('/dev/gpiochip0'), spawn: fakeChip('v2').spawn })).rejects.toThrow(
      /\/dev\/gpiochip4 does not exist\. Fix: set gpio\.chip to the header's chip \(`gpiodetect` lists them/,
    );
  });
});

describe('createHardware on gpiod', () => {
  it('holds every output at its safe level before it reads any input, and closes to the safe levels', async () => {
    const chip = fakeChip('v2-interactive');
    const log = recordingLogger();
    const hw = await createHardware(HardwareConfigSchema.parse(wiring({ driver: 'gpiod' })), { logger: log.logger, drivers: { gpiod: { spawn: chip.spawn, exists: machine('/dev/gpiochip0') } } });
    const lineTools = chip.commands().filter((c) => !c.includes('--version') && !c.includes('--help'));
    const firstInput = lineTools.findIndex((c) => c.startsWith('gpioget') || c.startsWith('gpiomon'));
    // Five outputs held (door active-low: safe locked = pin high; lights safe on) before the first input tool ran.
    expect(lineTools.slice(0, firstInput).map((c) => c.split(' ').at(-1))).toEqual(['17=1', '27=1', '22=0', '5=0', '6=0']);
    expect(firstInput).toBe(5);
    expect(hw.simulated).toBeUndefined();
    expect(hw.inputs.doorContact?.active).toBe(false);

    hw.outputs.door.set(true); // unlock: pin low on the active-low board
    await settle();
    expect(chip.line(17).level).toBe(0);
    await hw.close();
    await settle();
    // Locked again, and nothing but the safe level after that (the stop writes it more than once).
    expect(chip.line(17).driven.slice(0, 3)).toEqual([1, 0, 1]);
    expect(new Set(chip.line(17).driven.slice(2))).toEqual(new Set([1]));
    expect([...chip.lines.values()].every((line) => line.owner === undefined)).toBe(true);
    expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a line that cannot be taken stops the start, and the outputs already held are let go at their safe level', async () => {
    const chip = fakeChip('v2');
    chip.busy.add(24); // the exit button's line is someone else's
    const hw = createHardware(HardwareConfigSchema.parse(wiring({ driver: 'gpiod' })), { drivers: { gpiod: { spawn: chip.spawn, exists: machine('/dev/gpiochip0') } } });
    await expect(hw).rejects.toThrow(/exitButton: gpioget gpiochip0 line 24 failed \(exit code 1: .*Device or resource busy\)/);
    await settle();
    expect([...chip.lines.values()].every((line) => line.owner === undefined)).toBe(true);
    expect(chip.line(17).driven).toEqual([1]);
  });
});

describe('oag outputs-safe on gpiod', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  function configFile(): string {
    dir = mkdtempSync(join(tmpdir(), 'oag-gpiod-'));
    const path = join(dir, 'gateway.yaml');
    writeFileSync(path, stringify({ site: 'town-central', policyFile: 'no-such-policy.yaml', lock: { type: 'fail-secure' }, hardware: wiring({ driver: 'auto', chip: 'gpiochip0' }) }));
    return path;
  }

  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
  };

  it('sets each output to its safe level with a gpioset that exits, when auto finds no sysfs', async () => {
    const chip = fakeChip('v2');
    const run = io();
    const code = await runOutputsSafe(configFile(), run.io, { env: {}, gpiod: { spawn: chip.spawn, exists: machine('/dev/gpiochip0') } });
    expect(run.err).toEqual([]);
    expect(code).toBe(0);
    expect(chip.commands().filter((c) => c.includes('--toggle 0'))).toEqual([
      'gpioset --consumer oag --chip gpiochip0 --toggle 0 17=1',
      'gpioset --consumer oag --chip gpiochip0 --toggle 0 27=1',
      'gpioset --consumer oag --chip gpiochip0 --toggle 0 22=0',
      'gpioset --consumer oag --chip gpiochip0 --toggle 0 5=0',
      'gpioset --consumer oag --chip gpiochip0 --toggle 0 6=0',
    ]);
    expect(run.out).toEqual(['outputs-safe: door BCM 17 high, lights BCM 27 high, sounder BCM 22 low, ledGreen BCM 5 low, ledRed BCM 6 low (gpiochip0, gpioset v2.1.3)\n']);
  });

  it('oag boot-config gives a gpiod config the same config.txt lines as sysfs: the boot levels matter more here', async () => {
    const run = io();
    expect(await runBootConfig(configFile(), run.io)).toBe(0);
    expect(run.out.join('')).toContain('gpio=17,27=op,dh\ngpio=5,6,22=op,dl\ngpio=23,24=ip,pu\n');
  });

  it('a busy line fails with gpioset’s words; the others are still set', async () => {
    const chip = fakeChip('v1');
    const survivor = chip.spawn('gpioset', ['--mode=signal', 'gpiochip0', '17=0']); // a gateway's gpioset that outlived it
    await settle();
    const run = io();
    const code = await runOutputsSafe(configFile(), run.io, { env: { SERVICE_RESULT: 'watchdog' }, gpiod: { spawn: chip.spawn, exists: machine('/dev/gpiochip0') } });
    expect(code).toBe(1);
    expect(run.err).toEqual([
      "outputs-safe: door BCM 17 (gpiochip0 line 17) could not be set high: gpioset: exit code 1: gpioset: unable to request lines on chip '/dev/gpiochip0': Device or resource busy\n",
    ]);
    expect(run.out[0]).toMatch(/^outputs-safe: lights BCM 27 high, .* \(gpiochip0, gpioset v1\.6\.3\) after the gateway ended \(watchdog\)\n$/);
    expect(chip.line(27).driven).toEqual([1]);
    survivor.kill();
  });
});

describe('the tools’ output', () => {
  it('reads both versions’ --version and refuses anything else, naming the tool', () => {
    expect(parseToolVersion('gpioset', 'gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n')).toEqual({ version: 'v1.6.3', major: 1 });
    expect(parseToolVersion('gpioset', 'gpioset (libgpiod) v2.2.1\nlibgpiod v2.2.1\n')).toEqual({ version: 'v2.2.1', major: 2 });
    expect(() => parseToolVersion('gpioset', 'Usage: gpioset [OPTIONS]\n')).toThrow('gpioset --version: unexpected output "Usage: gpioset [OPTIONS]" (expected "<tool> (libgpiod) v<major>.<minor>")');
    expect(() => parseToolVersion('gpioset', 'gpioset (libgpiod) v3.0\n')).toThrow(/libgpiod v3\.0: this gateway knows libgpiod 1 and 2 only/);
  });

  it('reads gpiomon edges in each version’s numbering, skips its banner, names a bad line', () => {
    expect(parseMonitorLine({ major: 2 }, "Monitoring line '23'...")).toBeUndefined();
    expect(parseMonitorLine({ major: 2 }, '1 23')).toEqual({ offset: 23, value: 1 });
    expect(parseMonitorLine({ major: 2 }, '2 23')).toEqual({ offset: 23, value: 0 });
    expect(parseMonitorLine({ major: 1 }, '0 23')).toEqual({ offset: 23, value: 0 });
    // libgpiod 1 never prints 2, libgpiod 2 never 0: either means the version was misread.
    expect(() => parseMonitorLine({ major: 1 }, '2 23')).toThrow('gpiomon: unexpected output "2 23" (expected "<edge> <offset>", edge 1 (rising) or 0 (falling))');
    expect(() => parseMonitorLine({ major: 2 }, 'event: FALLING EDGE offset: 23 timestamp: [1678184341.123456789]')).toThrow(/^gpiomon: unexpected output "event: FALLING EDGE/);
  });

  it('reads interactive gpioset past its prompts, and gpioget’s 0 or 1', () => {
    expect(parseGpiosetLine("Setting line '17'...")).toEqual({ kind: 'banner', offset: 17 });
    expect(parseGpiosetLine('gpioset> "17"=active')).toEqual({ kind: 'value', offset: 17, value: 1 });
    expect(parseGpiosetLine('gpioset> gpioset> 17=inactive')).toEqual({ kind: 'value', offset: 17, value: 0 });
    expect(parseGpiosetLine("gpioset> invalid line value: '17=2'")).toEqual({ kind: 'complaint', text: "invalid line value: '17=2'" });
    expect(parseGetValue('1')).toBe(1);
    expect(() => parseGetValue('"23"=active')).toThrow('gpioget: unexpected output "\\"23\\"=active" (expected 0 or 1)');
  });

  it('keeps no more than a few KiB of an interactive gpioset’s prompts, however many sets it took, and still reads a get', () => {
    const stdout = new PassThrough();
    const lines: string[] = [];
    onLines(stdout, (line) => lines.push(line));
    // A year of a door's sets, one prompt after each, and nothing asked with `get`.
    for (let i = 0; i < 20_000; i++) stdout.write('gpioset> ');
    stdout.write('"17"=active\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(MAX_PARTIAL_LINE + 'gpioset> '.length);
    expect(lines.slice(0, -1).map((l) => parseGpiosetLine(l).kind)).toEqual(lines.slice(0, -1).map(() => 'prompt'));
    expect(parseGpiosetLine(lines.at(-1)!)).toEqual({ kind: 'value', offset: 17, value: 1 });
  });

  it('probes interactive mode from gpioset --help', async () => {
    expect(await probeGpiodTools(fakeChip('v2').spawn)).toEqual({ version: 'v2.1.3', major: 2, interactive: false });
    expect(await probeGpiodTools(fakeChip('v1').spawn)).toEqual({ version: 'v1.6.3', major: 1, interactive: false });
  });
});
