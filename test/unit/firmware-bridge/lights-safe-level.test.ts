// The lights' safe level: on unless the site says otherwise, since a crash must not leave people inside in the dark.
import { describe, expect, it } from 'vitest';
import { HardwareConfigSchema, type HardwareConfigInput } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';

const clock = { now: () => new Date('2026-11-23T21:00:00Z') };
const simulated = (outputs: HardwareConfigInput['outputs'] = {}): HardwareConfigInput => ({
  gpio: { driver: 'simulated' },
  outputs,
  readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
});

describe('the lights output', () => {
  it('is safe on by default, and every other output safe off', () => {
    const { outputs } = HardwareConfigSchema.parse(simulated());
    expect(outputs.lights.safe).toBe('active');
    expect([outputs.door.safe, outputs.sounder.safe, outputs.ledGreen.safe, outputs.ledRed.safe]).toEqual(['inactive', 'inactive', 'inactive', 'inactive']);
  });

  it('comes up on, and allSafe (a crash, a stop) puts it back on after the gateway switched it off', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse(simulated()), { clock });
    expect(hw.outputs.lights.active).toBe(true);
    hw.outputs.lights.set(false); // closed and empty
    hw.outputs.sounder.set(true);
    hw.allSafe();
    expect(hw.outputs.lights.active).toBe(true);
    expect(hw.outputs.sounder.active).toBe(false);
    expect(hw.simulated?.outputs.lights?.history.map((w) => w.active)).toEqual([true, false, true]);
    await hw.close();
  });

  it('takes safe: inactive from a site that wants the lights off when the software is not in control', async () => {
    const hw = await createHardware(HardwareConfigSchema.parse(simulated({ lights: { safe: 'inactive' } })), { clock });
    expect(hw.outputs.lights.active).toBe(false);
    hw.outputs.lights.set(true);
    hw.allSafe();
    expect(hw.outputs.lights.active).toBe(false);
    await hw.close();
  });

  it('is still checked strictly', () => {
    expect(HardwareConfigSchema.safeParse(simulated({ lights: { safe: 'on' as never } })).success).toBe(false);
    expect(HardwareConfigSchema.safeParse(simulated({ lights: { save: 'active' } as never })).success).toBe(false);
  });
});
