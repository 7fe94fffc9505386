// The loudspeaker's way out: the sound cards ALSA lists (`aplay -l`), the configured device among them, and the
// prepared files. Nothing is played: a doctor run must not speak in a library.
import { existsSync, readdirSync } from 'node:fs';
import type { GatewayConfig } from '../config.js';
import { fail, ok, warn, type Finding } from './findings.js';

/** A command's standard output, or why it gave none (not installed, exit status, timeout). */
export type RunCommand = (file: string, args: readonly string[]) => Promise<{ stdout: string } | { error: string; missing: boolean }>;

export async function checkSound(config: GatewayConfig, run: RunCommand, configPath: string): Promise<Finding[]> {
  const sound = config.sound;
  if (sound === undefined || sound.driver === 'none') return [ok('sound.device', 'sound', 'no announcements (sound.driver none or no sound: section): the sounder only beeps')];
  if (sound.driver === 'print') return [ok('sound.device', 'sound', 'sound.driver is print: announcements go to the log, none to a loudspeaker')];
  const listed = await run('aplay', ['-l']);
  if ('error' in listed) {
    return [
      listed.missing
        ? fail('sound.device', 'sound', 'aplay is not installed, so no announcement can be played', 'sudo apt-get install alsa-utils')
        : fail('sound.device', 'sound', `aplay -l failed: ${listed.error}`, 'the service\'s user plays through the audio group: sudo usermod -aG audio oag'),
    ];
  }
  const cards = [...listed.stdout.matchAll(/^card (\d+): (\S+) \[([^\]]*)\]/gm)].map((m) => ({ index: m[1]!, id: m[2]!, name: m[3]! }));
  if (cards.length === 0) return [fail('sound.device', 'sound', 'aplay -l lists no sound card', 'plug in the USB sound card or enable the Pi\'s audio (dtparam=audio=on in /boot/firmware/config.txt), then reboot')];
  const findings: Finding[] = [];
  const device = sound.device;
  const card = device === undefined ? undefined : /(?:^|[:,])CARD=([^,]+)/.exec(device)?.[1] ?? /^(?:plug)?hw:([^,]+)/.exec(device)?.[1];
  const cardList = cards.map((c) => `${c.id} (card ${c.index})`).join(', ');
  if (device === undefined) {
    findings.push(ok('sound.device', 'sound', `ALSA's default device plays; the cards are ${cardList}`));
  } else if (card !== undefined && !cards.some((c) => c.id === card || c.index === card)) {
    findings.push(fail('sound.device', 'sound', `sound.device ${device} names card ${card}, which aplay -l does not list (it lists ${cardList})`, `set sound.device to one of them, e.g. plughw:CARD=${cards[0]!.id}`));
  } else {
    findings.push(ok('sound.device', 'sound', `sound.device ${device} is among the cards (${cardList})`));
  }
  let wavs = 0;
  try {
    wavs = existsSync(sound.cacheDir) ? readdirSync(sound.cacheDir).filter((name) => name.endsWith('.wav')).length : 0;
  } catch (error) {
    // A finding like the others, not the end of the whole report.
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    findings.push(warn('sound.files', 'sound', `the prepared sound files in ${sound.cacheDir} cannot be listed (${code})`, `make ${sound.cacheDir} a folder the service's user can write (sudo chown oag:oag ${sound.cacheDir}), then: oag sounds prepare --config ${configPath}`));
    return findings;
  }
  findings.push(
    wavs > 0
      ? ok('sound.files', 'sound', `${wavs} prepared sound files in ${sound.cacheDir}`)
      : warn('sound.files', 'sound', `no prepared sound files in ${sound.cacheDir}: the first announcements wait for espeak-ng`, `oag sounds prepare --config ${configPath}`),
  );
  return findings;
}
