// A USB numeric keypad for tests: a real input device made through /dev/uinput where this machine allows it, else a
// FIFO (mkfifo) standing in for /dev/input/eventN. Either way the gateway's evdev driver opens and reads it as it
// would a keypad, and the test writes the struct input_event bytes the kernel would deliver.
import { spawn, execFileSync, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { findInputDevice } from '../../firmware-bridge/readers/keypad-evdev.js';
import { until } from './until.js';

export interface VirtualKeypad {
  readonly kind: 'uinput' | 'fifo';
  /** The gateway config's `match` for this keypad: by name for a uinput device, by path for a FIFO. */
  readonly match: { name: string } | { path: string };
  /** Resolves once the gateway has the keypad open, so no key written afterwards is lost. */
  opened(): Promise<void>;
  write(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Whether this machine lets the tests make an input device (a container without /dev/uinput does not). */
export function uinputAvailable(): boolean {
  try {
    accessSync('/dev/uinput', constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export async function createVirtualKeypad(dir: string, name: string): Promise<VirtualKeypad> {
  return uinputAvailable() ? createUinputKeypad(name) : createFifoKeypad(join(dir, name));
}

function createFifoKeypad(path: string): VirtualKeypad {
  execFileSync('mkfifo', [path]);
  let writer: FileHandle | undefined;
  return {
    kind: 'fifo',
    match: { path },
    async opened() {
      // Opening a FIFO to write waits for its reader: this returns once the driver has it open.
      writer = await open(path, 'w');
    },
    async write(bytes) {
      if (writer === undefined) throw new Error('await opened() first');
      await writer.write(bytes);
    },
    async close() {
      // Ends any read the stopped driver still had waiting on the FIFO.
      await writer?.close();
    },
  };
}

async function createUinputKeypad(name: string): Promise<VirtualKeypad> {
  const script = fileURLToPath(new URL('./uinput-keypad.py', import.meta.url));
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn('python3', [script, name], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until(() => output.includes('ready') || child.exitCode !== null, 'the uinput keypad to be made');
  if (child.exitCode !== null) throw new Error(`uinput-keypad.py exited with ${child.exitCode}`);
  return {
    kind: 'uinput',
    match: { name },
    async opened() {
      await until(() => {
        const event = findInputDevice(readFileSync('/proc/bus/input/devices', 'latin1'), name);
        return event !== undefined && openInputDevices().includes(`/dev/input/${event}`);
      }, `the gateway to open the "${name}" input device`);
    },
    async write(bytes) {
      await new Promise<void>((resolve, reject) => child.stdin.write(bytes, (error) => (error ? reject(error) : resolve())));
    },
    async close() {
      child.stdin.end();
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** The /dev/input event devices this process has open (Linux). */
function openInputDevices(): string[] {
  const targets: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('/dev/input/event')) targets.push(target);
    } catch {
      // Closed between the listing and the read.
    }
  }
  return targets;
}
