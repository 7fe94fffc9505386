// onoff, loaded only when the sysfs driver is configured, behind the two constructor shapes the drivers use.
// Tests pass a fake class of the same shape to check the order of writes.
import type { BinaryValue, Direction, Edge, Options } from 'onoff';
import { errorField, type HardwareLogger } from '../logger.js';

export type { BinaryValue };

export interface GpioPin {
  readSync(): BinaryValue;
  writeSync(value: BinaryValue): void;
  watch(callback: (err: Error | null | undefined, value: BinaryValue) => void): void;
  unwatchAll(): void;
  unexport(): void;
}

export type GpioClass = new (gpio: number, direction: Direction, edge?: Edge, options?: Options) => GpioPin;

export class GpioUnavailableError extends Error {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`GPIO unavailable: onoff could not be loaded (run npm install on the Pi; it builds the native epoll module): ${reason}`, { cause });
    this.name = 'GpioUnavailableError';
  }
}

export async function loadOnoff(): Promise<GpioClass> {
  try {
    const mod = (await import('onoff')) as { Gpio?: GpioClass; default?: { Gpio?: GpioClass } };
    const Gpio = mod.Gpio ?? mod.default?.Gpio;
    if (Gpio === undefined) throw new Error('the module has no Gpio export');
    return Gpio;
  } catch (error) {
    throw new GpioUnavailableError(error);
  }
}

/** The electrical level for a logical state: active-low pins are inverted here, not through sysfs `active_low`. */
export function levelFor(active: boolean, activeLevel: 'high' | 'low'): BinaryValue {
  return active === (activeLevel === 'high') ? 1 : 0;
}

/**
 * An output of either pin backend to its safe state: a failure is logged, never thrown, as a stop and every alarm path
 * call it and must go on to the next output.
 */
export function setSafeOrLog(output: { readonly name: string; set(active: boolean): void }, safeState: boolean, logger: HardwareLogger): void {
  try {
    output.set(safeState);
  } catch (error) {
    logger.error({ output: output.name, err: errorField(error) }, 'could not drive output to its safe state');
  }
}
