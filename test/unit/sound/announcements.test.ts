// The announcements extension on a real bus with a TestClock: what happens at the branch becomes which message, in
// the policy's languages (Welsh then English here), printed by the print driver; and with aplay (a fake child) a
// device that cannot be opened is the sound-failed alarm, cleared when a message plays again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../gateway/core/bus.js';
import type { AccessOutcome } from '../../../gateway/core/bus.js';
import type { AlarmName, LoggedEvent } from '../../../gateway/core/model.js';
import { AnnouncementsExtension, volumeAt } from '../../../gateway/extensions/announcements.js';
import { SoundConfigSchema } from '../../../gateway/sound/config.js';
import type { ToolRunner } from '../../../gateway/sound/prepare.js';
import type { Policy, PolicyInput } from '../../../policies/index.js';
import { extensionContext } from '../../helpers/extension-context.js';
import { TestClock } from '../../helpers/test-clock.js';
import { until } from '../../helpers/until.js';
import { policyOf } from '../policies/helpers.js';
import { fakeAplay } from './fake-aplay.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function policyWith(announcements: PolicyInput['announcements'], schedule: PolicyInput['schedule'] = { weekly: {} }): Policy {
  return policyOf({ site: 'town', schedule, announcements });
}

function grant(role: 'entry' | 'exit', mode: 'open-access' | 'staffed'): AccessOutcome {
  return { decision: { allow: true, reason: 'member', mode } as AccessOutcome['decision'], role, door: 'main', person: 'p1', seenAt: 0n, decidedAt: 0n, relayAt: 0n };
}

function branch(
  options: { driver?: 'print' | 'aplay'; announcements?: PolicyInput['announcements']; schedule?: PolicyInput['schedule']; spawn?: ReturnType<typeof fakeAplay>['spawn']; run?: ToolRunner } = {},
) {
  const bus = new EventBus();
  const clock = new TestClock(Date.parse('2026-03-24T10:00:00Z'));
  const active = new Set<AlarmName>();
  const told: Array<[string, AlarmName, string | undefined]> = [];
  const alarms = {
    raise: (alarm: AlarmName, detail?: string) => {
      if (active.has(alarm)) return;
      active.add(alarm);
      told.push(['raise', alarm, detail]);
      bus.emit('alarm', { alarm, raised: true });
    },
    clear: (alarm: AlarmName, detail?: string) => {
      if (!active.delete(alarm)) return;
      told.push(['clear', alarm, detail]);
      bus.emit('alarm', { alarm, raised: false });
    },
    has: (alarm: AlarmName) => active.has(alarm),
  };
  const lines: string[] = [];
  const events: Array<{ phrase: string; languages: string[]; outcome: string; detail?: string | undefined }> = [];
  const cacheDir = mkdtempSync(join(tmpdir(), 'oag-sounds-'));
  dirs.push(cacheDir);
  const policy = policyWith(options.announcements ?? { languages: ['cy', 'en'], welcome: true }, options.schedule);
  const extension = new AnnouncementsExtension({
    config: { ...SoundConfigSchema.parse({ cacheDir }), driver: options.driver ?? 'print' },
    clock,
    policy: () => policy,
    alarms,
    record: (event) => void events.push(event),
    print: (line) => void lines.push(line),
    spawn: options.spawn,
    run: options.run,
  });
  const { context } = extensionContext('announcements', bus);
  return { bus, clock, alarms, told, lines, events, extension, context, spoken: () => lines.map((line) => line.slice(0, 40)) };
}

describe('the announcements extension', () => {
  it('says a closing warning in Welsh then English, with the minutes in words', async () => {
    const b = branch();
    await b.extension.start(b.context);
    b.bus.emit('closing-warning', { minutesLeft: 15 });
    expect(b.lines).toEqual([
      "🔊 [cy] Mae'r llyfrgell yn cau mewn pymtheg munud. Paratowch i adael, os gwelwch yn dda.",
      '🔊 [en] The library closes in fifteen minutes. Please get ready to leave.',
    ]);
    expect(b.events).toEqual([{ phrase: 'closing-soon', languages: ['cy', 'en'], outcome: 'printed' }]);
  });

  it('turns the close, the people left inside, a held door and an acknowledged help call into their messages', async () => {
    const b = branch({ announcements: { languages: ['en'] } });
    await b.extension.start(b.context);
    b.bus.emit('schedule-mode', { from: 'open-access', to: 'closed', until: null });
    b.bus.emit('schedule-mode', { from: 'staffed', to: 'closed', until: null });
    b.alarms.raise('people-inside-after-close');
    b.alarms.raise('held-open');
    b.bus.emit('event-logged', { type: 'staff', action: 'help-acknowledged', actor: 'central', text: 'Sam' } as unknown as LoggedEvent);
    b.bus.emit('booking-ending', { minutes: 10 });
    expect(b.events.map((e) => e.phrase)).toEqual(['closing-now', 'please-leave', 'door-held', 'help-acknowledged', 'booking-ending']);
    expect(b.lines.at(-1)).toBe('🔊 [en] Your booking ends in ten minutes. Please get ready to leave.');
  });

  it('says the evacuation while the fire alarm lasts, again every minute, and stops when it clears', async () => {
    const b = branch({ announcements: { languages: ['en'] } });
    await b.extension.start(b.context);
    b.alarms.raise('fire');
    b.clock.advance(60_000);
    b.clock.advance(60_000);
    expect(b.events.map((e) => e.phrase)).toEqual(['evacuate', 'evacuate', 'evacuate']);
    b.alarms.clear('fire');
    b.clock.advance(180_000);
    expect(b.events).toHaveLength(3);
    expect(b.lines[0]).toMatch(/^🔊 \[en\] Attention please\. The fire alarm has sounded/);
  });

  it('greets an open-access entry at most once in ten seconds, and never an exit or a staffed-hours entry', async () => {
    const b = branch({ announcements: { languages: ['en'], welcome: true } });
    await b.extension.start(b.context);
    b.bus.emit('access', grant('entry', 'open-access'));
    b.clock.advance(5_000);
    b.bus.emit('access', grant('entry', 'open-access'));
    b.bus.emit('access', grant('exit', 'open-access'));
    b.bus.emit('access', grant('entry', 'staffed'));
    b.clock.advance(5_000);
    b.bus.emit('access', grant('entry', 'open-access'));
    expect(b.lines).toEqual(['🔊 [en] Welcome to the library.', '🔊 [en] Welcome to the library.']);
  });

  it('greets nobody when the policy does not ask for it', async () => {
    const b = branch({ announcements: { languages: ['en'] } });
    await b.extension.start(b.context);
    b.bus.emit('access', grant('entry', 'open-access'));
    expect(b.lines).toEqual([]);
  });

  it('says a refusal only where the policy allows it, in the door screen’s words, and not again within five seconds', async () => {
    const refusal = (reason: string): AccessOutcome => ({
      decision: { allow: false, reason, mode: 'open-access' } as AccessOutcome['decision'],
      role: 'entry',
      door: 'main',
      person: 'p1',
      seenAt: 0n,
      decidedAt: 0n,
      relayAt: null,
    });
    const quiet = branch({ announcements: { languages: ['en'] } });
    await quiet.extension.start(quiet.context);
    quiet.bus.emit('access', refusal('expired'));
    // Others may be listening: by default a refusal is only the sounder's tone.
    expect(quiet.lines).toEqual([]);

    const aloud = branch({ announcements: { languages: ['en'], speakRefusals: true } });
    await aloud.extension.start(aloud.context);
    aloud.bus.emit('access', refusal('expired'));
    aloud.bus.emit('access', refusal('expired'));
    aloud.clock.advance(5_000);
    aloud.bus.emit('access', refusal('full'));
    expect(aloud.lines).toEqual([
      '🔊 [en] Your membership has expired. Renew online or at the counter.',
      '🔊 [en] The library is full. Please try again in a few minutes.',
    ]);
  });

  it('says what staff asked for: a phrase by its id in every language, typed words as typed', async () => {
    const b = branch();
    await b.extension.start(b.context);
    b.bus.emit('announce', { text: 'closing-now', actor: 'central:ana' });
    b.bus.emit('announce', { text: 'The toilets are closed today.', actor: 'console:bo' });
    expect(b.lines).toEqual([
      "🔊 [cy] Mae'r llyfrgell ar gau nawr. Gadewch yr adeilad drwy'r prif ddrws, os gwelwch yn dda.",
      '🔊 [en] The library is now closed. Please leave the building by the main door.',
      '🔊 [cy] The toilets are closed today.',
    ]);
    expect(b.events.at(-1)).toEqual({ phrase: 'text', languages: ['cy'], outcome: 'printed', detail: 'The toilets are closed today.' });
  });

  it('says the minutes left when staff ask for closing-soon, and nothing when there are none to say', async () => {
    // Tuesday 10:00 (GMT), open access until 10:12.
    const open = branch({ announcements: { languages: ['en'] }, schedule: { weekly: { tue: [{ from: '08:00', to: '10:12', mode: 'open-access' }] } } });
    await open.extension.start(open.context);
    open.bus.emit('announce', { text: 'closing-soon', actor: 'central:ana' });
    expect(open.lines).toEqual(['🔊 [en] The library closes in twelve minutes. Please get ready to leave.']);

    const closed = branch({ announcements: { languages: ['en'] } });
    await closed.extension.start(closed.context);
    closed.bus.emit('announce', { text: 'closing-soon', actor: 'central:ana' });
    closed.bus.emit('announce', { text: 'booking-ending', actor: 'central:ana' });
    expect(closed.lines).toEqual([]);
    expect(closed.events.map((e) => `${e.phrase} ${e.outcome}: ${e.detail ?? ''}`)).toEqual([
      'closing-soon failed: the branch is not in open access, so there are no minutes left to say',
      'booking-ending failed: no booking is in force, so there are no minutes left to say',
    ]);
  });

  it('stops listening when stopped', async () => {
    const b = branch();
    await b.extension.start(b.context);
    await b.extension.stop();
    b.bus.removeOwner('announcements');
    b.bus.emit('closing-warning', { minutesLeft: 5 });
    expect(b.lines).toEqual([]);
  });

  it('with aplay, raises sound-failed when the device cannot be opened and clears it when a message plays', async () => {
    const aplay = fakeAplay();
    const made: string[][] = [];
    const run: ToolRunner = async (command, args) => {
      made.push([command, ...args]);
      const out = command === 'espeak-ng' ? args[args.indexOf('-w') + 1]! : args[1]!;
      writeFileSync(out, `RIFF ${command}`);
      return { stdout: '', stderr: '' };
    };
    const b = branch({ driver: 'aplay', announcements: { languages: ['cy', 'en'] }, spawn: aplay.spawn, run });
    await b.extension.start(b.context);
    b.alarms.raise('held-open');
    await until(() => aplay.running() !== undefined, 'aplay to start');
    expect(aplay.running()!.file).toMatch(/door-held-cy-[0-9a-f]{16}\.wav$/);
    aplay.running()!.exit(1, 'aplay: main:831: audio open error: No such file or directory\n');
    expect(b.told).toContainEqual(['raise', 'sound-failed', 'the default sound device: aplay: main:831: audio open error: No such file or directory']);
    expect(b.events.at(-1)).toMatchObject({ phrase: 'door-held', outcome: 'failed', detail: 'aplay: main:831: audio open error: No such file or directory' });
    b.bus.emit('closing-warning', { minutesLeft: 5 });
    await until(() => aplay.running() !== undefined, 'aplay to start again');
    aplay.running()!.exit(0);
    aplay.running()!.exit(0);
    expect(b.told.at(-1)).toEqual(['clear', 'sound-failed', 'a message played again']);
    expect(b.events.at(-1)).toEqual({ phrase: 'closing-soon', languages: ['cy', 'en'], outcome: 'played' });
    // The espeak-ng voices: Welsh's and British English's.
    expect(made.filter(([command]) => command === 'espeak-ng').map((args) => args[args.indexOf('-v') + 1])).toContain('cy');
    expect(made.filter(([command]) => command === 'espeak-ng').map((args) => args[args.indexOf('-v') + 1])).toContain('en-gb');
  });
});

describe('the volume by time of day', () => {
  const volume = [
    { from: '08:00', percent: 80 },
    { from: '20:00', percent: 30 },
  ];
  it('is the last setting at or before the local time, the day’s last before the first', () => {
    expect(volumeAt(volume, 'Europe/London', new Date('2026-07-01T07:30:00Z'))).toBe(80); // 08:30 BST
    expect(volumeAt(volume, 'Europe/London', new Date('2026-07-01T06:30:00Z'))).toBe(30); // 07:30 BST
    expect(volumeAt(volume, 'Europe/London', new Date('2026-07-01T19:00:00Z'))).toBe(30); // 20:00 BST
    expect(volumeAt(undefined, 'Europe/London', new Date())).toBe(100);
  });
});
