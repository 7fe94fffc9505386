import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { HardwareConfigSchema } from '../../../firmware-bridge/config.js';
import { createHardware } from '../../../firmware-bridge/create-hardware.js';
import { installSafeStateHandlers } from '../../../firmware-bridge/safety.js';
import type { Hardware } from '../../../firmware-bridge/types.js';
import { recordingLogger } from './fakes.js';

async function setup(options: { onSignal?: (s: NodeJS.Signals) => Promise<void> } = {}) {
  const hw = await createHardware(
    HardwareConfigSchema.parse({
      gpio: { driver: 'simulated' },
      outputs: { door: { safe: 'inactive' }, lights: { safe: 'inactive' } },
      readers: [{ id: 'entry', driver: 'simulated', role: 'entry' }],
    }),
  );
  const proc = new EventEmitter();
  const exits: number[] = [];
  const order: string[] = [];
  const { logger, lines } = recordingLogger();
  const spied: Hardware = {
    ...hw,
    allSafe: () => {
      order.push('allSafe');
      hw.allSafe();
    },
    detachReaders: () => {
      order.push('detachReaders');
      hw.detachReaders();
    },
    holdSafe: () => {
      order.push('holdSafe');
      hw.holdSafe();
    },
    close: async () => {
      order.push('close');
      await hw.close();
    },
  };
  const uninstall = installSafeStateHandlers(spied, logger, {
    process: proc as unknown as NodeJS.Process,
    exit: (code) => {
      order.push(`exit ${code}`);
      exits.push(code);
    },
    ...options,
  });
  // the door unlocked and the lights on, as in the middle of open access
  hw.outputs.door.set(true);
  hw.outputs.lights.set(true);
  return { hw, proc, exits, order, lines, uninstall };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('safe state on the way out', () => {
  it('on SIGTERM lets the readers go, then locks the door and holds it, then closes and exits 0', async () => {
    const { hw, proc, order, uninstall } = await setup();
    const taps: unknown[] = [];
    hw.readers[0]?.on('tap', (tap) => taps.push(tap));
    proc.emit('SIGTERM', 'SIGTERM');
    // synchronously, before any await
    expect(hw.outputs.door.active).toBe(false);
    expect(hw.outputs.lights.active).toBe(false);
    expect(order.slice(0, 2)).toEqual(['detachReaders', 'holdSafe']);
    // A card in the moment after reaches nobody, and nothing still running can unlock the door.
    hw.simulated?.reader?.tap('04A1B2C3D4');
    expect(taps).toEqual([]);
    hw.outputs.door.set(true);
    expect(hw.outputs.door.active).toBe(false);
    await settle();
    expect(order).toEqual(['detachReaders', 'holdSafe', 'close', 'exit 0']);
    uninstall();
  });

  it('hands SIGINT to the service after the outputs are safe; a second signal exits at once', async () => {
    const signals: string[] = [];
    const { hw, proc, exits, uninstall } = await setup({
      onSignal: async (signal) => {
        signals.push(signal);
        await new Promise(() => {}); // a stop that hangs
      },
    });
    proc.emit('SIGINT', 'SIGINT');
    expect(hw.outputs.door.active).toBe(false);
    await settle();
    expect(signals).toEqual(['SIGINT']);
    expect(exits).toEqual([]);
    proc.emit('SIGINT', 'SIGINT');
    expect(hw.outputs.door.active).toBe(false);
    expect(exits).toEqual([130]);
    uninstall();
  });

  it('makes outputs safe and exits 1 on an uncaught exception or unhandled rejection', async () => {
    const { hw, proc, exits, lines, uninstall } = await setup();
    proc.emit('uncaughtException', new Error('boom'));
    expect(hw.outputs.door.active).toBe(false);
    expect(exits).toEqual([1]);
    hw.outputs.door.set(true);
    proc.emit('unhandledRejection', new Error('lost promise'));
    expect(hw.outputs.door.active).toBe(false);
    expect(exits).toEqual([1, 1]);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.obj.kind)).toEqual(['uncaughtException', 'unhandledRejection']);
    uninstall();
  });

  it('makes outputs safe on exit, and the uninstall function removes every handler', async () => {
    const { hw, proc, uninstall } = await setup();
    proc.emit('exit', 0);
    expect(hw.outputs.door.active).toBe(false);
    uninstall();
    for (const event of ['SIGTERM', 'SIGINT', 'uncaughtException', 'unhandledRejection', 'exit']) expect(proc.listenerCount(event)).toBe(0);
  });
});
