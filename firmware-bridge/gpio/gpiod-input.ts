// An input on the GPIO character device: gpioget reads the level once, then one gpiomon process reports every edge,
// debounced here as the sysfs input does. gpioget must come first (a line has one owner at a time), so an edge in the
// few milliseconds between the two is seen only at the next one. A gpiomon that ends on its own is a fault: logged,
// and the input keeps its last level.
import { EventEmitter } from 'node:events';
import type { InputConfig } from '../config.js';
import { Debouncer } from '../debounce.js';
import { errorField, type HardwareLogger } from '../logger.js';
import type { DigitalInput, DigitalInputEvents, InputPinName } from '../types.js';
import type { GpiodLine } from './gpiod-output.js';
import {
  describeExit,
  gpiogetArgs,
  gpiomonArgs,
  lastLine,
  onLines,
  parseGetValue,
  parseMonitorLine,
  runTool,
  stderrTail,
  type GpiodProcess,
  type GpiodSpawn,
  type GpiodTools,
} from './gpiod-tools.js';

export class GpiodInput extends EventEmitter<DigitalInputEvents> implements DigitalInput {
  private readonly debouncer: Debouncer;
  private child: GpiodProcess | undefined;
  private closed = false;
  private fault: string | undefined;

  /** Reads the level, then watches the line; resolves once gpiomon holds it (libgpiod 1: once it runs). */
  static async open(
    name: InputPinName,
    config: Pick<InputConfig, 'activeLevel' | 'debounceMs'>,
    line: GpiodLine,
    tools: GpiodTools,
    spawn: GpiodSpawn,
    logger: HardwareLogger,
  ): Promise<GpiodInput> {
    const where = `${line.chip} line ${line.offset}`;
    const got = await runTool(spawn, 'gpioget', gpiogetArgs(tools, line.chip, line.offset));
    if (got.code !== 0) throw new Error(`${name}: gpioget ${where} failed (${describeExit(got.code, got.signal, lastLine(got.stderr))})`);
    const initial = parseGetValue(got.stdout.split('\n')[0] ?? '');
    const input = new GpiodInput(name, config, line, tools, logger, initial);
    await input.watch(spawn);
    return input;
  }

  private constructor(
    readonly name: InputPinName,
    private readonly config: Pick<InputConfig, 'activeLevel' | 'debounceMs'>,
    private readonly line: GpiodLine,
    private readonly tools: GpiodTools,
    private readonly logger: HardwareLogger,
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
    this.debouncer.dispose();
    try {
      this.child?.kill('SIGTERM');
    } catch (error) {
      this.logger.warn({ input: this.name, err: errorField(error) }, 'could not end gpiomon');
    }
  }

  private watch(spawn: GpiodSpawn): Promise<void> {
    const where = `${this.line.chip} line ${this.line.offset}`;
    return new Promise((resolve, reject) => {
      let started = false;
      const child = spawn('gpiomon', gpiomonArgs(this.tools, this.line.chip, this.line.offset));
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
        if (this.closed) return;
        this.fault = `gpiomon for ${where} ended (${how})`;
        if (!started) {
          started = true;
          reject(new Error(`${this.name}: ${this.fault}`));
          return;
        }
        this.logger.error({ input: this.name, line: where, reason: this.fault }, "input's gpiomon ended: the input keeps its last level and is no longer watched");
      };
      child.on('error', (error) => ended(error.message));
      child.on('exit', (code, signal) => setImmediate(() => ended(describeExit(code, signal, stderr()))));
      child.stdin.end();
      // libgpiod 1 prints no banner.
      if (this.tools.major === 1) queueMicrotask(begin);
    });
  }

  private logical(value: 0 | 1): boolean {
    return (value === 1) === (this.config.activeLevel === 'high');
  }
}
