// Card + PIN with USB keypads as the kernel gives them: struct input_event bytes from an input device. Where this
// machine has /dev/uinput the keypads are real input devices (matched by name); elsewhere a FIFO made with mkfifo
// stands in for /dev/input/eventN (matched by path), and the driver opens and reads it exactly as it reads the device.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HardwareConfigInput } from '../../firmware-bridge/config.js';
import { encodeKeyEvent, inputEventSize, KEY_KPENTER } from '../../firmware-bridge/readers/input-events.js';
import type { GatewayConfigInput } from '../../gateway/config.js';
import { hashPin } from '../../policies/pin.js';
import { removeDir, startHarness, type Harness } from '../helpers/gateway-harness.js';
import { until } from '../helpers/until.js';
import { createVirtualKeypad, type VirtualKeypad } from '../helpers/virtual-keypad.js';

/** KEY_KP0…KEY_KP9 (linux/input-event-codes.h): what a USB numeric keypad sends. */
const KP_CODES = [82, 79, 80, 81, 75, 76, 77, 71, 72, 73];

const policy = {
  version: 1,
  site: 'town-central',
  schedule: { weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [{ from: '00:00', to: '24:00', mode: 'open-access' }]])) },
  rules: { pin: 'open-access' },
};

let harness: Harness | undefined;
const keypads: VirtualKeypad[] = [];
let dir: string | undefined;

afterEach(async () => {
  await harness?.stop();
  for (const keypad of keypads.splice(0)) await keypad.close();
  if (harness) removeDir(harness.dir);
  if (dir) removeDir(dir);
  harness = undefined;
  dir = undefined;
});

function gatewayConfig(keypad: HardwareConfigInput['keypad']): Partial<GatewayConfigInput> {
  return {
    hardware: {
      gpio: { driver: 'simulated' },
      inputs: { doorContact: { debounceMs: 0 } },
      readers: [
        { id: 'front', driver: 'simulated', role: 'entry' },
        { id: 'side', driver: 'simulated', role: 'entry' },
      ],
      keypad,
    },
  };
}

/** Two entrances, each with a keypad beside its reader. */
async function start(): Promise<{ h: Harness; front: VirtualKeypad; side: VirtualKeypad }> {
  dir = mkdtempSync(join(tmpdir(), 'oag-keypad-'));
  const front = await createVirtualKeypad(dir, `oag-test-${process.pid}-front-keypad`);
  keypads.push(front);
  const side = await createVirtualKeypad(dir, `oag-test-${process.pid}-side-keypad`);
  keypads.push(side);
  harness = await startHarness({
    policy,
    members: { '04A1B2C3D4': { pinHash: hashPin('2468') }, '04A1B2C3D5': { pinHash: hashPin('1357') } },
    config: gatewayConfig([
      { driver: 'evdev', match: front.match, readerId: 'front' },
      { driver: 'evdev', match: side.match, readerId: 'side' },
    ]),
  });
  await front.opened();
  await side.opened();
  return { h: harness, front, side };
}

/** Each key pressed and released, then KP Enter, as the kernel reports them. */
async function typePin(keypad: VirtualKeypad, pin: string): Promise<void> {
  const size = inputEventSize();
  const events = [...pin].map((d) => KP_CODES[Number(d)]!).concat(KEY_KPENTER);
  await keypad.write(Buffer.concat(events.flatMap((code) => [encodeKeyEvent(code, 1, size), encodeKeyEvent(code, 0, size)])));
}

function sounderClicks(h: Harness): number {
  return h.running.hardware.simulated!.outputs.sounder!.history.filter((w) => w.active).length;
}

describe('card + PIN on USB keypads (evdev)', () => {
  it('lets the member in with the right PIN at the reader they tapped, with one click per key', async () => {
    const { h, front } = await start();
    const clicksBefore = sounderClicks(h);
    h.tap('04A1B2C3D4', 'front');
    await typePin(front, '2468');
    await until(() => h.reasons().length === 2, 'the PIN decided');
    await h.running.gateway.access.pinChecksDone();
    expect(h.reasons()).toEqual(['pin-required', 'member']);
    expect(h.doorRelayActive()).toBe(true);
    expect(sounderClicks(h) - clicksBefore).toBe(4);
  });

  it('refuses a wrong PIN as pin-wrong', async () => {
    const { h, front } = await start();
    h.tap('04A1B2C3D4', 'front');
    await typePin(front, '1111');
    await until(async () => {
      await h.running.gateway.access.pinChecksDone();
      return h.reasons().length === 2;
    }, 'the PIN decided');
    expect(h.reasons()).toEqual(['pin-required', 'pin-wrong']);
    expect(h.doorRelayActive()).toBe(false);
  });

  it('a PIN typed at the other entrance does not answer the tap at this one', async () => {
    const { h, front, side } = await start();
    h.tap('04A1B2C3D4', 'front');
    const clicksBefore = sounderClicks(h);
    // The right PIN, at the wrong door: nobody asked there, so it is refused and the front tap still waits.
    await typePin(side, '2468');
    // Four key clicks, then the refusal's beep with the red light alone.
    await until(() => sounderClicks(h) - clicksBefore === 5, 'the side keypad refusing');
    expect(h.running.hardware.simulated!.outputs.ledGreen!.active).toBe(false);
    expect(h.reasons()).toEqual(['pin-required']);
    expect(h.doorRelayActive()).toBe(false);

    // A second member asks at the side door meanwhile; each keypad answers its own reader's tap.
    h.tap('04A1B2C3D5', 'side');
    await typePin(front, '2468');
    await typePin(side, '1357');
    await until(async () => {
      await h.running.gateway.access.pinChecksDone();
      return h.reasons().length === 4;
    }, 'both PINs decided');
    expect(h.reasons()).toEqual(['pin-required', 'pin-required', 'member', 'member']);
  });

  it('a keypad that is not plugged in raises reader-offline', async () => {
    harness = await startHarness({ policy, config: gatewayConfig({ driver: 'evdev', match: { name: 'No Such Keypad 0000' }, readerId: 'front' }) });
    const h = harness;
    await until(() => h.running.gateway.alarms.has('reader-offline'), 'the reader-offline alarm');
  });
});
