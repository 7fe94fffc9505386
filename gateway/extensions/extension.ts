// Everything around the core is an extension: one small object with `start` and `stop`, whose failures stay its
// own. The host starts each in turn; one that fails to start, or fails later, is logged, raised as its alarm
// (`<name>-failed`) and started again with backoff, while the door goes on. Its bus listeners are registered
// under its name and all removed when it stops (Zigbee2MQTT's lib/extension is the model).
import type { Logger } from 'pino';
import type { Alarms } from '../core/alarms.js';
import type { BusEventName, BusEvents, EventBus } from '../core/bus.js';
import type { AlarmName } from '../core/model.js';

export interface ExtensionContext {
  readonly logger: Logger;
  /** Listen on the bus for as long as the extension runs; removed for it when it stops. */
  on<K extends BusEventName>(event: K, listener: (...args: BusEvents[K]) => void): void;
  /** A failure after start (a worker died, a server closed under it): the host stops it and starts it again. */
  fail(error: unknown): void;
}

export interface Extension {
  readonly name: string;
  start(context: ExtensionContext): Promise<void> | void;
  stop(): Promise<void> | void;
}

export type ExtensionState = 'starting' | 'running' | 'failed' | 'stopped';

export interface ExtensionStatus {
  name: string;
  state: ExtensionState;
  /** The last failure, as one line. */
  error?: string | undefined;
  /** When the host tries again (ms since epoch), while failed. */
  retryAt?: number | undefined;
}

export interface RetryPolicy {
  firstMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { firstMs: 1000, maxMs: 5 * 60_000 };

interface Slot {
  extension: Extension;
  state: ExtensionState;
  error?: string | undefined;
  attempts: number;
  retry?: ReturnType<typeof setTimeout> | undefined;
  retryAt?: number | undefined;
  /** Bumped on every start, so that a late failure from an earlier run is ignored. */
  generation: number;
}

export function failedAlarm(name: string): AlarmName {
  return `${name}-failed` as AlarmName;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 300);
}

export class ExtensionHost {
  private readonly slots: Slot[] = [];
  private running = false;

  constructor(
    private readonly deps: {
      bus: EventBus;
      alarms: Alarms;
      logger: Logger;
      retry?: RetryPolicy | undefined;
      now?: () => number;
    },
  ) {}

  add(extension: Extension): void {
    if (this.slots.some((slot) => slot.extension.name === extension.name)) throw new Error(`extension ${extension.name} added twice`);
    this.slots.push({ extension, state: 'stopped', attempts: 0, generation: 0 });
  }

  /** Starts every extension not yet started, in the order added; resolves when each has started or failed. */
  async start(): Promise<void> {
    this.running = true;
    for (const slot of this.slots) {
      if (slot.state === 'stopped' && slot.generation === 0) await this.startOne(slot);
    }
  }

  /** Starts one extension ahead of the rest (never rejects; a failure is its alarm and a retry). */
  async startExtension(name: string): Promise<void> {
    this.running = true;
    const slot = this.slot(name);
    if (slot !== undefined && slot.state === 'stopped') await this.startOne(slot);
  }

  /** Stops one extension ahead of the rest, for good: it is not started again. */
  async stopExtension(name: string): Promise<void> {
    const slot = this.slot(name);
    if (slot === undefined || slot.state === 'stopped') return;
    await this.halt(slot);
  }

  /** Stops every extension in reverse order; resolves when all have stopped (never rejects). */
  async stop(): Promise<void> {
    this.running = false;
    for (const slot of [...this.slots].reverse()) {
      if (slot.state !== 'stopped') await this.halt(slot);
    }
  }

  private slot(name: string): Slot | undefined {
    return this.slots.find((slot) => slot.extension.name === name);
  }

  private async halt(slot: Slot): Promise<void> {
    clearTimeout(slot.retry);
    slot.retry = undefined;
    slot.generation += 1;
    slot.state = 'stopped';
    await this.stopOne(slot);
  }

  status(): ExtensionStatus[] {
    return this.slots.map((slot) => ({ name: slot.extension.name, state: slot.state, error: slot.error, retryAt: slot.retryAt }));
  }

  get(name: string): Extension | undefined {
    return this.slots.find((slot) => slot.extension.name === name)?.extension;
  }

  private async startOne(slot: Slot): Promise<void> {
    const { extension } = slot;
    const generation = ++slot.generation;
    slot.state = 'starting';
    const context: ExtensionContext = {
      logger: this.deps.logger.child({ extension: extension.name }),
      on: (event, listener) => {
        this.deps.bus.on(event, listener, extension.name);
      },
      fail: (error) => {
        if (slot.generation !== generation || !this.running) return;
        void this.failed(slot, error, 'failed');
      },
    };
    try {
      await extension.start(context);
    } catch (error) {
      if (slot.generation === generation) await this.failed(slot, error, 'failed to start');
      return;
    }
    if (slot.generation !== generation || slot.state !== 'starting') return;
    slot.state = 'running';
    if (slot.attempts > 0) {
      this.deps.logger.info({ extension: extension.name }, `${extension.name} running again`);
      this.deps.alarms.clear(failedAlarm(extension.name), 'running again');
    }
    slot.attempts = 0;
    slot.error = undefined;
    slot.retryAt = undefined;
  }

  private async failed(slot: Slot, error: unknown, what: string): Promise<void> {
    const { extension } = slot;
    const message = oneLine(error);
    slot.generation += 1;
    slot.state = 'failed';
    slot.error = message;
    slot.attempts += 1;
    this.deps.logger.error({ extension: extension.name, err: { message, stack: (error as Error)?.stack } }, `${extension.name} ${what}: ${message}`);
    this.deps.alarms.raise(failedAlarm(extension.name), `${extension.name} ${what}: ${message}`);
    await this.stopOne(slot);
    if (!this.running) return;
    const retry = this.deps.retry ?? DEFAULT_RETRY;
    const delay = Math.min(retry.maxMs, retry.firstMs * 2 ** Math.min(slot.attempts - 1, 20));
    slot.retryAt = (this.deps.now ?? Date.now)() + delay;
    clearTimeout(slot.retry);
    slot.retry = setTimeout(() => {
      slot.retry = undefined;
      if (this.running && slot.state === 'failed') void this.startOne(slot);
    }, delay);
    slot.retry.unref?.();
  }

  /** Stops it and removes its listeners, whatever state it is in; a stop that throws is only logged. */
  private async stopOne(slot: Slot): Promise<void> {
    this.deps.bus.removeOwner(slot.extension.name);
    try {
      await slot.extension.stop();
    } catch (error) {
      this.deps.logger.warn({ extension: slot.extension.name, err: { message: oneLine(error) } }, `${slot.extension.name} failed to stop cleanly`);
    }
  }
}
