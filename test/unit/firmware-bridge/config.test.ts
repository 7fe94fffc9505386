import { describe, expect, it } from 'vitest';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';

function problems(input: unknown): string[] {
  const result = HardwareConfigSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

/** A test bench: simulated drivers, named. */
const bench = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  gpio: { driver: 'simulated' },
  readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
  ...extra,
});

describe('hardware config', () => {
  it('never falls back on simulated drivers: an empty section names what it needs', () => {
    expect(problems({})).toEqual([
      'gpio: required: { driver: sysfs } on a Raspberry Pi; simulated drivers are never a default: name them (`driver: simulated`) for a test bench or the demo',
      'readers: required: the card readers (pcsc, keyboard); simulated drivers are never a default: name them (`driver: simulated`) for a test bench or the demo',
    ]);
    expect(problems({ gpio: {}, readers: [{ id: 'entry', driver: 'pcsc' }] })[0]).toMatch(/^gpio\.driver: required: sysfs on a Raspberry Pi; simulated drivers are never a default/);
    // sysfs GPIO and no readers: once a simulated reader by default, with a tap route that needs no login.
    expect(problems({ gpio: { driver: 'sysfs' }, outputs: { door: { pin: 17 }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } } })).toEqual([
      'readers: required: the card readers (pcsc, keyboard); simulated drivers are never a default: name them (`driver: simulated`) for a test bench or the demo',
    ]);
  });

  it('runs on simulated hardware when the section names it', () => {
    const config = HardwareConfigSchema.parse(bench());
    expect(config.gpio).toEqual({ driver: 'simulated', sysfsRoot: '/sys/class/gpio' });
    expect(config.outputs.door).toEqual({ activeLevel: 'high', safe: 'inactive' });
    expect(Object.keys(config.outputs).sort()).toEqual(['door', 'ledGreen', 'ledRed', 'lights', 'sounder']);
    expect(config.inputs).toEqual({});
    expect(config.readers).toEqual([{ id: 'entry', driver: 'simulated', role: 'entry' }]);
    expect(config.keypad).toEqual({ driver: 'none' });
  });

  it('defaults inputs to contacts switching to ground, debounced 30 ms', () => {
    const config = HardwareConfigSchema.parse(bench({ inputs: { exitButton: { pin: 22 } } }));
    expect(config.inputs.exitButton).toEqual({ pin: 22, activeLevel: 'low', debounceMs: 30 });
  });

  it('parses a real branch wiring under sysfs', () => {
    const config = HardwareConfigSchema.parse({
      gpio: { driver: 'sysfs' },
      outputs: {
        door: { pin: 17, activeLevel: 'low', safe: 'inactive' },
        lights: { pin: 27 },
        sounder: { pin: 22 },
        ledGreen: { pin: 5 },
        ledRed: { pin: 6 },
      },
      inputs: { doorContact: { pin: 23, activeLevel: 'high' }, exitButton: { pin: 24 }, fireAlarm: { pin: 25, activeLevel: 'high', debounceMs: 100 } },
      readers: [
        { id: 'entry', driver: 'pcsc', role: 'entry', namePattern: 'ACR122|00 00' },
        { id: 'exit', driver: 'pcsc', role: 'exit', namePattern: '00 01' },
      ],
    });
    expect(config.outputs.door).toEqual({ pin: 17, activeLevel: 'low', safe: 'inactive' });
    expect(config.readers[1]).toEqual({ id: 'exit', driver: 'pcsc', role: 'exit', namePattern: '00 01' });
  });

  it('refuses a pin used twice, naming the path and the first user', () => {
    expect(problems(bench({ outputs: { door: { pin: 17 } }, inputs: { exitButton: { pin: 17 } } }))).toEqual([
      'inputs.exitButton.pin: BCM 17 is already used by outputs.door',
    ]);
    expect(problems(bench({ outputs: { door: { pin: 4 }, lights: { pin: 4 } } }))).toEqual(['outputs.lights.pin: BCM 4 is already used by outputs.door']);
  });

  it('requires a pin for every output and input under sysfs', () => {
    const found = problems({
      gpio: { driver: 'sysfs' },
      outputs: { door: { pin: 17 }, lights: { pin: 27 }, sounder: { pin: 22 }, ledGreen: { pin: 5 } },
      inputs: { tamper: {} },
      readers: [{ id: 'entry', driver: 'pcsc' }],
    });
    expect(found).toEqual(['outputs.ledRed.pin: required when gpio.driver is sysfs', 'inputs.tamper.pin: required when gpio.driver is sysfs']);
  });

  it('refuses pins that are not header GPIOs, unknown keys and wrong levels', () => {
    expect(problems(bench({ outputs: { door: { pin: 28 } } }))).toEqual(['outputs.door.pin: must be a BCM GPIO number 0–27']);
    expect(problems(bench({ outputs: { door: { pin: 3.5 } } }))).toEqual(['outputs.door.pin: must be a BCM GPIO number 0–27']);
    expect(problems(bench({ outputs: { door: { pinn: 3 } } }))).toEqual(['outputs.door: Unrecognized key: "pinn"']);
    expect(problems(bench({ outputs: { door: { activeLevel: 'up' } } }))[0]).toMatch(/^outputs\.door\.activeLevel: /);
    expect(problems(bench({ inputs: { doorbell: { pin: 3 } } }))).toEqual(['inputs: Unrecognized key: "doorbell"']);
  });

  it('keeps the debounce short enough that a 400 ms input is always seen', () => {
    expect(problems(bench({ inputs: { fireAlarm: { pin: 25, debounceMs: 500 } } }))).toEqual([
      'inputs.fireAlarm.debounceMs: must be at most 400 (inputs held 400 ms must always be seen)',
    ]);
    expect(problems(bench({ inputs: { fireAlarm: { pin: 25, debounceMs: 400 } } }))).toEqual([]);
  });

  it('checks readers: unique ids, valid patterns, options only where they mean something', () => {
    expect(
      problems(
        bench({
          readers: [
            { id: 'door', driver: 'pcsc', namePattern: 'ACR(122' },
            { id: 'door', driver: 'simulated', device: '/dev/input/event0' },
            { id: 'wedge', driver: 'keyboard', namePattern: 'x' },
          ],
        }),
      ),
    ).toEqual([
      'readers.0.namePattern: must be a valid regular expression',
      'readers.1.id: duplicate reader id "door"',
      'readers.1.device: only for driver keyboard',
      'readers.2.namePattern: only for driver pcsc',
    ]);
    expect(problems(bench({ readers: [] }))).toEqual(['readers: configure at least one reader']);
    expect(problems(bench({ readers: [{ id: 'a', driver: 'keyboard' }, { id: 'b', driver: 'keyboard', device: '-' }] }))).toEqual([
      'readers.1.device: only one keyboard reader can read stdin',
    ]);
  });

  it('defaults a reader to the entry role', () => {
    expect(HardwareConfigSchema.parse(bench({ readers: [{ id: 'wedge', driver: 'keyboard', device: '/dev/input/by-id/usb-reader-event-kbd' }] })).readers[0]).toEqual({
      id: 'wedge',
      driver: 'keyboard',
      role: 'entry',
      device: '/dev/input/by-id/usb-reader-event-kbd',
    });
  });
});
