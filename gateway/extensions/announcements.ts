// Announcements, as an extension: what happens at the branch becomes a spoken message (docs/sound.md). A closing
// warning, the close with people inside, the fire alarm (again every minute while it lasts), a door held open, an
// acknowledged help call, staff's own words. Each message is said in the policy's languages, in order, from the
// cache prepared at start (gateway/sound/prepare.ts), at the volume for the time of day, through the priority queue
// (gateway/sound/player.ts). A sound device that fails is the `sound-failed` alarm; nothing here touches the door.
import { DateTime } from 'luxon';
import { doorMessage, doorMessageText } from '../../policies/door-messages.js';
import type { DoorDecision } from '../../policies/door-messages.js';
import { activeBookings, modeAt } from '../../policies/index.js';
import type { Policy } from '../../policies/index.js';
import { minutesFromHHMM } from '../../policies/time.js';
import type { Alarms } from '../core/alarms.js';
import type { Clock, Timer } from '../core/clock.js';
import type { EventBody } from '../core/event-log.js';
import { HELP_ACKNOWLEDGED_ACTION } from '../core/help-call.js';
import type { SoundConfig } from '../sound/config.js';
import { announcementSettings, isPhraseId, PHRASE_PRIORITY, PhraseError, PHRASES_WITH_MINUTES, TEXT_PRIORITY, textsFor } from '../sound/phrases.js';
import type { AnnouncementsSettings, PhraseId, PhraseParams, SpokenText } from '../sound/phrases.js';
import { Player } from '../sound/player.js';
import type { PlayerSpawn, PlayPart, PlayResult } from '../sound/player.js';
import { prepareAll, SoundCache } from '../sound/prepare.js';
import type { ToolRunner } from '../sound/prepare.js';
import type { Extension, ExtensionContext } from './extension.js';

const SOUND_FAILED_ALARM = 'sound-failed';
/** The fire message again, while the fire alarm lasts. */
const EVACUATE_REPEAT_MS = 60_000;
/** At most one greeting in this time: a queue of people coming in hears one, not one each. */
const WELCOME_GAP_MS = 10_000;
/** At most one refusal said aloud in this time. */
const REFUSAL_GAP_MS = 5_000;
/** A refusal's words: above a greeting, below everything that concerns the whole building. */
const REFUSAL_PRIORITY = 15;

export interface AnnouncementsDeps {
  config: SoundConfig & { driver: 'aplay' | 'print' };
  clock: Clock;
  policy: () => Policy;
  alarms: Pick<Alarms, 'raise' | 'clear' | 'has'>;
  /** The gateway's event log (`announcement` events). */
  record: (event: EventBody<'announcement'>) => void;
  /** Tests: the child processes and the print driver's output. */
  spawn?: PlayerSpawn | undefined;
  run?: ToolRunner | undefined;
  print?: ((line: string) => void) | undefined;
  killGraceMs?: number | undefined;
}

/** The volume for a time of day: the last `from` at or before it, else the day's last (still in force from yesterday). */
export function volumeAt(volume: AnnouncementsSettings['volume'], timezone: string, at: Date): number {
  if (volume === undefined || volume.length === 0) return 100;
  const local = DateTime.fromJSDate(at, { zone: timezone });
  const minute = local.hour * 60 + local.minute;
  // The schema took only valid times.
  const toMinutes = (hhmm: string): number => minutesFromHHMM(hhmm) ?? 0;
  const sorted = [...volume].sort((a, b) => toMinutes(a.from) - toMinutes(b.from));
  return [...sorted].reverse().find((entry) => toMinutes(entry.from) <= minute)?.percent ?? sorted[sorted.length - 1]!.percent;
}

export class AnnouncementsExtension implements Extension {
  readonly name = 'announcements';
  private player: Player | undefined;
  private cache: SoundCache | undefined;
  private context: ExtensionContext | undefined;
  private evacuateTimer: Timer | undefined;
  private lastWelcomeAt = Number.NEGATIVE_INFINITY;
  private lastRefusalAt = Number.NEGATIVE_INFINITY;
  /** Bumped at every start and stop: a message prepared for an earlier run is not queued. */
  private generation = 0;

  constructor(private readonly deps: AnnouncementsDeps) {}

  start(context: ExtensionContext): void {
    const generation = ++this.generation;
    this.context = context;
    const { config, clock } = this.deps;
    this.cache = new SoundCache({ config, run: this.deps.run });
    this.player = new Player({
      driver: config.driver,
      device: config.device,
      clock,
      spawn: this.deps.spawn,
      print: this.deps.print ?? ((line) => context.logger.info(line)),
      killGraceMs: this.deps.killGraceMs,
      onResult: (result) => this.told(result),
      onFault: (message) => {
        context.logger.warn(`sound device: ${message}`);
        this.deps.alarms.raise(SOUND_FAILED_ALARM, message);
      },
      // Cleared in told(), once the message that played is recorded.
      onRecovered: () => {},
    });

    context.on('closing-warning', ({ minutesLeft }) => this.say('closing-soon', { minutes: minutesLeft }));
    context.on('booking-ending', ({ minutes }) => this.say('booking-ending', { minutes }));
    context.on('schedule-mode', ({ from, to }) => {
      if (from === 'open-access' && to === 'closed') this.say('closing-now');
    });
    context.on('alarm', ({ alarm, raised }) => {
      if (alarm === 'fire') {
        if (raised) this.evacuate();
        else this.stopEvacuating();
      } else if (raised && alarm === 'people-inside-after-close') {
        // At the close itself `closing-now` is said already (its listener runs after the closing sequence's).
        if (!this.justClosedFromOpenAccess()) this.say('please-leave');
      } else if (raised && alarm === 'held-open') {
        this.say('door-held');
      }
    });
    context.on('access', ({ decision, role }) => {
      if (!decision.allow && role === 'entry') this.sayRefusal(decision);
      if (!decision.allow || role !== 'entry' || decision.mode !== 'open-access') return;
      if (this.deps.policy().announcements?.welcome !== true) return;
      const now = clock.now().getTime();
      if (now - this.lastWelcomeAt < WELCOME_GAP_MS) return;
      this.lastWelcomeAt = now;
      this.say('welcome');
    });
    context.on('event-logged', (event) => {
      if (event.type === 'staff' && event.action === HELP_ACKNOWLEDGED_ACTION) this.say('help-acknowledged');
    });
    context.on('announce', ({ text, actor }) => {
      const words = text?.trim() ?? '';
      if (isPhraseId(words)) this.sayAsked(words);
      else if (words !== '') this.sayText(words, actor);
    });

    // At start a fire may already be on (a restart during one).
    if (this.deps.alarms.has('fire')) this.evacuate();
    // In the background: start() does not wait for espeak-ng, and a message asked for meanwhile makes its own file.
    void this.prepare(generation);
  }

  async stop(): Promise<void> {
    this.generation += 1;
    this.stopEvacuating();
    const player = this.player;
    this.player = undefined;
    await player?.stop();
  }

  private async prepare(generation: number): Promise<void> {
    const cache = this.cache;
    if (cache === undefined || this.deps.config.driver !== 'aplay') return;
    const policy = this.deps.policy();
    const result = await prepareAll(cache, this.settings(), policy.closing.warningMinutes);
    if (generation !== this.generation) return;
    const logger = this.context?.logger;
    logger?.info({ files: result.clips.length }, `announcements: ${result.clips.length} sound files ready in ${this.deps.config.cacheDir}`);
    for (const error of result.errors) logger?.warn(`announcements: ${error}`);
    if (result.errors.length > 0) this.deps.alarms.raise(SOUND_FAILED_ALARM, `${result.errors.length} sound file(s) could not be prepared: ${result.errors[0]}`);
  }

  /**
   * A phrase staff asked for by its id. One that says minutes says the minutes left now: until open access ends for
   * `closing-soon`, until the booking in force ends for `booking-ending`; with none to say, nothing is said and the
   * event says why, rather than "closes in ." through the loudspeaker.
   */
  private sayAsked(phrase: PhraseId): void {
    if (!PHRASES_WITH_MINUTES.includes(phrase)) {
      this.say(phrase);
      return;
    }
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    const span = modeAt(policy, now);
    const end = phrase === 'closing-soon' ? (span.mode === 'open-access' ? span.until : null) : (activeBookings(policy, now).sort((a, b) => b.to.getTime() - a.to.getTime())[0]?.to ?? null);
    if (end === null) {
      const why = phrase === 'closing-soon' ? 'the branch is not in open access, so there are no minutes left to say' : 'no booking is in force, so there are no minutes left to say';
      this.deps.record({ phrase, languages: this.settings().languages, outcome: 'failed', detail: why });
      return;
    }
    this.say(phrase, { minutes: Math.max(1, Math.ceil((end.getTime() - now.getTime()) / 60_000)) });
  }

  /** The schedule went from open access to closed this very instant: `closing-now` is on its way. */
  private justClosedFromOpenAccess(): boolean {
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    const span = modeAt(policy, now);
    return span.mode === 'closed' && span.since !== null && span.since.getTime() === now.getTime() && modeAt(policy, new Date(now.getTime() - 1)).mode === 'open-access';
  }

  private settings(): AnnouncementsSettings {
    return announcementSettings(this.deps.policy());
  }

  private evacuate(): void {
    this.stopEvacuating();
    // A repeat that finds the last one still playing or waiting does not queue another behind it.
    if (this.player?.has('evacuate') !== true) this.say('evacuate');
    this.evacuateTimer = this.deps.clock.setTimeout(() => {
      this.evacuateTimer = undefined;
      if (this.deps.alarms.has('fire')) this.evacuate();
    }, EVACUATE_REPEAT_MS);
  }

  private stopEvacuating(): void {
    this.deps.clock.clearTimeout(this.evacuateTimer);
    this.evacuateTimer = undefined;
  }

  /** A phrase in the policy's languages, at its priority. */
  private say(phrase: PhraseId, params: PhraseParams = {}): void {
    let texts: SpokenText[];
    const settings = this.settings();
    try {
      texts = textsFor(phrase, params, settings);
    } catch (error) {
      if (!(error instanceof PhraseError)) throw error;
      this.deps.record({ phrase, languages: settings.languages, outcome: 'failed', detail: error.message.slice(0, 500) });
      return;
    }
    this.queue(phrase, PHRASE_PRIORITY[phrase], texts, phrase === 'welcome');
  }

  /**
   * A refusal's reason aloud, only where the policy says so (`speakRefusals`): others may be listening, so by
   * default a refusal is the sounder's neutral tone and the words are on the door screen. At most one in
   * REFUSAL_GAP_MS, so a card tried again and again is not a speech each time. The door screen's words, in English.
   */
  private sayRefusal(decision: DoorDecision): void {
    if (this.deps.policy().announcements?.speakRefusals !== true) return;
    const now = this.deps.clock.now();
    if (now.getTime() - this.lastRefusalAt < REFUSAL_GAP_MS) return;
    this.lastRefusalAt = now.getTime();
    const text = doorMessageText(doorMessage(decision, { policy: this.deps.policy(), at: now }));
    this.queue('refusal', REFUSAL_PRIORITY, [{ language: 'en', text }], true);
  }

  /** Typed words: said in the policy's first language (they are in one language), made with espeak-ng off the door's path. */
  private sayText(text: string, actor: string): void {
    const language = this.settings().languages[0] ?? 'en';
    this.context?.logger.info({ actor }, `announcement of typed words by ${actor}`);
    this.queue('text', TEXT_PRIORITY, [{ language, text }], false);
  }

  private queue(phrase: string, priority: number, texts: SpokenText[], dropWhenBusy: boolean): void {
    const generation = this.generation;
    const player = this.player;
    const cache = this.cache;
    if (player === undefined || cache === undefined) return;
    if (this.deps.config.driver === 'print') {
      player.enqueue({ phrase, priority, parts: texts, dropWhenBusy });
      return;
    }
    const policy = this.deps.policy();
    const percent = volumeAt(policy.announcements?.volume, policy.timezone, this.deps.clock.now());
    const made = Promise.all(
      texts.map(async ({ language, text }): Promise<PlayPart> => {
        const clip = await cache.clip(language, text, isPhraseId(phrase) ? phrase : undefined);
        return { language, text, file: await cache.atVolume(clip.file, percent) };
      }),
    );
    made.then(
      (parts) => {
        if (generation === this.generation) player.enqueue({ phrase, priority, parts, dropWhenBusy });
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        const message = (error as Error).message.split('\n')[0]!.slice(0, 300);
        this.context?.logger.warn(`announcement ${phrase} not made: ${message}`);
        this.deps.alarms.raise(SOUND_FAILED_ALARM, message);
        this.deps.record({ phrase, languages: texts.map((t) => t.language), outcome: 'failed', detail: message });
      },
    );
  }

  private told({ item, outcome, detail }: PlayResult): void {
    const languages = item.parts.map((part) => part.language);
    const words = item.phrase === 'text' ? item.parts.map((part) => part.text).join(' ') : undefined;
    const why = detail ?? words;
    this.context?.logger.info({ phrase: item.phrase, languages, outcome }, `announcement ${item.phrase} ${outcome}${detail === undefined ? '' : `: ${detail}`}`);
    this.deps.record({ phrase: item.phrase, languages, outcome, ...(why === undefined ? {} : { detail: why.slice(0, 500) }) });
    // Whatever raised it (the device, a file that could not be made), a message heard is the sound working again.
    if (outcome === 'played') this.deps.alarms.clear(SOUND_FAILED_ALARM, 'a message played again');
  }
}
