// The sound cache with the tools replaced by a recorder that writes the files they would: a recording named in the
// config wins, a missing one is an error naming the setting, a file is made once and made again only for new words,
// a quieter copy is made with sox at the asked volume, and the whole cache covers every phrase and warning.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkGatewayConfigText } from '../../../gateway/config.js';
import { SoundConfigSchema } from '../../../gateway/sound/config.js';
import { PHRASE_IDS } from '../../../gateway/sound/phrases.js';
import { prepareAll, SoundCache } from '../../../gateway/sound/prepare.js';
import type { ToolRunner } from '../../../gateway/sound/prepare.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tools() {
  const dir = mkdtempSync(join(tmpdir(), 'oag-cache-'));
  dirs.push(dir);
  const ran: string[][] = [];
  const run: ToolRunner = async (command, args) => {
    ran.push([command, ...args]);
    const out = command === 'espeak-ng' ? args[args.indexOf('-w') + 1]! : args[1]!;
    writeFileSync(out, `RIFF from ${command}`);
    return { stdout: '', stderr: '' };
  };
  return { dir, ran, run, espeaks: () => ran.filter(([command]) => command === 'espeak-ng').length };
}

describe('the sound cache', () => {
  it('makes a phrase once with espeak-ng in the language’s voice, and again only when its words change', async () => {
    const t = tools();
    const cache = new SoundCache({ config: SoundConfigSchema.parse({ cacheDir: join(t.dir, 'sounds') }), run: t.run });
    const first = await cache.clip('cy', "Croeso i'r llyfrgell.", 'welcome');
    const again = await cache.clip('cy', "Croeso i'r llyfrgell.", 'welcome');
    expect(again.file).toBe(first.file);
    expect(t.espeaks()).toBe(1);
    expect(t.ran[0]!.slice(0, 5)).toEqual(['espeak-ng', '-b', '1', '-v', 'cy']);
    const changed = await cache.clip('cy', 'Croeso!', 'welcome');
    expect(changed.file).not.toBe(first.file);
    expect(t.espeaks()).toBe(2);
    // Only finished files are left: no temporary file or words file behind.
    expect(readdirSync(join(t.dir, 'sounds')).sort()).toEqual([first.file, changed.file].map((f) => f.split('/').pop()).sort());
  });

  it('plays a recording named in the config instead, and names the setting when the file is missing', async () => {
    const t = tools();
    const recording = join(t.dir, 'gwacau.wav');
    writeFileSync(recording, 'RIFF recorded');
    const config = SoundConfigSchema.parse({ cacheDir: join(t.dir, 'sounds'), recordings: { cy: { evacuate: recording, welcome: join(t.dir, 'gone.wav') } } });
    const cache = new SoundCache({ config, run: t.run });
    expect(await cache.clip('cy', 'Sylw', 'evacuate')).toMatchObject({ file: recording, source: 'recording' });
    await expect(cache.clip('cy', 'Croeso', 'welcome')).rejects.toThrow(/^sound\.recordings\.cy\.welcome: .*gone\.wav not found/);
    expect(t.espeaks()).toBe(0);
  });

  it('makes a quieter copy with sox once per volume, and plays the file itself at 100 %', async () => {
    const t = tools();
    const cache = new SoundCache({ config: SoundConfigSchema.parse({ cacheDir: join(t.dir, 'sounds') }), run: t.run });
    const { file } = await cache.clip('en', 'Welcome to the library.', 'welcome');
    expect(await cache.atVolume(file, 100)).toBe(file);
    const quiet = await cache.atVolume(file, 40);
    expect(await cache.atVolume(file, 40)).toBe(quiet);
    expect(t.ran.filter(([command]) => command === 'sox')).toEqual([['sox', file, expect.stringContaining('.part'), 'vol', '0.400']]);
    expect(existsSync(quiet)).toBe(true);
  });

  it('prepares every phrase in every language, the minutes ones for each warning', async () => {
    const t = tools();
    const cache = new SoundCache({ config: SoundConfigSchema.parse({ cacheDir: join(t.dir, 'sounds') }), run: t.run });
    const { clips, errors } = await prepareAll(cache, { languages: ['cy', 'en'] }, [15, 5]);
    expect(errors).toEqual([]);
    expect(clips).toHaveLength((PHRASE_IDS.length + 2) * 2);
    expect(clips.filter((c) => c.phrase === 'closing-soon').map((c) => `${c.language} ${c.params.minutes}`)).toEqual(['cy 15', 'en 15', 'cy 5', 'en 5']);
  });
});

describe('the sound: config section', () => {
  it('takes the cache and the recordings from the config file’s folder, and names a bad device', () => {
    const base = 'site: town\npolicyFile: p.yaml\nhardware: { gpio: { driver: simulated }, readers: [{ id: entry, driver: simulated, role: entry }] }\n';
    const config = checkGatewayConfigText(`${base}sound: { driver: aplay, recordings: { cy: { evacuate: rec/gwacau.wav } } }\n`, 'gw.yaml', '/etc/oag');
    expect(config.sound).toMatchObject({ driver: 'aplay', cacheDir: '/etc/oag/var/sounds', recordings: { cy: { evacuate: '/etc/oag/rec/gwacau.wav' } } });
    expect(() => checkGatewayConfigText(`${base}sound: { driver: aplay, device: "hw:0; rm -rf /" }\n`, 'gw.yaml', '/etc/oag')).toThrow(/sound\.device: must be an ALSA pcm name/);
  });
});
