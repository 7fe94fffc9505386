// The gateway config's `sound:` section: how announcements reach the loudspeaker (docs/sound.md). Optional: without
// it, or with `driver: none`, the branch only beeps its sounder.
import { resolve } from 'node:path';
import { z } from 'zod';
import { LanguageSchema, PHRASE_IDS } from '../../policies/schema.js';

const SOUND_DRIVERS = ['aplay', 'print', 'none'] as const;

export const SoundConfigSchema = z.strictObject({
  /** `aplay`: ALSA's player; `print`: the words to the log (the demo, a machine with no sound card); `none`: the sounder's beep. */
  driver: z.enum(SOUND_DRIVERS).default('none'),
  /** ALSA pcm name (`aplay -D`), e.g. `plughw:CARD=Headphones`; left out, ALSA's default. */
  device: z
    .string()
    .regex(/^[A-Za-z0-9_:=,.-]{1,120}$/, 'must be an ALSA pcm name such as default or plughw:CARD=Headphones,DEV=0')
    .optional(),
  /** Where the prepared WAV files are kept (taken from the config file's folder). */
  cacheDir: z.string().min(1).default('var/sounds'),
  /** espeak-ng's voice per language (`espeak-ng --voices`); en and cy have defaults. */
  voices: z.record(LanguageSchema, z.string().regex(/^[A-Za-z0-9_+-]{1,64}$/, 'must be an espeak-ng voice name such as en-gb or cy')).default({}),
  /** Recorded WAV files that replace espeak-ng for a phrase in a language (taken from the config file's folder). */
  recordings: z.record(LanguageSchema, z.partialRecord(z.enum(PHRASE_IDS), z.string().min(1))).default({}),
  /** The longest espeak-ng, sox or soxi may run for one file before it is stopped. */
  toolTimeoutMs: z.number().int().min(1000).max(120_000).default(20_000),
});

export type SoundConfig = z.infer<typeof SoundConfigSchema>;

const DEFAULT_VOICES: Readonly<Record<string, string>> = { en: 'en-gb', cy: 'cy' };

/** The voice espeak-ng speaks a language with: the config's, else a default for en and cy, else the tag itself. */
export function voiceFor(config: Pick<SoundConfig, 'voices'>, language: string): string {
  return config.voices[language] ?? DEFAULT_VOICES[language] ?? DEFAULT_VOICES[language.split('-')[0]!] ?? language.toLowerCase();
}

/** Relative paths (the cache, recordings) are the config file's folder's, like `store.path`. */
export function resolveSoundPaths(config: SoundConfig | undefined, baseDir: string): SoundConfig | undefined {
  if (config === undefined) return undefined;
  const recordings: SoundConfig['recordings'] = {};
  for (const [language, phrases] of Object.entries(config.recordings)) {
    recordings[language] = Object.fromEntries(Object.entries(phrases).map(([phrase, path]) => [phrase, resolve(baseDir, path as string)]));
  }
  return { ...config, cacheDir: resolve(baseDir, config.cacheDir), recordings };
}
