// The loudspeaker's queue, with aplay replaced by a fake child: the most urgent message first, a more urgent one
// stopping the one playing (told as interrupted, not played again), a greeting dropped when anything waits, a device
// that cannot be opened told as a fault until a message plays again.
import { describe, expect, it } from 'vitest';
import { Player } from '../../../gateway/sound/player.js';
import type { PlayItem, PlayResult } from '../../../gateway/sound/player.js';
import { PHRASE_PRIORITY } from '../../../gateway/sound/phrases.js';
import type { PhraseId } from '../../../gateway/sound/phrases.js';
import { TestClock } from '../../helpers/test-clock.js';
import { fakeAplay } from './fake-aplay.js';

function item(phrase: PhraseId, languages: string[] = ['en']): PlayItem {
  return {
    phrase,
    priority: PHRASE_PRIORITY[phrase],
    parts: languages.map((language) => ({ language, text: `${phrase} in ${language}`, file: `/cache/${phrase}-${language}.wav` })),
    dropWhenBusy: phrase === 'welcome',
  };
}

function player(options: { ignoresTerm?: boolean; device?: string } = {}) {
  const aplay = fakeAplay(options);
  const clock = new TestClock(0);
  const results: Array<[string, string, string | undefined]> = [];
  const faults: string[] = [];
  let recovered = 0;
  const p = new Player({
    driver: 'aplay',
    device: options.device,
    clock,
    spawn: aplay.spawn,
    onResult: (r: PlayResult) => void results.push([r.item.phrase, r.outcome, r.detail]),
    onFault: (message) => void faults.push(message),
    onRecovered: () => void (recovered += 1),
    killGraceMs: 1000,
  });
  return { p, aplay, clock, results, faults, recovered: () => recovered, played: () => aplay.children.map((c) => c.file) };
}

describe('the player', () => {
  it('plays a more urgent message at once, the one it stopped told as interrupted, and the rest by priority then order', () => {
    const { p, aplay, results, played } = player();
    p.enqueue(item('closing-soon'));
    p.enqueue(item('help-acknowledged'));
    p.enqueue(item('booking-ending'));
    expect(played()).toEqual(['/cache/closing-soon-en.wav']);
    p.enqueue(item('door-held'));
    expect(aplay.children[0]!.signals).toEqual(['SIGTERM']);
    expect(played()[1]).toBe('/cache/door-held-en.wav');
    aplay.running()!.exit(0);
    aplay.running()!.exit(0);
    aplay.running()!.exit(0);
    expect(played()).toEqual(['/cache/closing-soon-en.wav', '/cache/door-held-en.wav', '/cache/booking-ending-en.wav', '/cache/help-acknowledged-en.wav']);
    expect(results).toEqual([
      ['closing-soon', 'interrupted', undefined],
      ['door-held', 'played', undefined],
      ['booking-ending', 'played', undefined],
      ['help-acknowledged', 'played', undefined],
    ]);
    expect(p.busy).toBe(false);
  });

  it('lets the evacuation interrupt anything, and lets nothing interrupt it', () => {
    const { p, aplay, results, played } = player();
    p.enqueue(item('please-leave'));
    p.enqueue(item('evacuate'));
    p.enqueue(item('closing-now'));
    expect(aplay.running()!.file).toBe('/cache/evacuate-en.wav');
    expect(aplay.running()!.signals).toEqual([]);
    aplay.running()!.exit(0);
    aplay.running()!.exit(0);
    expect(played()).toEqual(['/cache/please-leave-en.wav', '/cache/evacuate-en.wav', '/cache/closing-now-en.wav']);
    expect(results.map(([phrase, outcome]) => `${phrase} ${outcome}`)).toEqual(['please-leave interrupted', 'evacuate played', 'closing-now played']);
  });

  it('plays a bilingual message one language after the other, on the configured device', () => {
    const { p, aplay, results } = player({ device: 'plughw:CARD=Headphones' });
    p.enqueue(item('closing-now', ['cy', 'en']));
    expect(aplay.running()!.args).toEqual(['-q', '-D', 'plughw:CARD=Headphones', '/cache/closing-now-cy.wav']);
    aplay.running()!.exit(0);
    expect(aplay.running()!.args).toEqual(['-q', '-D', 'plughw:CARD=Headphones', '/cache/closing-now-en.wav']);
    aplay.running()!.exit(0);
    expect(results).toEqual([['closing-now', 'played', undefined]]);
  });

  it('drops a greeting when anything is playing or waiting, and plays it when idle', () => {
    const { p, aplay, results } = player();
    p.enqueue(item('closing-soon'));
    expect(p.enqueue(item('welcome'))).toBe(false);
    aplay.running()!.exit(0);
    expect(p.enqueue(item('welcome'))).toBe(true);
    aplay.running()!.exit(0);
    expect(results.map(([phrase, outcome]) => `${phrase} ${outcome}`)).toEqual(['welcome dropped', 'closing-soon played', 'welcome played']);
  });

  it('tells a device it cannot open as a fault with aplay’s first line, and the recovery once a message plays', () => {
    const { p, aplay, results, faults, recovered } = player({ device: 'nosuchdevice' });
    p.enqueue(item('door-held'));
    aplay.running()!.exit(1, 'ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM nosuchdevice\naplay: main:831: audio open error: No such file or directory\n');
    expect(results).toEqual([['door-held', 'failed', 'aplay: main:831: audio open error: No such file or directory']]);
    expect(faults).toEqual(['nosuchdevice: aplay: main:831: audio open error: No such file or directory']);
    expect(recovered()).toBe(0);
    p.enqueue(item('door-held'));
    aplay.running()!.exit(0);
    expect(recovered()).toBe(1);
    p.enqueue(item('door-held'));
    aplay.running()!.exit(0);
    expect(recovered()).toBe(1);
  });

  it('kills an aplay that does not end on SIGTERM once the grace has passed, then plays the urgent message', () => {
    const { p, aplay, clock, played } = player({ ignoresTerm: true });
    p.enqueue(item('closing-soon'));
    p.enqueue(item('evacuate'));
    expect(played()).toEqual(['/cache/closing-soon-en.wav']);
    clock.advance(999);
    expect(aplay.children[0]!.signals).toEqual(['SIGTERM']);
    clock.advance(1);
    expect(aplay.children[0]!.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(played()).toEqual(['/cache/closing-soon-en.wav', '/cache/evacuate-en.wav']);
  });

  it('prints the words with the print driver, one line per language', () => {
    const lines: string[] = [];
    const results: string[] = [];
    const p = new Player({
      driver: 'print',
      clock: new TestClock(0),
      print: (line) => void lines.push(line),
      onResult: (r) => void results.push(r.outcome),
      onFault: () => {},
      onRecovered: () => {},
    });
    p.enqueue({ phrase: 'closing-soon', priority: 30, parts: [{ language: 'cy', text: "Mae'r llyfrgell yn cau mewn pum munud." }, { language: 'en', text: 'The library closes in five minutes.' }] });
    expect(lines).toEqual(["🔊 [cy] Mae'r llyfrgell yn cau mewn pum munud.", '🔊 [en] The library closes in five minutes.']);
    expect(results).toEqual(['printed']);
  });
});
