// An output on the GPIO character device, held by one long-lived gpioset process. The line is requested already at
// its safe level, before anything else happens to it. libgpiod 2's interactive gpioset then takes `set` commands on
// stdin; without interactive mode (or with libgpiod 1) a change ends the process and starts the next one at the new
// level once the old has let go: the line is released for those few milliseconds, which the wiring makes the safe
// level, and the safe level is one end of every change. A process that ends on its own is a fault: its line is
// released, the wiring holds the relay safe, and every later `set` throws, as a failed sysfs write does.
import type { OutputConfig } from '../config.js';
import { errorField, type HardwareLogger } from '../logger.js';
import type { DigitalOutput, OutputPinName } from '../types.js';
import { levelFor, type BinaryValue } from './onoff.js';
import { describeExit, gpiosetArgs, onLines, parseGpiosetLine, stderrTail, type GpiodProcess, type GpiodSpawn, type GpiodTools } from './gpiod-tools.js';

/** A line on a GPIO chip: the header's BCM number is its offset on the header's chip. */
export interface GpiodLine {
  chip: string;
  offset: number;
}

interface Holder {
  child: GpiodProcess;
  level: BinaryValue;
  /** We asked it to end (a change of level, or close): its exit is no fault. */
  ending: boolean;
  started: boolean;
}

export class GpiodOutput implements DigitalOutput {
  private readonly safeState: boolean;
  private state: boolean;
  private held = false;
  private closed = false;
  private fault: string | undefined;
  private holder: Holder | undefined;
  /** The level the next process starts at, when a change waits for the previous one to end. */
  private wanted: BinaryValue;
  private readonly waiting: Array<{ resolve: (value: BinaryValue) => void; reject: (error: Error) => void; started?: boolean }> = [];

  constructor(
    readonly name: OutputPinName,
    private readonly config: Pick<OutputConfig, 'activeLevel' | 'safe'>,
    private readonly line: GpiodLine,
    private readonly tools: GpiodTools,
    private readonly spawn: GpiodSpawn,
    private readonly logger: HardwareLogger,
  ) {
    this.safeState = config.safe === 'active';
    this.state = this.safeState;
    this.wanted = levelFor(this.safeState, config.activeLevel);
    this.start(this.wanted);
  }

  get active(): boolean {
    return this.state;
  }

  /** Why the output no longer drives its line, once its process has ended on its own. */
  get faulted(): string | undefined {
    return this.fault;
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
      return this.ready().then(() => logical(this.holder!.level));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve: (value) => resolve(logical(value)), reject });
      holder.child.stdin.write(`get ${this.line.offset}\n`);
    });
  }

  set(active: boolean): void {
    if (this.closed) throw new Error(`output ${this.name} is closed`);
    if (this.fault !== undefined) throw this.faultError();
    const next = this.held ? this.safeState : active;
    const level = levelFor(next, this.config.activeLevel);
    const holder = this.holder!;
    if (this.tools.interactive) {
      holder.child.stdin.write(`set ${this.line.offset}=${level}\n`);
      holder.level = level;
    } else {
      this.wanted = level;
      if (!holder.ending && holder.level !== level) this.endHolder(holder);
    }
    this.state = next;
  }

  toSafe(): void {
    if (this.closed) return;
    try {
      this.set(this.safeState);
    } catch (error) {
      this.logger.error({ output: this.name, err: errorField(error) }, 'could not drive output to its safe state');
    }
  }

  hold(): void {
    this.held = true;
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
      this.failed(error instanceof Error ? error.message : String(error));
      return;
    }
    const holder: Holder = { child, level, ending: false, started: false };
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
    const reply = parseGpiosetLine(text);
    if (reply.kind === 'banner') this.started(holder);
    else if (reply.kind === 'value') {
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
  }

  private ended(holder: Holder, how: string): void {
    if (holder !== this.holder) return;
    if (holder.ending && !this.closed) {
      // A change of level without interactive mode: the next process takes the line at the level now wanted.
      this.start(this.wanted);
      return;
    }
    if (holder.ending) return;
    this.failed(how);
  }

  private failed(how: string): void {
    if (this.fault !== undefined) return;
    this.fault = `gpioset for ${this.line.chip} line ${this.line.offset} ended (${how})`;
    this.logger.error(
      { output: this.name, line: `${this.line.chip} ${this.line.offset}`, reason: this.fault },
      "output's gpioset ended: its line is released, and the wiring holds the relay at its safe level",
    );
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.faultError());
  }

  private endHolder(holder: Holder): void {
    holder.ending = true;
    holder.child.kill('SIGTERM');
  }

  private faultError(): Error {
    return new Error(`output ${this.name}: ${this.fault ?? 'no gpioset process'}; the line is released`);
  }
}
