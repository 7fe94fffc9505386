// The loudspeaker: one message at a time, the most urgent first. A message of higher priority stops the one playing
// (its aplay gets SIGTERM) and plays at once; the stopped one is told as interrupted and not played again, since a
// closing warning said late is wrong. Lower or equal priority waits its turn; a greeting nobody would hear in time is
// dropped when anything else is waiting. aplay failing to open the device is a fault, told once until a message
// plays again. The `print` driver writes the words instead (the demo, a machine with no sound card).
import { spawn as spawnChild } from 'node:child_process';
import type { Clock, Timer } from '../core/clock.js';

export type PlayOutcome = 'played' | 'interrupted' | 'failed' | 'printed' | 'dropped';

export interface PlayPart {
  language: string;
  text: string;
  /** The WAV to play (the aplay driver needs one). */
  file?: string | undefined;
}

export interface PlayItem {
  /** A phrase id, or `text` for typed words. */
  phrase: string;
  priority: number;
  /** In the order spoken. */
  parts: PlayPart[];
  /** Played only when nothing else is playing or waiting (a greeting): otherwise dropped. */
  dropWhenBusy?: boolean | undefined;
}

export interface PlayResult {
  item: PlayItem;
  outcome: PlayOutcome;
  /** failed: aplay's stderr's first line (or why it could not start). */
  detail?: string | undefined;
}

/** What the player needs of a child process (node's ChildProcess has it; tests pass a fake). */
export interface PlayerChild {
  readonly stderr: { on(event: 'data', listener: (chunk: Buffer | string) => void): unknown } | null;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  kill(signal?: NodeJS.Signals): boolean;
}

export type PlayerSpawn = (command: string, args: readonly string[]) => PlayerChild;

const spawnPlayer: PlayerSpawn = (command, args) => spawnChild(command, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });

export interface PlayerDeps {
  driver: 'aplay' | 'print';
  /** ALSA pcm name (`aplay -D`); left out, ALSA's default. */
  device?: string | undefined;
  clock: Clock;
  spawn?: PlayerSpawn | undefined;
  /** The print driver's output, one line per language. */
  print?: ((line: string) => void) | undefined;
  onResult(result: PlayResult): void;
  /** The device cannot be opened (no sound card, a wrong name, aplay missing). */
  onFault(message: string): void;
  /** A message played after a fault. */
  onRecovered(): void;
  /** After SIGTERM, how long aplay has to end before SIGKILL (one blocked on a full device does not end on SIGTERM). */
  killGraceMs?: number | undefined;
}

/** aplay's words for a device it cannot open: the sound card is missing or misnamed, not the file. */
const OPEN_FAILURE = /audio open error|no such device|unknown pcm|cannot find card|device or resource busy/i;

interface Playing {
  item: PlayItem;
  child: PlayerChild | undefined;
  interrupted: boolean;
  killTimer: Timer | undefined;
}

export class Player {
  private readonly queue: PlayItem[] = [];
  private playing: Playing | undefined;
  private faulted = false;
  private stopped = false;

  constructor(private readonly deps: PlayerDeps) {}

  /** Whether something is playing or waiting. */
  get busy(): boolean {
    return this.playing !== undefined || this.queue.length > 0;
  }

  /** Whether a message of this phrase is playing or waiting (a repeat need not be queued twice). */
  has(phrase: string): boolean {
    return this.playing?.item.phrase === phrase || this.queue.some((item) => item.phrase === phrase);
  }

  /** Queues a message; false when it was dropped instead. */
  enqueue(item: PlayItem): boolean {
    if (this.stopped || (item.dropWhenBusy === true && this.busy)) {
      this.deps.onResult({ item, outcome: 'dropped' });
      return false;
    }
    // After every message of its priority or higher: equal priorities keep their order.
    const at = this.queue.findIndex((queued) => queued.priority < item.priority);
    if (at < 0) this.queue.push(item);
    else this.queue.splice(at, 0, item);
    const current = this.playing;
    if (current === undefined) this.next();
    else if (item.priority > current.item.priority) this.interrupt(current);
    return true;
  }

  /** Stops what plays and forgets what waits; resolves once aplay has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const item of this.queue.splice(0)) this.deps.onResult({ item, outcome: 'dropped' });
    const current = this.playing;
    if (current?.child === undefined) return;
    await new Promise<void>((resolve) => {
      current.child!.on('close', () => resolve());
      this.interrupt(current);
    });
  }

  private interrupt(current: Playing): void {
    if (current.interrupted) return;
    current.interrupted = true;
    current.child?.kill('SIGTERM');
    current.killTimer = this.deps.clock.setTimeout(() => current.child?.kill('SIGKILL'), this.deps.killGraceMs ?? 1000);
  }

  private next(): void {
    const item = this.queue.shift();
    if (item === undefined || this.stopped) return;
    if (this.deps.driver === 'print') {
      for (const part of item.parts) (this.deps.print ?? console.log)(`🔊 [${part.language}] ${part.text}`);
      this.deps.onResult({ item, outcome: 'printed' });
      this.next();
      return;
    }
    this.playing = { item, child: undefined, interrupted: false, killTimer: undefined };
    this.playPart(this.playing, 0);
  }

  private playPart(current: Playing, index: number): void {
    const part = current.item.parts[index];
    if (part === undefined) {
      this.finish(current, { item: current.item, outcome: 'played' });
      return;
    }
    if (part.file === undefined) {
      this.finish(current, { item: current.item, outcome: 'failed', detail: `no sound file for ${part.language}` });
      return;
    }
    const args = ['-q', ...(this.deps.device === undefined ? [] : ['-D', this.deps.device]), part.file];
    let stderr = '';
    let settled = false;
    const settle = (code: number | null, error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      if (current.interrupted) {
        this.finish(current, { item: current.item, outcome: 'interrupted' });
        return;
      }
      if (error !== undefined) {
        const message = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'aplay is not installed (apt-get install alsa-utils)' : `aplay could not start: ${error.message}`;
        this.fault(message);
        this.finish(current, { item: current.item, outcome: 'failed', detail: message });
        return;
      }
      if (code === 0) {
        this.playPart(current, index + 1);
        return;
      }
      const firstLine = stderr
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('ALSA lib'))[0] ?? `aplay exited with ${code ?? 'a signal'}`;
      if (OPEN_FAILURE.test(stderr)) this.fault(`${this.deps.device ?? 'the default sound device'}: ${firstLine}`);
      this.finish(current, { item: current.item, outcome: 'failed', detail: firstLine });
    };
    let child: PlayerChild;
    try {
      child = (this.deps.spawn ?? spawnPlayer)('aplay', args);
    } catch (error) {
      settle(null, error as Error);
      return;
    }
    current.child = child;
    child.stderr?.on('data', (chunk) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    child.on('error', (error) => settle(null, error));
    child.on('close', (code) => settle(code, undefined));
  }

  private finish(current: Playing, result: PlayResult): void {
    this.deps.clock.clearTimeout(current.killTimer);
    if (this.playing === current) this.playing = undefined;
    if (result.outcome === 'played' && this.faulted) {
      this.faulted = false;
      this.deps.onRecovered();
    }
    this.deps.onResult(result);
    this.next();
  }

  private fault(message: string): void {
    this.faulted = true;
    this.deps.onFault(message);
  }
}
