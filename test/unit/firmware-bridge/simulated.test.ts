// The simulated drivers as the gateway's tests, the demo and `oag tap` drive them.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { createHardware, simulatedControls } from '../../../firmware-bridge/create-hardware.js';
import type { CardTap, ReaderStatus } from '../../../firmware-bridge/types.js';

const config = HardwareConfigSchema.parse({
  gpio: { driver: 'simulated' },
  inputs: { doorContact: { activeLevel: 'high' }, exitButton: {}, counterIn: { debounceMs: 0 } },
  readers: [
    { id: 'exit', driver: 'simulated', role: 'exit' },
    { id: 'front', driver: 'simulated', role: 'entry' },
  ],
  keypad: { driver: 'simulated' },
});

describe('simulated hardware', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('plays taps on the entry reader by default, or on a named reader', async () => {
    const hw = await createHardware(config);
    const sim = simulatedControls(hw);
    const taps: CardTap[] = [];
    hw.readers[0]!.on('tap', (t) => taps.push(t));
    expect(sim.reader?.readerIds).toEqual(['front', 'exit']);
    sim.reader?.tap('04:a2:b3:c4');
    sim.reader?.tap('0455', 'exit');
    expect(taps.map(({ uid, readerId, role }) => [uid, readerId, role])).toEqual([
      ['04A2B3C4', 'front', 'entry'],
      ['0455', 'exit', 'exit'],
    ]);
    expect(() => sim.reader?.tap('04', 'side')).toThrow(/no simulated reader "side" \(simulated readers: front, exit\)/);
    expect(() => sim.reader?.tap('zz')).toThrow(/hexadecimal/);
    await hw.close();
  });

  it('unplugs a reader: offline status, and taps on it read nothing', async () => {
    const hw = await createHardware(config);
    const reader = hw.readers[0]!;
    const statuses: ReaderStatus[] = [];
    const taps: CardTap[] = [];
    reader.on('status', (s) => statuses.push(s));
    reader.on('tap', (t) => taps.push(t));
    await reader.start();
    expect(statuses.map((s) => [s.readerId, s.online])).toEqual([
      ['front', true],
      ['exit', true],
    ]);
    hw.simulated?.reader?.setOnline('front', false);
    hw.simulated?.reader?.setOnline('front', false);
    expect(hw.simulated?.reader?.tap('04A2B3C4')).toBeUndefined();
    hw.simulated?.reader?.setOnline('front', true);
    expect(statuses.slice(2)).toEqual([
      { readerId: 'front', role: 'entry', online: false, detail: 'simulated reader unplugged' },
      { readerId: 'front', role: 'entry', online: true, detail: undefined },
    ]);
    expect(taps).toEqual([]);
    const errors: string[] = [];
    reader.on('read-error', (e) => errors.push(e.readerId));
    hw.simulated?.reader?.failRead('exit');
    expect(errors).toEqual(['exit']);
    await hw.close();
  });

  it('drives inputs through the debounce: a press shorter than it is not seen', async () => {
    const hw = await createHardware(config);
    const button = hw.inputs.exitButton!;
    const changes: boolean[] = [];
    button.on('change', (active) => changes.push(active));
    void hw.simulated?.inputs.exitButton?.pulse(10);
    await vi.advanceTimersByTimeAsync(100);
    expect(changes).toEqual([]);
    const done = hw.simulated?.inputs.exitButton?.pulse(200);
    await vi.advanceTimersByTimeAsync(30);
    expect(button.active).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    await done;
    expect(changes).toEqual([true, false]);
    // debounce 0: a counter pulse is seen at once
    const counts: boolean[] = [];
    hw.inputs.counterIn!.on('change', (a) => counts.push(a));
    hw.simulated?.inputs.counterIn?.set(true);
    hw.simulated?.inputs.counterIn?.set(false);
    expect(counts).toEqual([true, false]);
    expect(hw.inputs.fireAlarm).toBeUndefined();
    await hw.close();
  });

  it('enters PINs on the keypad for the entry reader', async () => {
    const hw = await createHardware(config);
    const pins: { digits: string; readerId: string }[] = [];
    hw.keypad?.on('pin', (p) => pins.push(p));
    hw.simulated?.keypad?.enter('1234');
    expect(pins).toEqual([{ digits: '1234', readerId: 'front' }]);
    expect(() => hw.simulated?.keypad?.enter('12a4')).toThrow(/digits/);
    await hw.close();
  });

  it('has no simulated controls on real hardware, and says so', () => {
    expect(() => simulatedControls({ simulated: undefined })).toThrow(/not simulated/);
  });
});
