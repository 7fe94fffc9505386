// `oag outputs-safe`, the unit's ExecStopPost, on a temp folder laid out like /sys/class/gpio: what a watchdog kill
// leaves (pins exported at the level they had, a strike mid-pulse) is put back at the safe levels by a new process.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { SysfsFiles } from '../../../firmware-bridge/gpio/sysfs-safe.js';
import { realSysfsFiles } from '../../../firmware-bridge/gpio/sysfs-safe.js';
import { runOutputsSafe } from '../../../scripts/commands/outputs-safe.js';
import { PI4_KERNEL_66, sysfsPerTest } from './fakes.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// BCM → sysfs on a Pi 4 with kernel 6.6: door 17 → 529, lights 27 → 539, sounder 22 → 534, LEDs 5, 6 → 517, 518.
const PINS = { door: 529, lights: 539, sounder: 534, ledGreen: 517, ledRed: 518 } as const;

const sysfs = sysfsPerTest(PI4_KERNEL_66);

/** A pin as the kernel shows it once exported: an output at `value`. */
function exported(gpio: number, direction: string, value: string): void {
  mkdirSync(join(sysfs.root, `gpio${gpio}`));
  writeFileSync(join(sysfs.root, `gpio${gpio}`, 'direction'), direction);
  writeFileSync(join(sysfs.root, `gpio${gpio}`, 'value'), value);
}

/** The kernel's side of `export`: the pin's folder appears. */
const kernel: SysfsFiles & { exports: string[] } = {
  exports: [],
  exists: realSysfsFiles.exists,
  write(path, text) {
    if (path === join(sysfs.root, 'export')) {
      kernel.exports.push(text);
      exported(Number(text), 'in', '0');
      return;
    }
    realSysfsFiles.write(path, text);
  },
};

function direction(gpio: number): string {
  return readFileSync(join(sysfs.root, `gpio${gpio}`, 'direction'), 'utf8');
}

function config(lockType: 'fail-secure' | 'fail-safe', extra: Record<string, unknown> = {}): string {
  const path = join(sysfs.root, '..', 'gateway.yaml');
  writeFileSync(
    path,
    stringify({
      site: 'town-central',
      policyFile: 'no-such-policy.yaml',
      lock: { type: lockType },
      hardware: {
        gpio: { driver: 'sysfs', sysfsRoot: sysfs.root },
        outputs: {
          door: { pin: 17, activeLevel: 'low' },
          lights: { pin: 27, activeLevel: 'low', safe: 'active' },
          sounder: { pin: 22, activeLevel: 'low' },
          ledGreen: { pin: 5 },
          ledRed: { pin: 6 },
        },
        inputs: { doorContact: { pin: 23, activeLevel: 'high' } },
        readers: [{ id: 'entry', driver: 'pcsc', role: 'entry' }],
      },
      ...extra,
    }),
  );
  return path;
}

function io(): { out: string[]; err: string[]; io: { out(s: string): void; err(s: string): void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s) => out.push(s), err: (s) => err.push(s) } };
}

describe('oag outputs-safe', () => {
  it('after a watchdog kill mid-pulse, drives a strike locked again and every other output to its safe level', async () => {
    // The gateway died with the strike energised (active-low board: pin low) and the lights off; the LEDs were never
    // exported; the door contact is an input and not ours to touch.
    exported(PINS.door, 'out', '0');
    exported(PINS.lights, 'out', '1');
    exported(PINS.sounder, 'out', '1');
    exported(535, 'in', '1');
    const { out, err, io: cli } = io();
    const code = await runOutputsSafe(config('fail-secure', { mqtt: { url: 'not a url' } }), cli, {
      files: kernel,
      env: { SERVICE_RESULT: 'watchdog', EXIT_CODE: 'killed', EXIT_STATUS: 'ABRT' },
    });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    // direction high/low: output and level in one write. Strike locked = relay off = high on an active-low board.
    expect(direction(PINS.door)).toBe('high');
    // the lights' safe level here is "on": energised, low
    expect(direction(PINS.lights)).toBe('low');
    expect(direction(PINS.sounder)).toBe('high');
    expect(direction(PINS.ledGreen)).toBe('low');
    expect(direction(PINS.ledRed)).toBe('low');
    expect(kernel.exports.splice(0).sort()).toEqual(['517', '518']);
    expect(direction(535)).toBe('in');
    expect(out.join('')).toMatch(/door BCM 17 high, lights BCM 27 low, .* \(gpiochip512\) after the gateway ended \(watchdog killed ABRT\)/);
  });

  it('holds a maglock (fail-safe) locked: its relay energised', async () => {
    exported(PINS.door, 'out', '1');
    const { io: cli } = io();
    expect(await runOutputsSafe(config('fail-safe'), cli, { files: kernel })).toBe(0);
    expect(direction(PINS.door)).toBe('low');
    kernel.exports.splice(0);
  });

  it("locks a second door too, at its own lock type's level: a meeting-room maglock held energised", async () => {
    // BCM 12 → 524; the gateway died with the maglock released (relay off: high on this active-low board).
    exported(524, 'out', '1');
    const path = config('fail-secure');
    const yaml = readFileSync(path, 'utf8').replace('  readers:', '  doors:\n    - id: meeting-room\n      relay: { pin: 12, activeLevel: low }\n      lock: { type: fail-safe }\n  readers:');
    writeFileSync(path, yaml);
    const { out, io: cli } = io();
    expect(await runOutputsSafe(path, cli, { files: kernel })).toBe(0);
    expect(direction(524)).toBe('low');
    expect(direction(PINS.door)).toBe('high');
    expect(out.join('')).toMatch(/doors\.meeting-room\.relay BCM 12 low/);
    kernel.exports.splice(0);
  });

  it('writes nothing for simulated GPIO, and says so', async () => {
    const path = join(sysfs.root, '..', 'sim.yaml');
    writeFileSync(path, stringify({ site: 'x', policyFile: 'p.yaml', hardware: { gpio: { driver: 'simulated' }, readers: [{ id: 'entry', driver: 'simulated' }] } }));
    const { out, io: cli } = io();
    expect(await runOutputsSafe(path, cli, { files: kernel })).toBe(0);
    expect(out.join('')).toMatch(/simulated: no pin to drive/);
    expect(kernel.exports).toEqual([]);
  });

  it('refuses a hardware section it cannot read, naming the field, and writes nothing', async () => {
    const path = join(sysfs.root, '..', 'bad.yaml');
    writeFileSync(path, stringify({ hardware: { gpio: { driver: 'sysfs', sysfsRoot: sysfs.root }, outputs: { door: { pin: 99 } }, readers: [{ id: 'e', driver: 'pcsc' }] } }));
    const { err, io: cli } = io();
    expect(await runOutputsSafe(path, cli, { files: kernel })).toBe(1);
    expect(err.join('')).toMatch(/nothing written[\s\S]*hardware\.outputs\.door\.pin: must be a BCM GPIO number/);
    expect(existsSync(join(sysfs.root, `gpio${PINS.door}`))).toBe(false);
  });

  it('tries every pin when one cannot be driven, and exits 1 naming it', async () => {
    for (const gpio of Object.values(PINS)) exported(gpio, 'out', '0');
    const failing: SysfsFiles = {
      exists: realSysfsFiles.exists,
      write(path, text) {
        if (path.includes(`gpio${PINS.lights}`)) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        realSysfsFiles.write(path, text);
      },
    };
    const { err, io: cli } = io();
    expect(await runOutputsSafe(config('fail-secure'), cli, { files: failing })).toBe(1);
    expect(err.join('')).toMatch(/lights BCM 27 \(gpio539\) could not be driven low: EIO/);
    expect(direction(PINS.door)).toBe('high');
    expect(direction(PINS.ledRed)).toBe('low');
  });

  it('runs as the unit runs it, through bin/oag.js', async () => {
    for (const gpio of Object.values(PINS)) exported(gpio, 'out', '0');
    const path = config('fail-secure');
    const outcome = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['bin/oag.js', 'outputs-safe', '--config', path], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
      });
    });
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(direction(PINS.door)).toBe('high');
    expect(direction(PINS.sounder)).toBe('high');
  });
});
