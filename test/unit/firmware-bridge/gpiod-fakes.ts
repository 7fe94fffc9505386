// A GPIO chip and Debian's gpiod tools played in process, behind the backend's one `spawn` seam. The tools answer
// with the lines the real ones print (libgpiod's gpio-tools-test and the tools' --help and man pages): gpioset's banner
// `Setting line '17'...`, its `gpioset> ` prompt printed without a newline when stdout is not a terminal, `get`'s
// `"17"=active`, gpiomon's banner `Monitoring line '23'...` and `--format='%e %o'` lines (`1 23` rising; falling `2 23`
// in libgpiod 2, `0 23` in libgpiod 1), and the errors on stderr. The chip is one set of levels and owners: a line
// has one owner at a time, released when its process ends, and then reads what the wiring gives it (`released`).
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { GpiodProcess, GpiodSpawn } from '../../../firmware-bridge/gpio/gpiod-tools.js';

export type ToolsFlavour = 'v2-interactive' | 'v2' | 'v1';

export const VERSION_TEXT: Record<ToolsFlavour, string> = {
  'v2-interactive': 'gpioset (libgpiod) v2.1.3\nCopyright (C) 2017-2023 Bartosz Golaszewski\nLicense: GPL-2.0-or-later\n',
  v2: 'gpioset (libgpiod) v2.1.3\nCopyright (C) 2017-2023 Bartosz Golaszewski\nLicense: GPL-2.0-or-later\n',
  v1: 'gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\nLicense: LGPLv2.1\n',
};

const HELP_V2 = [
  'Usage: gpioset [OPTIONS] <line=value>...',
  '',
  'Set values of GPIO lines.',
  '',
  'Options:',
  '      --banner\t\tdisplay a banner on successful startup',
  '  -c, --chip <chip>\trestrict scope to a particular chip',
  '  -h, --help\t\tdisplay this help and exit',
];
const HELP_INTERACTIVE = ['  -i, --interactive\tset the lines then wait for additional set commands'];

export class FakeProcess extends EventEmitter implements GpiodProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  ended = false;
  signals: string[] = [];
  onKill: ((signal: NodeJS.Signals) => void) | undefined;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
  ) {
    super();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.ended) return false;
    this.signals.push(signal);
    this.onKill?.(signal);
    return true;
  }

  say(text: string): void {
    this.stdout.write(text);
  }

  /** Ends the process as the kernel would report it; stderr first, as a dying tool writes it. */
  exit(code: number | null, signal: NodeJS.Signals | null = null, stderr = ''): void {
    if (this.ended) return;
    this.ended = true;
    if (stderr !== '') this.stderr.write(stderr);
    setImmediate(() => this.emit('exit', code, signal));
  }
}

export interface FakeLine {
  level: 0 | 1;
  owner: FakeProcess | undefined;
  /** Every level gpioset drove, in order. */
  driven: Array<0 | 1>;
}

export interface FakeChip {
  name: string;
  flavour: ToolsFlavour;
  spawn: GpiodSpawn;
  processes: FakeProcess[];
  lines: Map<number, FakeLine>;
  /** What a line reads once released: the wiring (a pull resistor; the relay board's input). */
  released: Map<number, 0 | 1>;
  line(offset: number): FakeLine;
  /** The process holding a line now. */
  owner(offset: number): FakeProcess | undefined;
  /** A contact moves: the level changes, and a gpiomon watching the line prints the edge. */
  drive(offset: number, level: 0 | 1): void;
  /** Everything the tools were asked, `gpioset --chip gpiochip0 …` style. */
  commands(): string[];
  /** Make `gpioget` fail (another program holds the line, say). */
  busy: Set<number>;
}

/** The chip's view of one line's argument `17=1` (gpioset) or `17` (gpiomon, gpioget). */
function offsetsIn(args: readonly string[]): Array<{ offset: number; value?: 0 | 1 }> {
  const found: Array<{ offset: number; value?: 0 | 1 }> = [];
  for (const arg of args) {
    const set = /^(\d+)=([01])$/.exec(arg);
    if (set !== null) found.push({ offset: Number(set[1]), value: set[2] === '1' ? 1 : 0 });
  }
  return found;
}

export function fakeChip(flavour: ToolsFlavour, name = 'gpiochip0'): FakeChip {
  const lines = new Map<number, FakeLine>();
  const released = new Map<number, 0 | 1>();
  const processes: FakeProcess[] = [];
  const busy = new Set<number>();
  const v1 = flavour === 'v1';
  const line = (offset: number): FakeLine => {
    let found = lines.get(offset);
    if (found === undefined) {
      found = { level: released.get(offset) ?? 0, owner: undefined, driven: [] };
      lines.set(offset, found);
    }
    return found;
  };
  const release = (process: FakeProcess): void => {
    for (const [offset, l] of lines) {
      if (l.owner === process) {
        l.owner = undefined;
        l.level = released.get(offset) ?? l.level;
      }
    }
  };
  const busyError = `: unable to request lines on chip '/dev/${name}': Device or resource busy\n`;
  const claim = (process: FakeProcess, tool: string, offset: number): boolean => {
    const l = line(offset);
    if (l.owner !== undefined || busy.has(offset)) {
      process.exit(1, null, `${tool}${busyError}`);
      return false;
    }
    l.owner = process;
    return true;
  };
  const chipArgOk = (process: FakeProcess, tool: string): boolean => {
    // libgpiod 1 takes the chip as the first operand, libgpiod 2 with --chip.
    const ok = v1 ? process.args.includes(name) : process.args.join(' ').includes(`--chip ${name}`);
    if (!ok) process.exit(1, null, `${tool}: cannot find GPIO chip character device: No such file or directory\n`);
    return ok;
  };

  const gpioset = (process: FakeProcess): void => {
    const { args } = process;
    if (args[0] === '--version') {
      process.say(VERSION_TEXT[flavour]);
      process.exit(0);
      return;
    }
    if (args[0] === '--help') {
      process.say([...HELP_V2, ...(flavour === 'v2-interactive' ? HELP_INTERACTIVE : [])].join('\n') + '\n');
      process.exit(0);
      return;
    }
    if (!chipArgOk(process, 'gpioset')) return;
    const [target] = offsetsIn(args);
    if (target === undefined) {
      process.exit(1, null, 'gpioset: at least one GPIO line value must be specified\n');
      return;
    }
    if (!claim(process, 'gpioset', target.offset)) return;
    const l = line(target.offset);
    l.level = target.value!;
    l.driven.push(target.value!);
    const once = args.includes('--mode=exit') || args.join(' ').includes('--toggle 0');
    if (once) {
      release(process);
      process.exit(0);
      return;
    }
    if (args.includes('--banner')) process.say(`Setting line '${target.offset}'...\n`);
    process.onKill = (signal) => {
      release(process);
      process.exit(null, signal);
    };
    if (!args.includes('--interactive')) return;
    process.say('gpioset> ');
    let pending = '';
    process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        const command = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        const words = command.split(/\s+/);
        if (words[0] === 'exit') {
          release(process);
          process.exit(0);
          return;
        }
        if (words[0] === 'set') {
          const [value] = offsetsIn(words.slice(1));
          if (value === undefined || value.offset !== target.offset) process.say(`unknown line: '${words[1]?.split('=')[0] ?? ''}'\n`);
          else {
            l.level = value.value!;
            l.driven.push(value.value!);
          }
        } else if (words[0] === 'get') {
          process.say(`"${target.offset}"=${l.level === 1 ? 'active' : 'inactive'}\n`);
        } else {
          process.say(`unknown command: '${words[0] ?? ''}'\nTry the 'help' command\n`);
        }
        process.say('gpioset> ');
      }
    });
  };

  const watchers = new Map<number, FakeProcess>();
  const gpiomon = (process: FakeProcess): void => {
    if (!chipArgOk(process, 'gpiomon')) return;
    const offset = Number(process.args.at(-1));
    if (!claim(process, 'gpiomon', offset)) return;
    watchers.set(offset, process);
    if (process.args.includes('--banner')) process.say(`Monitoring line '${offset}'...\n`);
    process.onKill = (signal) => {
      release(process);
      watchers.delete(offset);
      process.exit(null, signal);
    };
  };

  const gpioget = (process: FakeProcess): void => {
    if (!chipArgOk(process, 'gpioget')) return;
    const offset = Number(process.args.at(-1));
    if (!claim(process, 'gpioget', offset)) return;
    process.say(`${line(offset).level}\n`);
    release(process);
    process.exit(0);
  };

  const spawn: GpiodSpawn = (command, args) => {
    const process = new FakeProcess(command, args);
    processes.push(process);
    // The tools start a moment later, as a real process does.
    setImmediate(() => {
      if (command === 'gpioset') gpioset(process);
      else if (command === 'gpiomon') gpiomon(process);
      else if (command === 'gpioget') gpioget(process);
      else process.emit('error', Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' }));
    });
    return process;
  };

  return {
    name,
    flavour,
    spawn,
    processes,
    lines,
    released,
    busy,
    line,
    owner: (offset) => lines.get(offset)?.owner,
    drive(offset, level) {
      const l = line(offset);
      if (l.level === level) return;
      l.level = level;
      const edge = level === 1 ? '1' : v1 ? '0' : '2';
      watchers.get(offset)?.say(`${edge} ${offset}\n`);
    },
    commands: () => processes.map((p) => [p.command, ...p.args].join(' ')),
  };
}

/** Lets the fake processes start, print and end (each step is a setImmediate, as real I/O is). */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A spawn whose gpioset is not installed: node's error for a missing program. */
export const noTools: GpiodSpawn = (command, args) => {
  const process = new FakeProcess(command, args);
  setImmediate(() => process.emit('error', Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT', errno: -2, syscall: `spawn ${command}` })));
  return process;
};
