// Whether the demo can be heard: a sound card ALSA lists and espeak-ng to make the words. Without either, every
// branch prints its announcements' words instead, and the demo says why once at start.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type SoundCheck = { heard: true } | { heard: false; why: string };

export interface SoundProbe {
  exists(path: string): boolean;
  /** A command's stdout, or undefined when it could not run or failed. */
  run(command: string, args: readonly string[]): string | undefined;
}

const systemProbe: SoundProbe = {
  exists: existsSync,
  run(command, args) {
    // A hung sound stack must not hold the demo's start: a few seconds, then it counts as no device.
    const result = spawnSync(command, [...args], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] });
    return result.error === undefined && result.status === 0 ? result.stdout : undefined;
  },
};

export function checkSound(probe: SoundProbe = systemProbe): SoundCheck {
  if (!probe.exists('/dev/snd')) return { heard: false, why: 'no sound device (/dev/snd)' };
  const cards = probe.run('aplay', ['-l']);
  if (cards === undefined) return { heard: false, why: 'aplay is missing or failed (apt-get install alsa-utils)' };
  if (!/^card \d+:/m.test(cards)) return { heard: false, why: '`aplay -l` lists no sound card' };
  if (probe.run('espeak-ng', ['--version']) === undefined) return { heard: false, why: 'espeak-ng is not installed (apt-get install espeak-ng)' };
  return { heard: true };
}
