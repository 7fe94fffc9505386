// Debian's `gpiod` tools (gpioset, gpiomon, gpioget) as the GPIO backend on the character device: no native module
// to build, and a line requested by a tool is held exactly as long as that process runs. libgpiod 1 (Debian 12) and 2
// (Debian 13) differ in their arguments and in what `%e` prints, so everything version-dependent is in this file.
// Every process starts through one `spawn` function, so that tests can play the tools' side.
import { spawn as nodeSpawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** What the backend needs of a child process; node's ChildProcess fits, and so does a test's fake. */
export interface GpiodProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

export type GpiodSpawn = (command: string, args: readonly string[]) => GpiodProcess;

export const realGpiodSpawn: GpiodSpawn = (command, args) => nodeSpawn(command, [...args], { stdio: 'pipe' });

/** The timers an output waits on before it takes its line again: the gateway's Clock fits, and so does the tests' TestClock. */
export interface GpiodTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

// Through globalThis on each call, as the gateway's systemClock does, so that fake timers installed later are used.
// Unref'd: a wait for a retry must not keep a stopping process alive.
export const realGpiodTimers: GpiodTimers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms).unref(),
  clearTimeout: (timer) => globalThis.clearTimeout(timer as ReturnType<typeof globalThis.setTimeout> | undefined),
};

/** The installed tools, as `gpioset --version` and `--help` describe them. */
export interface GpiodTools {
  /** `v2.1.3` */
  version: string;
  major: 1 | 2;
  /**
   * libgpiod 2's gpioset built with interactive mode (`-i`, takes `set` commands on stdin). Without it, a change of
   * level ends the holding process and starts another at the new level.
   */
  interactive: boolean;
}

/** The tools are missing or answer in a way this backend cannot use: the message says what to do. */
export class GpiodUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GpiodUnavailableError';
  }
}

/** A line from a tool that is not what its documented format says; names the tool and quotes the line. */
export class GpiodFormatError extends Error {
  constructor(tool: string, line: string, expected: string) {
    super(`${tool}: unexpected output ${JSON.stringify(line.slice(0, 120))} (expected ${expected})`);
    this.name = 'GpiodFormatError';
  }
}

/** `gpioset (libgpiod) v2.1.3` → major 2. */
export function parseToolVersion(tool: string, text: string): { version: string; major: 1 | 2 } {
  const first = text.split('\n', 1)[0]?.trim() ?? '';
  const match = /\(libgpiod\) (v(\d+)\.\d+(?:\.\d+)?\S*)/.exec(first);
  if (match === null) throw new GpiodFormatError(`${tool} --version`, first, '"<tool> (libgpiod) v<major>.<minor>"');
  const major = Number(match[2]);
  if (major !== 1 && major !== 2) throw new GpiodUnavailableError(`${tool} is libgpiod ${match[1]}: this gateway knows libgpiod 1 and 2 only`);
  return { version: match[1]!, major };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool to its end and collects what it printed. A missing program rejects with node's ENOENT error. */
export function runTool(spawn: GpiodSpawn, command: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let child: GpiodProcess;
    try {
      child = spawn(command, args);
    } catch (error) {
      reject(error as Error);
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end();
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      // Let the last buffered output arrive first.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** The last line a tool wrote to stderr, for messages: `gpioset: unable to request lines on chip '/dev/gpiochip0': Device or resource busy`. */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.at(-1) ?? '';
}

export async function probeGpiodTools(spawn: GpiodSpawn = realGpiodSpawn): Promise<GpiodTools> {
  let version: RunResult;
  try {
    version = await runTool(spawn, 'gpioset', ['--version']);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'gpioset is not installed' : (error as Error).message;
    throw new GpiodUnavailableError(`GPIO unavailable: ${reason}. Fix: sudo apt-get install gpiod (Debian's libgpiod tools)`, { cause: error });
  }
  const { version: v, major } = parseToolVersion('gpioset', version.stdout);
  if (major === 1) return { version: v, major, interactive: false };
  const help = await runTool(spawn, 'gpioset', ['--help']);
  return { version: v, major, interactive: /--interactive/.test(help.stdout) };
}

const level = (value: 0 | 1): string => String(value);

/**
 * gpioset holding one line at `value` until it is signalled (or, interactive, told `exit`). The value is part of the
 * request, so the line becomes an output already at that level: no glitch through the other level.
 */
export function gpiosetArgs(tools: GpiodTools, chip: string, offset: number, value: 0 | 1): string[] {
  if (tools.major === 1) return ['--mode=signal', chip, `${offset}=${level(value)}`];
  return ['--consumer', 'oag', '--chip', chip, '--banner', ...(tools.interactive ? ['--interactive'] : []), `${offset}=${level(value)}`];
}

/** gpioset setting one line and exiting at once (`oag outputs-safe`). */
export function gpiosetOnceArgs(tools: GpiodTools, chip: string, offset: number, value: 0 | 1): string[] {
  if (tools.major === 1) return ['--mode=exit', chip, `${offset}=${level(value)}`];
  // A single toggle period of 0 sets the values and exits (gpioset(1), --toggle).
  return ['--consumer', 'oag', '--chip', chip, '--toggle', '0', `${offset}=${level(value)}`];
}

/** gpiomon printing `<edge> <offset>` per edge on one line; libgpiod 1 needs `-b` or it buffers its output. */
export function gpiomonArgs(tools: GpiodTools, chip: string, offset: number): string[] {
  if (tools.major === 1) return ['--line-buffered', '--format=%e %o', chip, String(offset)];
  return ['--consumer', 'oag', '--chip', chip, '--banner', '--format=%e %o', String(offset)];
}

/** gpioget printing the line's level as 0 or 1. */
export function gpiogetArgs(tools: GpiodTools, chip: string, offset: number): string[] {
  if (tools.major === 1) return [chip, String(offset)];
  return ['--consumer', 'oag', '--chip', chip, '--numeric', String(offset)];
}

export interface Edge {
  offset: number;
  /** The level after the edge: 1 after a rising edge. */
  value: 0 | 1;
}

/**
 * One line of `gpiomon --format='%e %o'`, or undefined for its start-up banner (`Monitoring line '17'...`).
 * `%e` is 1 for a rising edge in both; a falling edge is 2 in libgpiod 2 and 0 in libgpiod 1.
 */
export function parseMonitorLine(tools: Pick<GpiodTools, 'major'>, line: string): Edge | undefined {
  const text = line.trim();
  if (text === '' || /^Monitoring lines? /.test(text)) return undefined;
  const match = /^(\d) (\d+)$/.exec(text);
  const falling = tools.major === 1 ? '0' : '2';
  if (match === null || (match[1] !== '1' && match[1] !== falling)) {
    throw new GpiodFormatError('gpiomon', line, `"<edge> <offset>", edge 1 (rising) or ${falling} (falling)`);
  }
  return { offset: Number(match[2]), value: match[1] === '1' ? 1 : 0 };
}

/** gpioget's answer: one 0 or 1. */
export function parseGetValue(line: string): 0 | 1 {
  const text = line.trim();
  if (text !== '0' && text !== '1') throw new GpiodFormatError('gpioget', line, '0 or 1');
  return text === '1' ? 1 : 0;
}

/** What an interactive gpioset printed on one line, its `gpioset> ` prompts removed. */
export type GpiosetReply = { kind: 'banner'; offset: number } | { kind: 'value'; offset: number; value: 0 | 1 } | { kind: 'prompt' } | { kind: 'complaint'; text: string };

const PROMPT = 'gpioset> ';

/**
 * One line of gpioset's stdout: the banner (`Setting line '17'...`), a `get`'s answer (`"17"=active`), an empty
 * prompt, or anything else it says, which is a complaint about a command (`unknown line: '18'`). The prompt is
 * printed without a newline before each command is read, so it leads the line that follows it.
 */
export function parseGpiosetLine(line: string): GpiosetReply {
  let text = line.trim();
  while (text.startsWith(PROMPT.trim())) text = text.slice(PROMPT.trim().length).trimStart();
  // Our own command, should the line editor echo it.
  if (text === '' || /^(set|get|exit)\b/.test(text)) return { kind: 'prompt' };
  const banner = /^Setting line '(\d+)'\.\.\.$/.exec(text);
  if (banner !== null) return { kind: 'banner', offset: Number(banner[1]) };
  const value = /^"?(\d+)"?=(active|inactive)$/.exec(text);
  if (value !== null) return { kind: 'value', offset: Number(value[1]), value: value[2] === 'active' ? 1 : 0 };
  return { kind: 'complaint', text };
}

/** The most of a line kept while its newline has not come. */
export const MAX_PARTIAL_LINE = 4096;

/**
 * Splits a stream into lines as they complete. Text that runs past MAX_PARTIAL_LINE without a newline is handed on up
 * to its last space, as a line of its own: an interactive gpioset prints its prompt, with no newline, after every
 * `set`, and a door that nothing asks `get` would otherwise keep every prompt since the gateway started. Cut at a space,
 * a prompt is never split in two.
 */
export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    if (pending.length > MAX_PARTIAL_LINE) {
      const cut = pending.lastIndexOf(' ') + 1 || pending.length;
      onLine(pending.slice(0, cut));
      pending = pending.slice(cut);
    }
  });
}

/** The last few lines a process wrote to stderr, kept for the message when it ends. */
export function stderrTail(stream: Readable): () => string {
  let tail = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-2000);
  });
  return () => lastLine(tail);
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null, stderr: string): string {
  const how = signal !== null ? `killed by ${signal}` : `exit code ${code ?? '?'}`;
  return stderr === '' ? how : `${how}: ${stderr}`;
}
