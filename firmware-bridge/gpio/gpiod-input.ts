// An input on the GPIO character device: gpioget reads the level once, then one gpiomon process reports every edge,
// debounced here as the sysfs input does. gpioget must come first (a line has one owner at a time), so an edge in the
// few milliseconds between the two is seen only at the next one. A gpiomon that ends on its own is a fault: logged,
// the input keeps its last level, and the line is read and watched again after the outputs' growing wait: an exit
// button nothing watches would never again release a fail-secure strike.
import { EventEmitter } from 'node:events';
import type { InputConfig } from '../config.js';
import { Debouncer } from '../debounce.js';
import { errorField, type HardwareLogger } from '../logger.js';
import type { DigitalInput, DigitalInputEvents, InputPinName } from '../types.js';
import { RESPAWN_BACKOFF_MS, RESPAWN_CALM_MS, type GpiodLine } from './gpiod-output.js';
import {
  describeExit,
  gpiogetArgs,
  gpiomonArgs,
  lastLine,
  onLines,
  parseGetValue,
  parseMonitorLine,
  realGpiodTimers,
  runTool,
  stderrTail,
  type GpiodProcess,
  type GpiodSpawn,
  type GpiodTimers,
  type GpiodTools,
} from './gpiod-tools.js';

export class GpiodInput extends EventEmitter<DigitalInputEvents> implements DigitalInput {
  private readonly debouncer: Debouncer;
  private child: GpiodProcess | undefined;
  private closed = false;
  private fault: string | undefined;
  /** gpiomons that ended on their own since one last ran RESPAWN_CALM_MS: the step of the backoff. */
  private deaths = 0;
  private retryTimer: unknown;
  private calmTimer: unknown;

  /** Reads the level, then watches the line; resolves once gpiomon holds it (libgpiod 1: once it runs). */
  static async open(
    name: InputPinName,
    config: Pick<InputConfig, 'activeLevel' | 'debounceMs'>,
    line: GpiodLine,
    tools: GpiodTools,
    spawn: GpiodSpawn,
    logger: HardwareLogger,
    timers: GpiodTimers = realGpiodTimers,
  ): Promise<GpiodInput> {
    const input = new GpiodInput(name, config, line, tools, spawn, logger, timers, await readLevel(name, line, tools, spawn));
    await input.watch();
    return input;
  }

  private constructor(
    readonly name: InputPinName,
    private readonly config: Pick<InputConfig, 'activeLevel' | 'debounceMs'>,
    private readonly line: GpiodLine,
    private readonly tools: GpiodTools,
    private readonly spawn: GpiodSpawn,
    private readonly logger: HardwareLogger,
    private readonly timers: GpiodTimers,
    initial: 0 | 1,
  ) {
    super();
    this.debouncer = new Debouncer(this.logical(initial), config.debounceMs, (level) => this.emit('change', level));
  }

  get active(): boolean {
    return this.debouncer.level;
  }

  /** Why the input is no longer watched, once its gpiomon has ended on its own. */
  get faulted(): string | undefined {
    return this.fault;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timers.clearTimeout(this.retryTimer);
    this.timers.clearTimeout(this.calmTimer);
    this.debouncer.dispose();
    try {
      this.child?.kill('SIGTERM');
    } catch (error) {
      this.logger.warn({ input: this.name, err: errorField(error) }, 'could not end gpiomon');
    }
  }

  private watch(): Promise<void> {
    const where = `${this.line.chip} line ${this.line.offset}`;
    return new Promise((resolve, reject) => {
      let started = false;
      const child = this.spawn('gpiomon', gpiomonArgs(this.tools, this.line.chip, this.line.offset));
      this.child = child;
      const stderr = stderrTail(child.stderr);
      const begin = (): void => {
        if (started) return;
        started = true;
        resolve();
      };
      onLines(child.stdout, (text) => {
        if (/^Monitoring lines? /.test(text.trim())) {
          begin();
          return;
        }
        if (this.closed) return;
        try {
          const edge = parseMonitorLine(this.tools, text);
          if (edge !== undefined && edge.offset === this.line.offset) this.debouncer.feed(this.logical(edge.value));
        } catch (error) {
          this.logger.error({ input: this.name, line: where, err: errorField(error) }, 'gpiomon said something this gateway cannot read; the line is ignored');
        }
      });
      const ended = (how: string): void => {
        if (this.closed || child !== this.child) return;
        this.child = undefined;
        this.fault = `gpiomon for ${where} ended (${how})`;
        if (!started) {
          started = true;
          reject(new Error(`${this.name}: ${this.fault}`));
          return;
        }
        this.lost();
      };
      child.on('error', (error) => ended(error.message));
      child.on('exit', (code, signal) => setImmediate(() => ended(describeExit(code, signal, stderr()))));
      child.stdin.end();
      // libgpiod 1 prints no banner.
      if (this.tools.major === 1) queueMicrotask(begin);
    });
  }

  /** Its gpiomon ended on its own: logged, and the line read and watched again after the backoff's next wait. */
  private lost(): void {
    this.timers.clearTimeout(this.calmTimer);
    const delay = RESPAWN_BACKOFF_MS[Math.min(this.deaths, RESPAWN_BACKOFF_MS.length - 1)]!;
    this.deaths += 1;
    this.logger.error(
      { input: this.name, line: `${this.line.chip} line ${this.line.offset}`, reason: this.fault, retryInMs: delay },
      "input's gpiomon ended: the input keeps its last level and is no longer watched until a new gpiomon holds the line",
    );
    this.retryTimer = this.timers.setTimeout(() => void this.rewatch(), delay);
  }

  /** The level read again (a change while nothing watched is seen now, debounced), then a new gpiomon. */
  private async rewatch(): Promise<void> {
    if (this.closed) return;
    try {
      this.debouncer.feed(this.logical(await readLevel(this.name, this.line, this.tools, this.spawn)));
      if (this.closed) return;
      await this.watch();
    } catch (error) {
      if (this.closed) return;
      this.fault = error instanceof Error ? error.message : String(error);
      this.lost();
      return;
    }
    if (this.closed) return;
    this.fault = undefined;
    this.logger.info({ input: this.name, line: `${this.line.chip} line ${this.line.offset}`, attempts: this.deaths }, "input's gpiomon holds its line again");
    this.calmTimer = this.timers.setTimeout(() => {
      this.deaths = 0;
    }, RESPAWN_CALM_MS);
  }

  private logical(value: 0 | 1): boolean {
    return (value === 1) === (this.config.activeLevel === 'high');
  }
}

/** The line's level now, by gpioget (which must let go before gpiomon can hold the line). */
async function readLevel(name: InputPinName, line: GpiodLine, tools: GpiodTools, spawn: GpiodSpawn): Promise<0 | 1> {
  const got = await runTool(spawn, 'gpioget', gpiogetArgs(tools, line.chip, line.offset));
  if (got.code !== 0) throw new Error(`${name}: gpioget ${line.chip} line ${line.offset} failed (${describeExit(got.code, got.signal, lastLine(got.stderr))})`);
  return parseGetValue(got.stdout.split('\n')[0] ?? '');
}
