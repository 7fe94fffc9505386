// `npm start`: central with its embedded broker and three simulated branches replaying a day, told in the
// terminal as it happens, with the dashboard (and each branch's console) open in a browser beside it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { pino } from 'pino';
import { parseCentralConfig, startCentral } from '../../central/main.js';
import type { RunningCentral } from '../../central/main.js';
import { generatePassword, writePasswordFile } from '../../central/mqtt-passwords.js';
import { makeSigningKeyFiles } from '../../central/signing-key.js';
import { scaledClock } from '../../gateway/core/clock.js';
import type { Clock, Timer } from '../../gateway/core/clock.js';
import { textsFor } from '../../gateway/sound/phrases.js';
import { bookingsBetween, transitionsBetween } from '../../policies/index.js';
import type { DemoBranch, DemoBuilding, DemoSound } from './branch.js';
import { startDemoBranch } from './branch.js';
import { BuildingLog } from './building.js';
import { replayDay } from './day.js';
import type { DayReplay } from './day.js';
import { checkSound } from './sound.js';
import { describeEvent } from './story.js';
import { buildingLines, centralFiguresFor, endOfDayLines } from './summary.js';
import type { CentralFigures } from './summary.js';

export interface DemoOptions {
  speed: number;
  members: number;
  visits: number;
  /** Local date of the replayed day (a Tuesday shows every mode and the hub's scout booking). */
  date: string;
  keep: boolean;
  /** Run central with its embedded broker and connect the branches to it. */
  central: boolean;
  /** Central's dashboard port (falls back to a free one when taken). */
  httpPort: number;
  /** First branch console port; each branch takes the next one (falls back to free ones when taken). */
  consolePort: number;
  /** The town's announcements heard through the sound card, where there is one (else, or false, printed only). */
  sound: boolean;
}

export interface BranchPlan {
  site: string;
  policy: string;
  label: string;
  /** The partner group whose booking the day shows, if any. */
  group?: string;
  /** Card + PIN branch: the PIN the demo's visitors type. */
  pin?: string;
  /** How it counts people: a people counter at the door, or the door contact alone. */
  counting: 'counter' | 'contact';
  motion?: boolean;
  /** A meeting-room door of its own that its group's booking opens (and the main door does not). */
  meetingRoom?: boolean;
  /** Its switched outputs, intruder alarm panel and announcements. */
  building: DemoBuilding;
  /** The branch whose announcements are heard when the machine has a sound card (one: three at once are noise). */
  heard?: boolean;
}

/** The modes in which a branch is open, staffed or not: the PCs and the heating follow the whole run of them. */
const OPEN: Array<'staffed' | 'open-access' | 'changeover'> = ['staffed', 'open-access', 'changeover'];
/** On 10 minutes before the first opening, off 15 minutes before the close: time to save and log off. */
const PCS = { id: 'pcs', label: 'Public PCs', windows: [{ during: OPEN, fromMinutes: -10, untilMinutes: -15 }] };
/** Warm an hour before the first opening, until the close. */
const HEATING = { id: 'heating', label: 'Heating', windows: [{ during: OPEN, fromMinutes: -60 }] };
/** Only while nobody is at the counter. */
const KIOSK = { id: 'kiosk', label: 'Self-service kiosk', windows: [{ during: ['open-access' as const] }] };

const examples = fileURLToPath(new URL('../../policies/examples/', import.meta.url));
export const BRANCHES: readonly BranchPlan[] = [
  // Three ways of counting: a people counter; card + PIN through a door contact; a door contact with a motion sensor.
  { site: 'town-central', policy: join(examples, 'town.yaml'), label: 'town', counting: 'counter', heard: true, building: { outputs: [PCS, HEATING], announcements: { languages: ['en'] } } },
  {
    site: 'little-wickham',
    policy: join(examples, 'village.yaml'),
    label: 'village',
    pin: '2468',
    counting: 'contact',
    building: { outputs: [PCS], announcements: { languages: ['en'], welcome: true } },
  },
  {
    site: 'riverside-hub',
    policy: join(examples, 'hub.yaml'),
    label: 'hub',
    group: '1st-riverside-scouts',
    counting: 'contact',
    motion: true,
    meetingRoom: true,
    // A bilingual branch: Welsh first, then English.
    building: { outputs: [PCS, KIOSK], announcements: { languages: ['cy', 'en'] } },
  },
];
export const TIMEZONE = 'Europe/London';

/** A branch's day of visitors from `start` to `end`: the evening close and its group's booking from its policy. */
export function replayBranchDay(branch: DemoBranch, plan: BranchPlan, day: { clock: Clock; start: Date; end: Date; visits: number; seed: number }): DayReplay {
  const policy = branch.running.gateway.policies.current;
  const minuteOf = (at: Date): number => (at.getTime() - day.start.getTime()) / 60_000;
  const lastClose = transitionsBetween(policy, day.start, day.end)
    .filter((t) => t.from === 'open-access' && t.to === 'closed')
    .at(-1);
  const booking = plan.group === undefined ? undefined : bookingsBetween(policy, day.start, day.end).find((b) => b.group === plan.group);
  // The group goes to the first door its booking names (a booking that names none opens the main door too).
  const door = policy.bookings.find((b) => b.group === plan.group)?.doors?.[0];
  return replayDay({
    branch,
    clock: day.clock,
    dayMinutes: minuteOf(day.end),
    visits: day.visits,
    seed: day.seed,
    closeAtMinute: lastClose === undefined ? undefined : minuteOf(lastClose.at),
    group:
      booking === undefined
        ? undefined
        : { cards: branch.groups[booking.group] ?? [], fromMinute: minuteOf(booking.from), toMinute: minuteOf(booking.to), door },
  });
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const start = DateTime.fromISO(`${options.date}T07:30`, { zone: TIMEZONE });
  const end = DateTime.fromISO(`${options.date}T21:30`, { zone: TIMEZONE });
  if (!start.isValid) throw new Error(`--date: not a date: ${options.date}`);
  const dayMinutes = end.diff(start, 'minutes').minutes;
  const clock = scaledClock(start.toJSDate(), options.speed);
  const dir = mkdtempSync(join(tmpdir(), 'oag-demo-'));
  const branches: DemoBranch[] = [];
  let central: RunningCentral | undefined;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);

  out(`Open Access gateway demo: ${start.toFormat('cccc d LLLL yyyy')}, ${BRANCHES.length} branches on simulated hardware`);
  const sound = options.sound ? checkSound() : { heard: false as const, why: 'sound turned off (--quiet or OAG_DEMO_SOUND=0)' };
  const heardAt = BRANCHES.find((plan) => plan.heard === true)?.label;
  out(
    !sound.heard
      ? `  Announcements: printed in the story, not heard: ${sound.why}`
      : `  Announcements: heard at the ${heardAt ?? 'first'} branch through the sound card (espeak-ng), printed for the others (--quiet: printed only)`,
  );
  const timeNow = (): string => DateTime.fromJSDate(clock.now(), { zone: TIMEZONE }).toFormat('ccc HH:mm');
  const soundFor = (plan: BranchPlan): DemoSound => {
    if (sound.heard && plan.heard === true) return { driver: 'aplay' };
    // A greeting at every entry would drown the story: its words are printed the first time, and said every time.
    const welcome = new Set(textsFor('welcome', {}, { languages: [...plan.building.announcements.languages] }).map(({ language, text }) => `🔊 [${language}] ${text}`));
    const greeted = new Set<string>();
    return {
      driver: 'print',
      onWords: (words) => {
        if (greeted.has(words)) return;
        if (welcome.has(words)) greeted.add(words);
        out(`[${plan.label.padEnd(7)}] ${timeNow()}  ${words}${welcome.has(words) ? '   (said at each entry in open access; printed once)' : ''}`);
      },
    };
  };
  const buildingLogs: BuildingLog[] = [];
  let stopping = false;
  const replays: DayReplay[] = [];
  let statusTimer: Timer | undefined;
  // Stopping waits for a branch that is still starting, so that nothing is left running behind the exit.
  let starting: Promise<unknown> = Promise.resolve();
  let stopped: Promise<boolean> | undefined;
  let stage = 'waiting for a branch to finish starting';
  const stopAll = (): Promise<boolean> => (stopped ??= stopEverything());
  const stopEverything = async (): Promise<boolean> => {
    stopping = true;
    // The visitors go first: a tap on a branch that is already stopped would throw from its closed outputs.
    for (const replay of replays) replay.cancel();
    clock.clearTimeout(statusTimer);
    clock.stop();
    await starting.catch(() => undefined);
    let clean = true;
    const attempt = async (what: string, step: () => Promise<void> | void): Promise<void> => {
      stage = what;
      try {
        await step();
      } catch (error) {
        clean = false;
        out(`  ${what}: ${(error as Error).message}`);
      }
    };
    for (const branch of branches) await attempt(`stopping ${branch.site}`, () => branch.stop());
    const running = central;
    if (running !== undefined) await attempt('stopping central', () => running.close());
    if (!options.keep) await attempt('removing the demo folder', () => rmSync(dir, { recursive: true, force: true }));
    else out(`Kept the demo's files in ${dir}`);
    return clean;
  };
  stopOnSignals({
    stop: async () => {
      out('\nStopping: outputs to their safe state, stores closed. Ctrl-C again to quit at once.');
      return stopAll();
    },
    abandon: () => {
      for (const branch of branches) branch.running.hardware.allSafe();
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
    },
    stage: () => stage,
    out,
  });

  let mqtt: { url: string; protocolVersion: 4 | 5; reconnectPeriodMs: number; centralKeys: string[] } | undefined;
  // Every branch logs in to the broker with a password made for this run, in the demo's folder.
  const mqttPasswordFile = join(dir, 'mqtt-passwords');
  const mqttPasswords = Object.fromEntries(BRANCHES.map((plan) => [plan.site, generatePassword()]));
  await writePasswordFile(mqttPasswordFile, mqttPasswords);
  // Central signs what it sends with a key made for this run; each branch holds its public key, as from install.
  const signing = makeSigningKeyFiles(dir);
  if (options.central) {
    const started = startCentralOnPort(options.httpPort, dir, { signingKeyFile: signing.keyFile, mqttPasswordFile }, clock).then((running) => {
      central = running;
      return running;
    });
    starting = started;
    const running = await started;
    if (stopping) return;
    mqtt = { url: running.brokerUrl, protocolVersion: running.mqttProtocolVersion, reconnectPeriodMs: 500, centralKeys: [signing.publicFile] };
    // An administrator for the dashboard, printed here: a fresh password each run (the demo's store is new too).
    const login = { username: 'admin', password: `demo-${randomBytes(6).toString('hex')}` };
    await running.auth.accounts.add(login.username, 'administrator', login.password);
    out(`  Central dashboard: ${running.httpUrl} (demo sign-in: ${login.username} / ${login.password})`);
    // Only central may read every topic; its login is made fresh for each run, so showing it here gives nothing away.
    const watch = running.embeddedLogin;
    out(
      `  MQTT broker (embedded): ${running.brokerUrl}   e.g. mosquitto_sub -h 127.0.0.1 -p ${new URL(running.brokerUrl).port} -u ${watch?.username} -P ${watch?.password} -t 'oa/v1/#' -v`,
    );
  }

  for (const [index, plan] of BRANCHES.entries()) {
    const started = startDemoBranch({
      site: plan.site,
      policyFile: plan.policy,
      dir: join(dir, plan.site),
      members: options.members,
      seed: index + 1,
      clock,
      mqtt: mqtt && { ...mqtt, username: plan.site, password: mqttPasswords[plan.site] },
      // Port 0: each console on a free port of its own.
      http: { port: options.consolePort === 0 ? 0 : options.consolePort + index },
      pin: plan.pin,
      counting: plan.counting,
      motion: plan.motion,
      meetingRoomFor: plan.meetingRoom === true ? plan.group : undefined,
      building: plan.building,
      sound: soundFor(plan),
    }).then((branch) => {
      branches.push(branch);
      buildingLogs.push(new BuildingLog(branch));
      return branch;
    });
    starting = started;
    const branch = await started;
    if (stopping) return;
    const { gateway } = branch.running;
    const stats = branch.running.store.members.stats();
    const outputs = (gateway.state.outputs ?? []).map((output) => `${output.label ?? output.id} ${output.on ? 'on' : 'off'}`).join(', ');
    out(`  ${plan.site}: ${stats.count} members, policy v${gateway.policies.current.version}, ${gateway.mode} now${outputs === '' ? '' : `; ${outputs}`}`);
    if (branch.running.api !== undefined) {
      out(`    console: ${branch.running.api.url}/console/${branch.login === undefined ? '' : `  (demo login: ${branch.login.username} / ${branch.login.password})`}`);
    }
    gateway.bus.on('event-logged', (event) => {
      const line = describeEvent(event, TIMEZONE, `[${plan.label.padEnd(7)}] `, branch.outputLabels);
      if (line !== undefined) out(line);
      // After the close, the one who empties the building: the alarm follows once it has been quiet.
      if (event.type === 'occupancy' && event.change === 'exit' && event.inside === 0 && gateway.mode === 'closed') {
        out(`[${plan.label.padEnd(7)}] ${timeNow()}  🚶 the last person has left: ${insideText(gateway)} inside`);
      }
    });
  }
  out(`Replaying ${start.toFormat('HH:mm')}–${end.toFormat('HH:mm')} at ${options.speed}× real time (about ${Math.round((dayMinutes * 60) / options.speed)} s). Ctrl-C stops it.`);

  // On the hour, a status line per branch: how many are inside, the mode, the door, the lights.
  const statusEvery = (): void => {
    if (stopping) return;
    for (const [index, branch] of branches.entries()) {
      const { gateway } = branch.running;
      const time = DateTime.fromJSDate(clock.now(), { zone: TIMEZONE }).toFormat('ccc HH:mm');
      out(`[${BRANCHES[index]!.label.padEnd(7)}] ${time}  · ${insideText(gateway)} inside, ${gateway.mode}, door ${gateway.door.state}, lights ${gateway.lights.on ? 'on' : 'off'}`);
    }
    statusTimer = clock.setTimeout(statusEvery, 3_600_000);
  };
  statusTimer = clock.setTimeout(statusEvery, start.plus({ hours: 1 }).startOf('hour').diff(start).as('milliseconds'));

  clock.run();
  const dayReplays = branches.map((branch, index) =>
    replayBranchDay(branch, BRANCHES[index]!, { clock, start: start.toJSDate(), end: end.toJSDate(), visits: options.visits, seed: 100 + index }),
  );
  replays.push(...dayReplays);
  await Promise.all(replays.map((replay) => replay.done));
  if (stopping) return;
  // The day is over: its end is where the dashboard, the branch pages and Figures stay, so that they show that day.
  clock.pause();
  out('');
  out(central === undefined ? 'End of the day: what the visitors did' : "End of the day: what the visitors did, and what central's Figures page says for the day");
  const running = central;
  const viewer = (await running?.auth.tokens.create({ name: 'demo-terminal', role: 'viewer', expiresDays: 1 }, 'demo'))?.token;
  const get = async (path: string): Promise<unknown> => {
    const res = await fetch(`${running!.httpUrl}/api${path}`, { headers: { authorization: `Bearer ${viewer}` } });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  };
  if (running !== undefined) await untilCentralHasAll(get, branches);
  for (const [index, branch] of branches.entries()) {
    const plan = BRANCHES[index]!;
    let figures: CentralFigures | undefined;
    if (running !== undefined) {
      figures = await centralFiguresFor(get, branch.site, options.date).catch((error: unknown) => {
        out(`  ${branch.site}: central's figures could not be read: ${(error as Error).message}`);
        return undefined;
      });
    }
    for (const line of endOfDayLines(branch.site, replays[index]!.truth, plan.counting, figures)) out(line);
    for (const line of buildingLines(buildingLogs[index]!, replays[index]!.truth, branch.outputLabels, TIMEZONE)) out(line);
    const { gateway } = branch.running;
    const secured = gateway.state.secured === undefined ? '' : gateway.state.secured ? ', secured for the night' : ', NOT secured';
    out(`    now: ${insideText(gateway)} inside, lights ${gateway.lights.on ? 'on' : 'off'}${secured}, alarms: ${gateway.alarms.list().join(', ') || 'none'}`);
  }
  if (central === undefined) {
    // Nothing is left to look at: stop as Ctrl-C would, and say so if something did not stop cleanly.
    if (!(await stopAll())) process.exitCode = 1;
    return;
  }
  out('');
  out(`The day is over and its clock stopped at ${end.toFormat('HH:mm')}; the dashboard (${central.httpUrl}) and the consoles stay up, showing it. Ctrl-C stops the demo.`);
}

/** "3", or "≈ 3 (estimated)" when the branch could not see every change. */
function insideText(gateway: DemoBranch['running']['gateway']): string {
  const { inside, confidence } = gateway.occupancy;
  return confidence === 'estimated' ? `≈ ${inside} (estimated)` : String(inside);
}

/** Waits (5 s at most) until central has stored every event the branches logged: the last are still on their way. */
async function untilCentralHasAll(get: (path: string) => Promise<unknown>, branches: readonly DemoBranch[]): Promise<void> {
  const deadline = performance.now() + 5000;
  const logged = (): number => branches.reduce((sum, branch) => sum + branch.running.store.events.count(), 0);
  while (performance.now() < deadline) {
    const stored = ((await get('/stats').catch(() => ({ events: 0 }))) as { events: number }).events;
    if (stored >= logged()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface SignalStop {
  /** Stops everything; resolves to whether it all stopped cleanly. */
  stop(): Promise<boolean>;
  /** What must still happen when the user will not wait: outputs to their safe state, the demo's folder removed. */
  abandon(): void;
  /** The step the stop is at, to name the one that hangs. */
  stage(): string;
  out(line: string): void;
}

/**
 * SIGINT (Ctrl-C) and SIGTERM stop the demo cleanly and exit 0; another signal while it stops exits at once.
 * One Ctrl-C can arrive twice (from the terminal and forwarded by npm), so a repeat within a moment is the same one.
 * A stop that hangs (an HTTP server waiting for a browser's live connection to end) ends the process anyway, so
 * that `npm start` never leaves a demo running behind the user's back.
 */
function stopOnSignals(demo: SignalStop): void {
  const SAME_CTRL_C_MS = 500;
  const STOP_WAIT_MS = 5000;
  let firstAt: number | undefined;
  const quit = (code: number): never => {
    demo.abandon();
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = performance.now();
    if (firstAt === undefined) {
      firstAt = now;
      setTimeout(() => {
        demo.out(`Still ${demo.stage()} after ${STOP_WAIT_MS / 1000} s: quitting anyway.`);
        quit(1);
      }, STOP_WAIT_MS).unref();
      void demo.stop().then(
        (clean) => quit(clean ? 0 : 1),
        (error: unknown) => {
          demo.out(`Stopping failed: ${(error as Error).message}`);
          quit(1);
        },
      );
      return;
    }
    if (now - firstAt < SAME_CTRL_C_MS) return;
    demo.out(`${signal} again: quitting without waiting.`);
    quit(130);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, onSignal);

  // Under `npm start` a shell sits between npm and the demo. npm forwards a SIGTERM to that shell, which dies of it
  // and leaves the demo running with nobody to stop it: a demo whose parent is gone stops as if it had the signal.
  const parent = process.ppid;
  const orphaned = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphaned);
    demo.out('\nThe process that started the demo is gone.');
    onSignal('SIGTERM');
  }, 1000).unref();
}

export async function startCentralOnPort(port: number, dir: string, files: { signingKeyFile: string; mqttPasswordFile: string }, clock: Clock): Promise<RunningCentral> {
  const start = (httpPort: number): Promise<RunningCentral> =>
    startCentral(
      parseCentralConfig({
        embedded: { port: 0, passwordFile: files.mqttPasswordFile },
        http: { port: httpPort },
        store: { path: join(dir, 'central.sqlite') },
        signing: { keyFile: files.signingKeyFile },
        log: { level: 'silent' },
        // The dashboard groups a county's branches by region and calls each by its name.
        sites: {
          'town-central': { name: 'Town Central Library', region: 'Northshire' },
          'little-wickham': { name: 'Little Wickham Library', region: 'Northshire' },
          'riverside-hub': { name: 'Riverside Hub', region: 'Riverside' },
        },
      }),
      {
        clock,
        // The day runs many times faster than real time; a sign-in must still last hours of it.
        sessionClock: { now: () => new Date() },
        logger: pino({ level: 'silent' }),
      },
    );
  try {
    return await start(port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    return start(0);
  }
}
