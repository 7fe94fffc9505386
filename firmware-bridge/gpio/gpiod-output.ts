// An output on the GPIO character device, held by one long-lived gpioset process. The line is requested already at
// its safe level, before anything else happens to it. libgpiod 2's interactive gpioset then takes `set` commands on
// stdin; without interactive mode (or with libgpiod 1) a change ends the process and starts the next one at the new
// level once the old has let go: the line is released for those few milliseconds, which the wiring makes the safe
// level, and the safe level is one end of every change.
// A process that ends on its own (the OOM killer, a stray killall, a crash) is a fault until the line is held again:
// the line is released and the wiring holds the relay safe, so a new gpioset requests it at once at the level the
// output wants now, then again after a growing wait if it keeps dying. A door whose relay never moved again until
// someone restarted the service would lock members out and keep the exit button from releasing a fail-secure strike.
// While faulted, `set` records the level for the next holder instead of throwing: the door logic keeps running.
import type { OutputConfig } from '../config.js';
import { errorField, type HardwareLogger } from '../logger.js';
import type { DigitalOutput, OutputPinName } from '../types.js';
import { levelFor, setSafeOrLog, type BinaryValue } from './onoff.js';
import {
  describeExit,
  gpiosetArgs,
  onLines,
  parseGpiosetLine,
  realGpiodTimers,
  stderrTail,
  type GpiodProcess,
  type GpiodSpawn,
  type GpiodTimers,
  type GpiodTools,
} from './gpiod-tools.js';

/** A line on a GPIO chip: the header's BCM number is its offset on the header's chip. */
export interface GpiodLine {
  chip: string;
  offset: number;
}

/**
 * How long to wait before each new gpioset after the previous one died on its own: at once, then longer while they
 * keep dying, never longer than 30 s, so that a line another program took is taken back soon after it lets go.
 */
export const RESPAWN_BACKOFF_MS = [0, 1_000, 2_000, 5_000, 30_000] as const;
/**
 * Without interactive mode there is nothing to ask a gpioset: one still running this long after its start holds its
 * line (a refusal, `Device or resource busy`, ends it within milliseconds).
 */
export const RESPAWN_SETTLE_MS = 1_000;
/** The backoff starts over once the line has been held this long without a gpioset dying. */
export const RESPAWN_CALM_MS = 60_000;

interface Holder {
  child: GpiodProcess;
  level: BinaryValue;
  /** We asked it to end (a change of level, or close): its exit is no fault. */
  ending: boolean;
  started: boolean;
  /** Interactive, taking the line back after a fault: the `get` whose answer says the new process holds it. */
  probing: boolean;
}

export class GpiodOutput implements DigitalOutput {
  private readonly safeState: boolean;
  private state: boolean;
  private held = false;
  private closed = false;
  private fault: string | undefined;
  /** The process holding (or requesting) the line; none between a fault and the next attempt. */
  private holder: Holder | undefined;
  /** The level the line should have: the next process starts at it, and a new holder after a fault is brought to it. */
  private wanted: BinaryValue;
  private readonly waiting: Array<{ resolve: (value: BinaryValue) => void; reject: (error: Error) => void; started?: boolean }> = [];
  /** gpiosets that ended on their own since the line was last held for RESPAWN_CALM_MS: the step of the backoff. */
  private deaths = 0;
  private respawnTimer: unknown;
  private settleTimer: unknown;
  private calmTimer: unknown;
  private readonly faultListeners: Array<(fault: string | undefined) => void> = [];

  constructor(
    readonly name: OutputPinName,
    private readonly config: Pick<OutputConfig, 'activeLevel' | 'safe'>,
    private readonly line: GpiodLine,
    private readonly tools: GpiodTools,
    private readonly spawn: GpiodSpawn,
    private readonly logger: HardwareLogger,
    private readonly timers: GpiodTimers = realGpiodTimers,
  ) {
    this.safeState = config.safe === 'active';
    this.state = this.safeState;
    this.wanted = levelFor(this.safeState, config.activeLevel);
    this.start(this.wanted);
  }

  /** The state last set: while faulted, the state the line is brought to once a gpioset holds it again. */
  get active(): boolean {
    return this.state;
  }

  /**
   * Why the output does not drive its line now: its gpioset ended on its own, and no new one holds the line yet.
   * Undefined again once one does.
   */
  get faulted(): string | undefined {
    return this.fault;
  }

  onFault(listener: (fault: string | undefined) => void): void {
    this.faultListeners.push(listener);
  }

  private tellFault(): void {
    for (const listener of this.faultListeners) {
      try {
        listener(this.fault);
      } catch (error) {
        // A listener's failure must not stop the respawn that follows.
        this.logger.error({ output: this.name, err: errorField(error) }, 'an output fault listener threw');
      }
    }
  }

  /**
   * Resolves once gpioset says it holds the line (its banner; libgpiod 1 prints none, and resolves at once), rejects
   * with its own words when it ends first (`Device or resource busy`: another program holds the line).
   */
  ready(): Promise<void> {
    if (this.fault !== undefined) return Promise.reject(this.faultError());
    if (this.holder?.started === true) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiting.push({ resolve: () => resolve(), reject, started: true }));
  }

  /**
   * The level on the line as gpioset reports it (`get`), as a logical state; without interactive mode, the level the
   * holding process was started at.
   */
  readback(): Promise<boolean> {
    const holder = this.holder;
    if (this.fault !== undefined || holder === undefined) return Promise.reject(this.faultError());
    const logical = (value: BinaryValue): boolean => (value === 1) === (this.config.activeLevel === 'high');
    if (!this.tools.interactive) {
      if (holder.started && !holder.ending) return Promise.resolve(logical(holder.level));
      return this.ready().then(() => {
        if (this.holder === undefined) throw this.faultError();
        return logical(this.holder.level);
      });
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve: (value) => resolve(logical(value)), reject });
      holder.child.stdin.write(`get ${this.line.offset}\n`);
    });
  }

  set(active: boolean): void {
    if (this.closed) throw new Error(`output ${this.name} is closed`);
    const next = this.held ? this.safeState : active;
    const level = levelFor(next, this.config.activeLevel);
    this.state = next;
    this.wanted = level;
    const holder = this.holder;
    // Faulted: the new holder is brought to this level once it has the line (recovered).
    if (this.fault !== undefined || holder === undefined) return;
    if (this.tools.interactive) {
      holder.child.stdin.write(`set ${this.line.offset}=${level}\n`);
      holder.level = level;
    } else if (!holder.ending && holder.level !== level) {
      this.endHolder(holder);
    }
  }

  toSafe(): void {
    if (this.closed) return;
    setSafeOrLog(this, this.safeState, this.logger);
  }

  /** For a stop: safe from now on, and a gpioset that dies is not replaced (the wiring holds the released line safe). */
  hold(): void {
    this.held = true;
    this.cancelRespawn();
    this.toSafe();
  }

  /**
   * Safe and held, then the process told to end: the line is released at the safe level, which its wiring keeps.
   * (Left running, it would outlive the gateway; systemd ends it with the unit anyway.)
   */
  close(): void {
    if (this.closed) return;
    this.hold();
    this.closed = true;
    this.timers.clearTimeout(this.settleTimer);
    this.timers.clearTimeout(this.calmTimer);
    const holder = this.holder;
    if (holder === undefined || holder.ending) return;
    holder.ending = true;
    try {
      if (this.tools.interactive) {
        holder.child.stdin.write('exit\n');
        holder.child.stdin.end();
      } else {
        holder.child.kill('SIGTERM');
      }
    } catch (error) {
      this.logger.warn({ output: this.name, err: errorField(error) }, 'could not end gpioset');
    }
  }

  private start(level: BinaryValue): void {
    const args = gpiosetArgs(this.tools, this.line.chip, this.line.offset, level);
    let child: GpiodProcess;
    try {
      child = this.spawn('gpioset', args);
    } catch (error) {
      this.holder = undefined;
      this.failed(error instanceof Error ? error.message : String(error));
      return;
    }
    const holder: Holder = { child, level, ending: false, started: false, probing: false };
    this.holder = holder;
    const stderr = stderrTail(child.stderr);
    child.stdin.on('error', () => {
      // EPIPE once the process has gone: its exit reports the fault.
    });
    onLines(child.stdout, (text) => this.onLine(holder, text));
    child.on('error', (error) => this.ended(holder, error.message));
    child.on('exit', (code, signal) => {
      // The last words on stderr may arrive after the exit event.
      setImmediate(() => this.ended(holder, describeExit(code, signal, stderr())));
    });
    // libgpiod 1 says nothing once it holds the line: an error shows as its exit.
    if (this.tools.major === 1) queueMicrotask(() => this.started(holder));
  }

  private onLine(holder: Holder, text: string): void {
    // A process that has been replaced has nothing more to say about the line.
    if (holder !== this.holder) return;
    const reply = parseGpiosetLine(text);
    if (reply.kind === 'banner') this.started(holder);
    else if (reply.kind === 'value') {
      if (holder.probing) {
        holder.probing = false;
        this.recovered(holder);
        return;
      }
      const index = this.waiting.findIndex((w) => w.started !== true);
      if (index >= 0) this.waiting.splice(index, 1)[0]!.resolve(reply.value);
    } else if (reply.kind === 'complaint') {
      this.logger.error({ output: this.name, line: `${this.line.chip} ${this.line.offset}`, said: reply.text }, 'gpioset refused a command');
    }
  }

  private started(holder: Holder): void {
    if (holder !== this.holder || holder.started) return;
    holder.started = true;
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const waiter = this.waiting[i]!;
      if (waiter.started === true) {
        this.waiting.splice(i, 1);
        waiter.resolve(holder.level);
      }
    }
    if (this.fault === undefined) return;
    // Taking the line back: it counts as held once the process answers (interactive) or outlives its start.
    if (this.tools.interactive) {
      holder.probing = true;
      holder.child.stdin.write(`get ${this.line.offset}\n`);
    } else {
      this.timers.clearTimeout(this.settleTimer);
      this.settleTimer = this.timers.setTimeout(() => this.recovered(holder), RESPAWN_SETTLE_MS);
    }
  }

  private recovered(holder: Holder): void {
    if (holder !== this.holder || this.fault === undefined || this.closed) return;
    this.fault = undefined;
    this.tellFault();
    this.logger.info(
      { output: this.name, line: `${this.line.chip} ${this.line.offset}`, level: this.wanted, attempts: this.deaths },
      "output's gpioset holds its line again",
    );
    this.timers.clearTimeout(this.calmTimer);
    this.calmTimer = this.timers.setTimeout(() => {
      this.deaths = 0;
    }, RESPAWN_CALM_MS);
    // A set while the line was released, or during this process's start: the line takes it now.
    if (holder.level === this.wanted) return;
    if (this.tools.interactive) {
      holder.child.stdin.write(`set ${this.line.offset}=${this.wanted}\n`);
      holder.level = this.wanted;
    } else if (!holder.ending) {
      this.endHolder(holder);
    }
  }

  private ended(holder: Holder, how: string): void {
    if (holder !== this.holder) return;
    if (holder.ending && !this.closed) {
      // A change of level without interactive mode: the next process takes the line at the level now wanted.
      this.start(this.wanted);
      return;
    }
    if (holder.ending) return;
    this.holder = undefined;
    this.failed(how);
  }

  private failed(how: string): void {
    this.fault = `gpioset for ${this.line.chip} line ${this.line.offset} ended (${how})`;
    this.timers.clearTimeout(this.settleTimer);
    this.timers.clearTimeout(this.calmTimer);
    const retry = !this.held && !this.closed;
    const delay = RESPAWN_BACKOFF_MS[Math.min(this.deaths, RESPAWN_BACKOFF_MS.length - 1)]!;
    this.deaths += 1;
    this.logger.error(
      { output: this.name, line: `${this.line.chip} ${this.line.offset}`, reason: this.fault, ...(retry ? { retryInMs: delay } : {}) },
      "output's gpioset ended: its line is released, and the wiring holds the relay at its safe level",
    );
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.faultError());
    this.tellFault();
    if (!retry) return;
    this.cancelRespawn();
    this.respawnTimer = this.timers.setTimeout(() => {
      this.respawnTimer = undefined;
      if (!this.held && !this.closed && this.holder === undefined) this.start(this.wanted);
    }, delay);
  }

  private cancelRespawn(): void {
    if (this.respawnTimer === undefined) return;
    this.timers.clearTimeout(this.respawnTimer);
    this.respawnTimer = undefined;
  }

  private endHolder(holder: Holder): void {
    holder.ending = true;
    holder.child.kill('SIGTERM');
  }

  private faultError(): Error {
    return new Error(`output ${this.name}: ${this.fault ?? 'no gpioset process'}; the line is released`);
  }
}
