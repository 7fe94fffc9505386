// The WAV files the loudspeaker plays, made before they are needed: a recording named in the config, else espeak-ng
// speaking the phrase's words, each kept in the cache folder under a hash of what made it, so that a change of words,
// voice or recording makes a new file and an unchanged one is never made again. A copy at each volume used is made
// with sox and cached the same way. Every tool runs as a child process with a deadline, never on the tap path.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SoundConfig } from './config.js';
import { voiceFor } from './config.js';
import { PHRASE_IDS, PHRASES_WITH_MINUTES, textsFor } from './phrases.js';
import type { AnnouncementsSettings, PhraseId, PhraseParams } from './phrases.js';

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** Runs a program with its arguments (no shell) and a deadline; rejects with its stderr's first line when it fails. */
export type ToolRunner = (command: string, args: readonly string[], options: { timeoutMs: number }) => Promise<ToolResult>;

export class SoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SoundError';
  }
}

const runTool: ToolRunner = (command, args, { timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ stdout, stderr });
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        reject(new SoundError(`${command} is not installed (apt-get install ${PACKAGE_OF[command] ?? command})`));
        return;
      }
      const why = (error as { killed?: boolean }).killed ? `stopped after ${timeoutMs} ms` : (stderr.split('\n').find((line) => line.trim() !== '') ?? error.message).trim();
      reject(new SoundError(`${command} failed: ${why}`));
    });
  });

const PACKAGE_OF: Readonly<Record<string, string>> = { 'espeak-ng': 'espeak-ng', sox: 'sox', soxi: 'sox', aplay: 'alsa-utils' };

/** One language's part of a message, ready to play. */
export interface Clip {
  language: string;
  text: string;
  file: string;
  source: 'recording' | 'espeak-ng';
}

export interface SoundCacheDeps {
  config: Pick<SoundConfig, 'cacheDir' | 'voices' | 'recordings' | 'toolTimeoutMs'>;
  run?: ToolRunner | undefined;
}

function hash(...parts: Array<string | number>): string {
  return createHash('sha256').update(parts.map(String).join('\u0000')).digest('hex').slice(0, 16);
}

export class SoundCache {
  private readonly run: ToolRunner;
  /** A file being made, so that two asks for the same one wait for one child process. */
  private readonly making = new Map<string, Promise<string>>();

  constructor(private readonly deps: SoundCacheDeps) {
    this.run = deps.run ?? runTool;
  }

  /** A phrase's (or, with phrase undefined, typed words') WAV in a language: the recording, else espeak-ng's, cached. */
  async clip(language: string, text: string, phrase?: PhraseId): Promise<Clip> {
    const recording = phrase === undefined ? undefined : this.deps.config.recordings[language]?.[phrase];
    if (recording !== undefined) {
      try {
        await stat(recording);
      } catch {
        throw new SoundError(`sound.recordings.${language}.${phrase}: ${recording} not found (a WAV file, taken from the config file's folder)`);
      }
      return { language, text, file: recording, source: 'recording' };
    }
    const voice = voiceFor(this.deps.config, language);
    const name = `${phrase ?? 'text'}-${language}-${hash('espeak-ng', voice, text)}.wav`;
    const file = await this.make(name, async (out) => {
      // The words go in a file, not an argument: typed words starting with "-" would be read as options.
      const words = `${out}.txt`;
      await writeFile(words, text, 'utf8');
      try {
        await this.run('espeak-ng', ['-b', '1', '-v', voice, '-w', out, '-f', words], { timeoutMs: this.deps.config.toolTimeoutMs });
      } finally {
        await rm(words, { force: true });
      }
    });
    return { language, text, file, source: 'espeak-ng' };
  }

  /** A copy of a file at a volume (percent of full scale), made once with sox; 100 is the file itself. */
  async atVolume(file: string, percent: number): Promise<string> {
    if (percent >= 100) return file;
    const { mtimeMs } = await stat(file);
    const name = `volume-${hash(file, mtimeMs, percent)}-${percent}.wav`;
    return this.make(name, async (out) => {
      await this.run('sox', [file, out, 'vol', (percent / 100).toFixed(3)], { timeoutMs: this.deps.config.toolTimeoutMs });
    });
  }

  /** How long a WAV file plays, in seconds (soxi -D). */
  async duration(file: string): Promise<number> {
    const { stdout } = await this.run('soxi', ['-D', file], { timeoutMs: this.deps.config.toolTimeoutMs });
    const seconds = Number.parseFloat(stdout.trim());
    if (!Number.isFinite(seconds)) throw new SoundError(`soxi -D ${file}: not a duration (${stdout.trim().slice(0, 80)})`);
    return seconds;
  }

  /** The cached file, or made into a temporary name and renamed, so that a half-made file is never played. */
  private make(name: string, produce: (out: string) => Promise<void>): Promise<string> {
    const file = join(this.deps.config.cacheDir, name);
    const pending = this.making.get(file);
    if (pending !== undefined) return pending;
    const making = (async () => {
      try {
        if ((await stat(file)).size > 0) return file;
      } catch {
        // Not made yet.
      }
      await mkdir(this.deps.config.cacheDir, { recursive: true });
      // Its own name: another cache (the `oag sounds prepare` beside a running gateway) may be making the same file.
      const temporary = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
      try {
        await produce(temporary);
        await rename(temporary, file);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
      return file;
    })().finally(() => this.making.delete(file));
    this.making.set(file, making);
    return making;
  }
}

/** One message the branch may play: a phrase with its parameters. */
export interface PreparedMessage {
  phrase: PhraseId;
  params: PhraseParams;
}

/** Every message to prepare: each phrase once, and each phrase with minutes for each of the policy's warning minutes. */
function messagesToPrepare(warningMinutes: readonly number[]): PreparedMessage[] {
  const minutes = [...new Set(warningMinutes)].sort((a, b) => b - a);
  return PHRASE_IDS.flatMap((phrase) => (PHRASES_WITH_MINUTES.includes(phrase) ? minutes.map((m) => ({ phrase, params: { minutes: m } })) : [{ phrase, params: {} }]));
}

export interface PreparedClip extends Clip {
  phrase: PhraseId;
  params: PhraseParams;
}

export interface PrepareResult {
  clips: PreparedClip[];
  /** One line each: what could not be made (a missing recording, espeak-ng failing). */
  errors: string[];
}

/** Makes the whole cache for a policy's languages, one file at a time (a Pi has few cores and a door to run). */
export async function prepareAll(cache: SoundCache, settings: Pick<AnnouncementsSettings, 'languages' | 'phrases'>, warningMinutes: readonly number[]): Promise<PrepareResult> {
  const clips: PreparedClip[] = [];
  const errors: string[] = [];
  for (const { phrase, params } of messagesToPrepare(warningMinutes)) {
    let texts;
    try {
      texts = textsFor(phrase, params, settings);
    } catch (error) {
      errors.push((error as Error).message);
      continue;
    }
    for (const { language, text } of texts) {
      try {
        clips.push({ ...(await cache.clip(language, text, phrase)), phrase, params });
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
  }
  return { clips, errors };
}
