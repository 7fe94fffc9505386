// A stand-in for aplay as the player spawns it: each child remembers its arguments and ends when the test says so,
// or when killed (unless it is one that ignores SIGTERM, as aplay blocked on a full device does).
import { EventEmitter } from 'node:events';
import type { PlayerChild, PlayerSpawn } from '../../../gateway/sound/player.js';

export class FakeAplay extends EventEmitter implements PlayerChild {
  readonly stderr = new EventEmitter();
  readonly signals: NodeJS.Signals[] = [];
  ended = false;

  constructor(
    readonly args: readonly string[],
    private readonly ignoresTerm: boolean,
  ) {
    super();
  }

  /** The file it plays (aplay's last argument). */
  get file(): string {
    return this.args[this.args.length - 1]!;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    if (signal === 'SIGTERM' && this.ignoresTerm) return true;
    this.end(null, signal);
    return true;
  }

  /** aplay exits: 0 when it played to the end. */
  exit(code: number, stderr = ''): void {
    if (stderr !== '') this.stderr.emit('data', Buffer.from(stderr));
    this.end(code, null);
  }

  private end(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('close', code, signal);
  }
}

export function fakeAplay(options: { ignoresTerm?: boolean } = {}): { spawn: PlayerSpawn; children: FakeAplay[]; running: () => FakeAplay | undefined } {
  const children: FakeAplay[] = [];
  return {
    children,
    spawn: (command, args) => {
      if (command !== 'aplay') throw new Error(`unexpected ${command}`);
      const child = new FakeAplay(args, options.ignoresTerm === true);
      children.push(child);
      return child;
    },
    running: () => children.find((child) => !child.ended),
  };
}
