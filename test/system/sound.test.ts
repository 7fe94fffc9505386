// Announcements through the real tools: espeak-ng makes the files, sox and soxi measure them, ALSA's aplay plays them.
// There is no sound card here: ALSA's `file` plugin (asound.conf given through ALSA_CONFIG_PATH) writes what aplay
// plays into a FIFO that the test reads, so the bytes that reached "the loudspeaker" can be compared with the files,
// in order. A FIFO the test stops reading holds aplay as a full sound card would, which is what lets an evacuation
// arrive while a closing warning is still playing. Checked by bytes and durations, never by how long anything took.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SoundConfigSchema } from '../../gateway/sound/config.js';
import { textsFor } from '../../gateway/sound/phrases.js';
import type { PhraseId, PhraseParams } from '../../gateway/sound/phrases.js';
import { SoundCache } from '../../gateway/sound/prepare.js';
import { startHarness } from '../helpers/gateway-harness.js';
import type { Harness } from '../helpers/gateway-harness.js';
import { requireBinary } from '../helpers/mosquitto.js';
import { until } from '../helpers/until.js';

const TOOLS: Array<[string, string]> = [
  ['espeak-ng', 'espeak-ng'],
  ['aplay', 'alsa-utils'],
  ['sox', 'sox'],
  ['soxi', 'sox'],
];
for (const [binary, debianPackage] of TOOLS) requireBinary(binary, debianPackage);

const STAFF_CARD = '04A1B2C3D4E5F6';
/** espeak-ng's output: 22,050 samples a second, 16-bit, mono. */
const BYTES_PER_SECOND = 22_050 * 2;

let dir: string;
let fifo: string;
let fd: number;
let savedAlsaPath: string | undefined;
let harness: Harness | undefined;
/** What aplay wrote, in order. */
let captured = Buffer.alloc(0);
let reading = false;

/** Reads at most `max` bytes of what the FIFO holds now; returns how many. */
function readOnce(max: number): number {
  const chunk = Buffer.alloc(max);
  let n: number;
  try {
    n = readSync(fd, chunk, 0, max, null);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
    throw error;
  }
  if (n > 0) captured = Buffer.concat([captured, chunk.subarray(0, n)]);
  return Math.max(0, n);
}

/** Takes whatever the FIFO holds now; nothing while the test holds the loudspeaker. */
function drain(): void {
  while (reading && readOnce(65_536) > 0);
}
const drainer = setInterval(drain, 5);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oag-sound-'));
  fifo = join(dir, 'speaker.fifo');
  execFileSync('mkfifo', [fifo]);
  // Read and write: the FIFO never reports end-of-file between one aplay and the next, and opening it never blocks.
  fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  writeFileSync(join(dir, 'asound.conf'), `pcm.!default { type file; slave.pcm "null"; file "${fifo}"; format "raw" }\n`);
  savedAlsaPath = process.env.ALSA_CONFIG_PATH;
  process.env.ALSA_CONFIG_PATH = `/usr/share/alsa/alsa.conf:${join(dir, 'asound.conf')}`;
});

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

afterAll(() => {
  clearInterval(drainer);
  closeSync(fd);
  if (savedAlsaPath === undefined) delete process.env.ALSA_CONFIG_PATH;
  else process.env.ALSA_CONFIG_PATH = savedAlsaPath;
  rmSync(dir, { recursive: true, force: true });
});

const sound = (device?: string) => ({ driver: 'aplay' as const, cacheDir: join(dir, 'sounds'), ...(device === undefined ? {} : { device }) });

async function branch(device?: string): Promise<Harness> {
  const gatewayDir = mkdtempSync(join(dir, 'gw-'));
  harness = await startHarness({
    dir: gatewayDir,
    policy: { version: 1, site: 'town-central', schedule: { weekly: {} }, announcements: { languages: ['cy', 'en'] } },
    config: { sound: sound(device) },
    members: { [STAFF_CARD]: { staff: true } },
  });
  return harness;
}

/** A phrase's file in one language as the gateway prepared it, its samples, and how long soxi says it plays. */
async function clip(phrase: PhraseId, language: 'cy' | 'en', params: PhraseParams = {}): Promise<{ raw: Buffer; seconds: number }> {
  const cache = new SoundCache({ config: SoundConfigSchema.parse(sound()) });
  const { text } = textsFor(phrase, params, { languages: [language] })[0]!;
  const { file } = await cache.clip(language, text, phrase);
  return { raw: execFileSync('sox', [file, '-t', 'raw', '-']), seconds: await cache.duration(file) };
}

function outcomes(h: Harness): string[] {
  return h.events.filter((e) => e.type === 'announcement').map((e) => `${String(e.phrase)} ${String(e.outcome)}`);
}

describe('announcements through espeak-ng and aplay', () => {
  it('says a bilingual closing warning in Welsh, then in English, each in full', async () => {
    captured = Buffer.alloc(0);
    reading = true;
    const h = await branch();
    h.running.gateway.bus.emit('closing-warning', { minutesLeft: 15 });
    await until(() => outcomes(h).includes('closing-soon played'), () => `the warning to play (${outcomes(h).join(', ')})`, 60_000);
    drain();
    const cy = await clip('closing-soon', 'cy', { minutes: 15 });
    const en = await clip('closing-soon', 'en', { minutes: 15 });
    const cyAt = captured.indexOf(cy.raw);
    const enAt = captured.indexOf(en.raw);
    expect(cyAt).toBe(0);
    expect(enAt).toBeGreaterThanOrEqual(cy.raw.length);
    // Both played whole: the samples reaching the device last as long as soxi says the files do.
    expect(cy.raw.length / BYTES_PER_SECOND).toBeCloseTo(cy.seconds, 2);
    expect(en.raw.length / BYTES_PER_SECOND).toBeCloseTo(en.seconds, 2);
    expect(cy.seconds).toBeGreaterThan(1);
  });

  it('stops a closing warning for the evacuation: the device gets the warning’s start, then the whole evacuation', async () => {
    // Nothing left over from before: the first bytes read must be this warning's.
    reading = true;
    drain();
    reading = false;
    captured = Buffer.alloc(0);
    const h = await branch();
    // The files made first, so that what follows waits for nothing but the loudspeaker.
    const warning = await clip('closing-soon', 'cy', { minutes: 5 });
    const evacuateCy = await clip('evacuate', 'cy');
    const evacuateEn = await clip('evacuate', 'en');
    const warningEn = await clip('closing-soon', 'en', { minutes: 5 });
    h.running.gateway.bus.emit('closing-warning', { minutesLeft: 5 });
    // A first sip of the warning, then the loudspeaker is held: aplay fills the FIFO and waits, mid-warning, as on a
    // card playing in real time.
    await until(() => readOnce(4096) > 0, 'the warning to reach the device', 60_000);
    h.input('fireAlarm', true);
    await until(() => outcomes(h).includes('closing-soon interrupted'), () => `the warning to be interrupted (${outcomes(h).join(', ')})`, 60_000);
    reading = true;
    await until(() => outcomes(h).includes('evacuate played'), () => `the evacuation to play (${outcomes(h).join(', ')})`, 60_000);
    drain();
    const evacuationAt = captured.indexOf(evacuateCy.raw);
    expect(evacuationAt).toBeGreaterThan(0);
    // What came before is the warning's beginning, and only that: part of it, never its English half.
    expect(evacuationAt).toBeLessThan(warning.raw.length);
    expect(captured.subarray(0, evacuationAt).equals(warning.raw.subarray(0, evacuationAt))).toBe(true);
    // "The library closes" (the evacuation's words share others, "please", sample for sample).
    const libraryCloses = warningEn.raw.subarray(warningEn.raw.length / 4, warningEn.raw.length / 4 + 4000);
    expect(new Set(libraryCloses).size).toBeGreaterThan(16);
    expect(captured.indexOf(libraryCloses)).toBe(-1);
    expect(captured.indexOf(evacuateEn.raw)).toBeGreaterThanOrEqual(evacuationAt + evacuateCy.raw.length);
    expect(evacuationAt / BYTES_PER_SECOND).toBeLessThan(warning.seconds);
    expect(evacuateCy.seconds + evacuateEn.seconds).toBeGreaterThan(5);
    expect(outcomes(h).filter((o) => o.startsWith('closing-soon'))).toEqual(['closing-soon interrupted']);
  });

  it('raises sound-failed when the device does not exist, and the door still decides', async () => {
    const h = await branch('nosuchdevice');
    h.running.gateway.announce('closing-now', 'console:test');
    await until(() => h.running.gateway.alarms.has('sound-failed'), 'the sound-failed alarm', 60_000);
    const raised = h.events.find((e) => e.type === 'alarm' && e.alarm === 'sound-failed');
    expect(String(raised?.type === 'alarm' ? raised.detail : '')).toMatch(/^nosuchdevice: .*audio open error/);
    expect(outcomes(h)).toContain('closing-now failed');
    h.tap(STAFF_CARD);
    expect(h.reasons()).toEqual(['staff']);
    expect(h.doorRelayActive()).toBe(true);
  });
});
