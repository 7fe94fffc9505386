// `oag sounds prepare --config FILE`: makes every announcement's WAV file in the cache (a recording named in the
// config, else espeak-ng), for the policy file's languages and warning minutes, and prints each with how long it
// plays. install-pi.sh runs it, so that the gateway never waits for espeak-ng when something must be said.
import type { Command } from 'commander';
import { processIo, readPolicyFile, type CommandIo } from './schedule.js';

export async function runSoundsPrepare(configFile: string, io: CommandIo): Promise<number> {
  const { loadGatewayConfig, ConfigError } = await import('../../gateway/config.js');
  const { SoundCache, prepareAll } = await import('../../gateway/sound/prepare.js');
  const { announcementSettings } = await import('../../gateway/sound/phrases.js');
  let config;
  try {
    config = loadGatewayConfig(configFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of error.errors) io.err(`${line}\n`);
    return 1;
  }
  const sound = config.sound;
  if (sound === undefined || sound.driver !== 'aplay') {
    io.out(`sounds: sound.driver is ${sound?.driver ?? 'none (no sound: section)'}: no sound files to prepare\n`);
    return 0;
  }
  const policy = await readPolicyFile(config.policyFile, { out: io.out, err: (line) => io.err(`policyFile (${config.policyFile}): ${line}`) });
  if (policy === undefined) return 1;
  const settings = announcementSettings(policy);
  const cache = new SoundCache({ config: sound });
  const { clips, errors } = await prepareAll(cache, settings, policy.closing.warningMinutes);
  for (const clip of clips) {
    let duration: string;
    try {
      duration = `${(await cache.duration(clip.file)).toFixed(2)} s`;
    } catch (error) {
      errors.push((error as Error).message);
      duration = '?';
    }
    const params = clip.params.minutes === undefined ? '' : ` (${clip.params.minutes} min)`;
    io.out(`${clip.file}\t${duration}\t[${clip.language}] ${clip.phrase}${params}${clip.source === 'recording' ? ' (recording)' : ''}\n`);
  }
  // A language without words for a phrase never gets here: the policy's schema refused it, naming the phrase.
  const all = [...new Set(errors)];
  for (const line of all) io.err(`${line}\n`);
  io.out(`sounds: ${clips.length} files in ${sound.cacheDir}${all.length > 0 ? `, ${all.length} problem(s)` : ''}\n`);
  return all.length > 0 ? 1 : 0;
}

export function register(program: Command): void {
  const sounds = program.command('sounds').description("the announcements' sound files (docs/sound.md)");
  sounds
    .command('prepare')
    .description('make every announcement’s WAV file in the cache (recordings, else espeak-ng) and print each with its length')
    .requiredOption('-c, --config <file>', 'gateway config file (YAML)')
    .action(async (options: { config: string }) => {
      process.exitCode = await runSoundsPrepare(options.config, processIo);
    });
}
