// A door relay whose gpioset dies (the OOM killer, a stray killall) on the gpiod backend, with the real gateway above
// it: the fault is the `output-failed` alarm naming the output, the door goes on deciding, and the alarm clears once
// a new gpioset holds the line. The tools are the in-process chip (test/unit/firmware-bridge/gpiod-fakes.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { HardwareConfigSchema, type HardwareConfigInput } from '../../firmware-bridge/config.js';
import { createHardware } from '../../firmware-bridge/create-hardware.js';
import { OPEN_ALL_DAY } from '../helpers/console.js';
import { removeDir, startHarness, type Harness } from '../helpers/gateway-harness.js';
import { until } from '../helpers/until.js';
import { fakeChip } from '../unit/firmware-bridge/gpiod-fakes.js';

const MEMBER = '04A1B2C3D4';
const DOOR_LINE = 17;
const hardwareConfig: HardwareConfigInput = {
  gpio: { driver: 'gpiod' },
  outputs: { door: { pin: DOOR_LINE }, lights: { pin: 27, safe: 'active' }, sounder: { pin: 22 }, ledGreen: { pin: 5 }, ledRed: { pin: 6 } },
  inputs: { doorContact: { pin: 23, debounceMs: 0 }, exitButton: { pin: 24, debounceMs: 0 } },
  readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
};

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  if (harness) removeDir(harness.dir);
  harness = undefined;
});

describe('an output that loses its line', () => {
  it('raises output-failed naming it, keeps deciding, and clears once a new gpioset holds the line', async () => {
    const chip = fakeChip('v2-interactive');
    const exists = (path: string) => path === '/dev/gpiochip0';
    const hardware = await createHardware(HardwareConfigSchema.parse(hardwareConfig), { drivers: { gpiod: { spawn: chip.spawn, exists } } });
    harness = await startHarness({ policy: OPEN_ALL_DAY, members: { [MEMBER]: {} }, config: { hardware: hardwareConfig }, start: { hardware } });
    const h = harness;
    const alarms = () => h.events.flatMap((e) => (e.type === 'alarm' && e.alarm === 'output-failed' ? [e] : []));

    chip.owner(DOOR_LINE)!.onKill?.('SIGKILL');
    await until(() => alarms().length > 0);
    expect(alarms()[0]).toMatchObject({ state: 'raised', severity: 'major' });
    expect(String(alarms()[0]!.detail)).toMatch(/^door: gpioset for gpiochip0 line 17 ended \(killed by SIGKILL\)/);

    // The door goes on deciding while its line is being taken back; the grant reaches the line once it is held.
    h.tap(MEMBER);
    await until(() => h.reasons().length > 0);
    expect(h.events.find((e) => e.type === 'access')).toMatchObject({ decision: 'granted' });
    await until(() => alarms().some((e) => e.state === 'cleared'));
    expect(h.running.gateway.state.alarms).not.toContain('output-failed');
  });
});
