// The example config reads the fire input as docs/hardware.md wires it: a contact closed while all is well, so that a
// cut wire (the pull-up wins) reads as a fire and is never silently "no fire".
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InputConfigSchema } from '../../../firmware-bridge/config.js';
import { SysfsInput } from '../../../firmware-bridge/gpio/sysfs-input.js';
import { fakeGpio, recordingLogger } from './fakes.js';

const example = parse(readFileSync(new URL('../../../gateway/gateway.example.yaml', import.meta.url), 'utf8')) as {
  hardware: { inputs: { fireAlarm: unknown } };
};
const FIRE = 537; // any sysfs number: the fake has no pin map

describe("the example config's fire input", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reads no fire while the contact is closed, and a fire when it opens or its wire is cut', () => {
    const config = InputConfigSchema.parse(example.hardware.inputs.fireAlarm);
    const world = fakeGpio();
    world.inputLevels.set(FIRE, 0); // the panel's contact closed: pin held low
    const fire = new SysfsInput('fireAlarm', { ...config, debounceMs: 0 }, FIRE, world.Gpio, recordingLogger().logger);
    expect(fire.active).toBe(false);
    world.pins.get(FIRE)!.drive(1); // alarm, a cut or an unplugged cable: nothing holds the pin low
    expect(fire.active).toBe(true);
    fire.close();
  });

  it('would read a cut wire as a fire at boot too', () => {
    const config = InputConfigSchema.parse(example.hardware.inputs.fireAlarm);
    const world = fakeGpio();
    world.inputLevels.set(FIRE, 1);
    const fire = new SysfsInput('fireAlarm', config, FIRE, world.Gpio, recordingLogger().logger);
    expect(fire.active).toBe(true);
    fire.close();
  });
});
