// Power, as an extension: the Pi's own under-voltage flag, and the mains supply where an input reports it (a UPS HAT's
// power-good output, a mains-sensing relay). EN 60839-11-1 asks for power loss and restore to be logged and alerted;
// here each is an alarm raised and cleared (`undervoltage`, `mains-lost`), and the state says which of the two facts
// this branch can see at all. Nothing here touches the door: a Pi on battery decides as before.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DigitalInput } from '../../firmware-bridge/types.js';
import type { Alarms } from '../core/alarms.js';
import type { PowerFacts } from '../core/state.js';
import type { Extension, ExtensionContext } from './extension.js';

/** Where the Raspberry Pi firmware driver puts its throttled flags: `soc` on a Pi 4, `soc@107c000000` on a Pi 5. */
export const PLATFORM_ROOT = '/sys/devices/platform';
const UNDER_VOLTAGE_NOW = 1 << 0;
const UNDER_VOLTAGE_OCCURRED = 1 << 16;

export interface PowerDeps {
  /** The core's alarms, and where the facts go for the state. */
  alarms: Pick<Alarms, 'raise' | 'clear' | 'has'>;
  setPower(facts: PowerFacts, quiet?: boolean): void;
  /** The mains-present input, when one is fitted: active while the mains supply is on. */
  mainsPresent?: DigitalInput | undefined;
  /** Where the firmware's `get_throttled` is looked for; tests point it at a temp folder. */
  platformRoot?: string;
  pollMs?: number;
  readText?: (path: string) => Promise<string>;
  listDir?: (path: string) => Promise<string[]>;
}

/** The firmware's flags: a hex number, with or without `0x` (`50005`, `0x50005`). */
export function parseThrottled(text: string): number | undefined {
  const match = /^\s*(?:0x)?([0-9a-f]{1,8})\s*$/i.exec(text);
  return match === null ? undefined : Number.parseInt(match[1]!, 16);
}

export class PowerExtension implements Extension {
  readonly name = 'power';
  private timer: ReturnType<typeof setInterval> | undefined;
  private facts: PowerFacts = { undervoltage: null, mains: null };
  private throttledPath: string | undefined;
  private lastFlags: number | undefined;
  private reading: Promise<void> | undefined;
  private onMains: ((present: boolean) => void) | undefined;
  private stopped = false;

  constructor(private readonly deps: PowerDeps) {}

  async start(context: ExtensionContext): Promise<void> {
    this.stopped = false;
    this.lastFlags = undefined;
    const mains = this.deps.mainsPresent;
    if (mains !== undefined) {
      this.onMains = (present) => this.mainsChanged(present, context);
      mains.on('change', this.onMains);
      this.mainsChanged(mains.active, context);
    }
    this.throttledPath = await this.findThrottled();
    if (this.throttledPath === undefined) {
      // Not a Raspberry Pi (or a kernel without the firmware driver): nothing to watch, and nothing wrong.
      context.logger.info(`no get_throttled under ${this.deps.platformRoot ?? PLATFORM_ROOT}: not a Raspberry Pi, so under-voltage is not watched`);
    } else {
      await this.readThrottled(context);
      this.timer = setInterval(() => {
        this.reading ??= this.readThrottled(context).finally(() => {
          this.reading = undefined;
        });
      }, this.deps.pollMs ?? 5000);
      this.timer.unref?.();
    }
    this.publish();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.onMains !== undefined) this.deps.mainsPresent?.off('change', this.onMains);
    this.onMains = undefined;
    await this.reading;
    // Nobody watches any more: the next state says so, without a state of its own on the way out.
    this.facts = { undervoltage: null, mains: null };
    this.deps.setPower(this.facts, true);
  }

  private mainsChanged(present: boolean, context: ExtensionContext): void {
    const mains = present ? 'present' : 'lost';
    if (mains === this.facts.mains) return;
    const restored = this.facts.mains === 'lost';
    this.facts = { ...this.facts, mains };
    if (mains === 'lost') {
      context.logger.warn('mains supply lost: running on the UPS');
      this.deps.alarms.raise('mains-lost', 'the mains-present input says the mains supply is off: the branch runs on its UPS');
    } else if (this.deps.alarms.has('mains-lost')) {
      context.logger.info('mains supply restored');
      this.deps.alarms.clear('mains-lost', restored ? 'mains supply restored' : 'mains supply present at start');
    }
    this.publish();
  }

  private async readThrottled(context: ExtensionContext): Promise<void> {
    const path = this.throttledPath;
    if (path === undefined) return;
    let flags: number | undefined;
    try {
      flags = parseThrottled(await (this.deps.readText ?? ((p) => readFile(p, 'utf8')))(path));
    } catch (error) {
      context.logger.warn({ err: { message: (error as Error).message } }, `could not read ${path}`);
    }
    if (this.stopped) return;
    if (flags === undefined) {
      // A value we cannot read says nothing: the fact is unknown until the next good reading.
      if (this.facts.undervoltage !== null) {
        this.facts = { ...this.facts, undervoltage: null };
        this.publish();
      }
      return;
    }
    const previous = this.lastFlags;
    this.lastFlags = flags;
    const now = (flags & UNDER_VOLTAGE_NOW) !== 0;
    if (previous === undefined && !now && (flags & UNDER_VOLTAGE_OCCURRED) !== 0) {
      // Sticky since boot, and maybe already told before a restart of the service: logged, not raised again.
      context.logger.warn(`the Pi's firmware reports under-voltage since boot (get_throttled ${flags.toString(16)}): check its supply`);
    }
    if (now) {
      this.deps.alarms.raise('undervoltage', `the Pi's supply is below 4.63 V (get_throttled ${flags.toString(16)}): replace the supply or its cable`);
    } else if (previous !== undefined && (previous & UNDER_VOLTAGE_OCCURRED) === 0 && (flags & UNDER_VOLTAGE_OCCURRED) !== 0) {
      // A dip shorter than the time between two readings: only the sticky flag saw it.
      this.deps.alarms.raise('undervoltage', `the Pi's supply dipped below 4.63 V between two readings (get_throttled ${flags.toString(16)})`);
      this.deps.alarms.clear('undervoltage', 'the supply is back above 4.63 V');
    } else {
      this.deps.alarms.clear('undervoltage', 'the supply is back above 4.63 V');
    }
    if (this.facts.undervoltage !== now) {
      this.facts = { ...this.facts, undervoltage: now };
      this.publish();
    }
  }

  private publish(): void {
    if (!this.stopped) this.deps.setPower(this.facts);
  }

  /** The firmware driver's file, wherever the SoC's node sits on this model. */
  private async findThrottled(): Promise<string | undefined> {
    const root = this.deps.platformRoot ?? PLATFORM_ROOT;
    const list = this.deps.listDir ?? ((path: string) => readdir(path));
    const read = this.deps.readText ?? ((path: string) => readFile(path, 'utf8'));
    let socs: string[];
    try {
      socs = (await list(root)).filter((name) => name === 'soc' || name.startsWith('soc@'));
    } catch {
      return undefined;
    }
    for (const soc of socs.sort()) {
      let entries: string[];
      try {
        entries = await list(join(root, soc));
      } catch {
        continue;
      }
      for (const firmware of entries.filter((name) => name.endsWith(':firmware')).sort()) {
        const path = join(root, soc, firmware, 'get_throttled');
        try {
          await read(path);
          return path;
        } catch {
          // Not this one: the file is absent, or this kernel's driver has no such attribute.
        }
      }
    }
    return undefined;
  }
}
