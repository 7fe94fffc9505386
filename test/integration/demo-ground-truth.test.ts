// Ground truth: the demo's day, replayed through three real gateways (a people counter; card + PIN through a door
// contact; a door contact with a motion sensor) into central over its embedded broker. The visitor script writes
// down what really happened as it plays it; every figure central's API gives for the day must equal that record.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { activeBookings, bookingsBetween, transitionsBetween } from '../../policies/index.js';
import type { Policy } from '../../policies/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisitRow } from '../../central/figures.js';
import type { RunningCentral } from '../../central/main.js';
import { generatePassword, writePasswordFile } from '../../central/mqtt-passwords.js';
import { makeSigningKeyFiles } from '../../central/signing-key.js';
import { MEETING_ROOM, startDemoBranch } from '../../scripts/demo/branch.js';
import type { DemoBranch } from '../../scripts/demo/branch.js';
import { BuildingLog } from '../../scripts/demo/building.js';
import type { DayReplay } from '../../scripts/demo/day.js';
import { BRANCHES, replayBranchDay, startCentralOnPort, TIMEZONE } from '../../scripts/demo/run.js';
import { centralHeaders } from '../helpers/central-auth.js';
import { TestClock } from '../helpers/test-clock.js';
import { until } from '../helpers/until.js';

const DAY = '2026-11-24';
const start = DateTime.fromISO(`${DAY}T07:30`, { zone: TIMEZONE });
const end = DateTime.fromISO(`${DAY}T21:30`, { zone: TIMEZONE });
const STEP_MS = 1000;
/** A panel's entry time: from the door on its entry route to the code typed at its keypad. */
const ENTRY_TIME_MS = 30_000;


/** Each branch, once a minute of the day: who was really inside, and what the branch showed. */
interface Sample {
  at: string;
  mode: string;
  really: number;
  inside: number;
  confidence: string;
  lights: boolean;
  alarms: string[];
}
const samples: Sample[][] = [];

let dir: string;
let clock: TestClock;
let central: RunningCentral;
const branches: DemoBranch[] = [];
const replays: DayReplay[] = [];
const buildings: BuildingLog[] = [];
/** Each branch's announcements as the print driver said them: `🔊 [cy] …`, one line per language, in order. */
const spoken: Array<Array<{ at: Date; line: string }>> = [];

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${central.httpUrl}/api${path}`, { headers: await centralHeaders(central, 'viewer') });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oag-ground-truth-'));
  clock = new TestClock(start.toMillis());
  const passwordFile = join(dir, 'mqtt-passwords');
  const passwords = Object.fromEntries(BRANCHES.map((plan) => [plan.site, generatePassword()]));
  await writePasswordFile(passwordFile, passwords);
  const signing = makeSigningKeyFiles(dir);
  central = await startCentralOnPort(0, dir, { signingKeyFile: signing.keyFile, mqttPasswordFile: passwordFile }, clock);
  for (const [index, plan] of BRANCHES.entries()) {
    branches.push(
      await startDemoBranch({
        site: plan.site,
        policyFile: plan.policy,
        dir: join(dir, plan.site),
        members: 3000,
        seed: index + 1,
        clock,
        mqtt: {
          url: central.brokerUrl,
          protocolVersion: central.mqttProtocolVersion,
          reconnectPeriodMs: 1000,
          centralKeys: [signing.publicFile],
          username: plan.site,
          password: passwords[plan.site],
        },
        pin: plan.pin,
        counting: plan.counting,
        motion: plan.motion,
        meetingRoomFor: plan.meetingRoom === true ? plan.group : undefined,
        building: plan.building,
        sound: { driver: 'print', onWords: (line) => (spoken[index] ??= []).push({ at: clock.now(), line }) },
      }),
    );
  }
  for (const [index, branch] of branches.entries()) {
    buildings.push(new BuildingLog(branch));
    replays.push(replayBranchDay(branch, BRANCHES[index]!, { clock, start: start.toJSDate(), end: end.toJSDate(), visits: 90, seed: 100 + index }));
  }
  // The day, a second at a time: a PIN is checked on the thread pool, and each step waits for those answers and for
  // the sockets before the clock moves on, so that the day runs as it would in real time, only faster.
  const steps = end.diff(start).as('milliseconds') / STEP_MS;
  for (let i = 0; i < steps; i += 1) {
    clock.advance(STEP_MS);
    await Promise.all(branches.map((branch) => branch.running.gateway.access.pinChecksDone()));
    if (i % 60 === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      branches.forEach((branch, index) => {
        const { gateway } = branch.running;
        (samples[index] ??= []).push({
          at: DateTime.fromJSDate(clock.now(), { zone: TIMEZONE }).toFormat('HH:mm'),
          mode: gateway.mode,
          really: replays[index]!.truth.inside,
          inside: gateway.occupancy.inside,
          confidence: gateway.occupancy.confidence,
          lights: gateway.lights.on,
          alarms: gateway.alarms.list(),
        });
      });
    }
  }
  await Promise.all(replays.map((replay) => replay.done));
  // Everything each branch logged has reached central.
  const logged = (): number => branches.reduce((sum, branch) => sum + branch.running.store.events.count(), 0);
  let stored = 0;
  await until(
    async () => (stored = (await api<{ events: number }>('/stats')).events) === logged(),
    () => `every branch event stored at central (${stored} of ${logged()}; unsent ${branches.map((b) => b.running.store.events.countUnpublished()).join(', ')})`,
    60_000,
  );
}, 600_000);

afterAll(async () => {
  for (const replay of replays) replay.cancel();
  for (const branch of branches) await branch.stop();
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `HH:mm` minus `minutes`, within the day. */
function minus(hhmm: string, minutes: number): string {
  return DateTime.fromFormat(hhmm, 'HH:mm').minus({ minutes }).toFormat('HH:mm');
}

describe.each(BRANCHES.map((plan, index) => ({ plan, index })))('the replayed day at $plan.site ($plan.counting)', ({ plan, index }) => {
  const truth = () => replays[index]!.truth;
  const query = (figure: string, by = 'day'): string => `/figures/${figure}?from=${DAY}&to=${DAY}&by=${by}&site=${plan.site}`;

  it('has visitors and refusals to compare', () => {
    if (process.env.SHOW_TRUTH) console.log(plan.site, truth().visits(), Object.fromEntries(truth().refusals), truth().tailgates, truth().ageBands(), truth().inside, truth().exitPressesWithoutExit);
    expect(truth().entries.length).toBeGreaterThan(20);
    expect([...truth().refusals.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('counts the visits of the day, split by mode, as they happened, and says which openings it could not count', async () => {
    const { rows } = await api<{ rows: VisitRow[] }>(query('visits'));
    const played = truth().visits();
    const figure = rows[0]!;
    // A door contact cannot tell in from out while staff hold the door free: those openings are shown, not guessed.
    const countable = plan.counting === 'contact' ? { ...played, staffed: 0, total: played.total - played.staffed } : played;
    const { staffed, openAccess, booking, other, total, uncountedOpenings } = figure;
    expect({ staffed, openAccess, booking, other, total }).toEqual(countable);
    expect(uncountedOpenings).toBe(plan.counting === 'contact' ? truth().openingsWhileHeldFree : 0);
  });

  it('counts the visits of each hour as they happened', async () => {
    const { rows } = await api<{ rows: VisitRow[] }>(query('visits', 'hour'));
    const expected = [...truth().visitsByHour(TIMEZONE)]
      .map(([period, split]) => ({ period, ...split, ...(plan.counting === 'contact' ? { staffed: 0, total: split.total - split.staffed } : {}) }))
      .filter((row) => row.total > 0)
      .sort((a, b) => a.period.localeCompare(b.period));
    const counted = rows.filter((row) => row.total > 0).map(({ period, staffed, openAccess, booking, other, total }) => ({ period, staffed, openAccess, booking, other, total }));
    expect(counted).toEqual(expected);
  });

  it('counts each refusal a visitor met, by reason, and no PIN prompt as one', async () => {
    const { rows } = await api<{ rows: Array<{ reason: string; count: number }> }>(query('refusals'));
    expect(Object.fromEntries(rows.map((row) => [row.reason, row.count]))).toEqual(Object.fromEntries(truth().refusals));
  });

  it('counts tailgates on their own', async () => {
    const { rows } = await api<{ rows: Array<{ tailgates: number; extraPeople: number }> }>(query('tailgates'));
    const tailgates = rows.reduce((sum, row) => sum + row.tailgates, 0);
    expect(tailgates).toBe(truth().tailgates);
    if (plan.counting === 'counter') expect(tailgates).toBeGreaterThan(0);
  });

  it('counts entries on a card by age band', async () => {
    const { rows } = await api<{ rows: Array<{ kind: string; ageBand: string; count: number }> }>(query('grants'));
    const bands: Record<string, number> = { child: 0, adult: 0, unknown: 0 };
    for (const row of rows) bands[row.ageBand] = (bands[row.ageBand] ?? 0) + row.count;
    expect(bands).toEqual(truth().ageBands());
  });

  it('shows who is really inside all day where it can count them, and an estimate where it cannot', () => {
    const day = samples[index]!;
    const wrong = day.filter((s) => s.inside !== s.really).map((s) => `${s.at} ${s.mode}: ${s.inside} shown, ${s.really} inside`);
    if (plan.counting === 'counter' || plan.pin !== undefined) {
      expect(wrong).toEqual([]);
      expect(day.every((s) => s.confidence === 'counted')).toBe(true);
    } else {
      // Staff held the door free and walk-ins went uncounted: from then on the figure says it is an estimate.
      const afterStaffed = day.filter((s, i) => i > 0 && day[i - 1]!.mode === 'staffed' && s.mode !== 'staffed');
      expect(afterStaffed.length).toBeGreaterThan(0);
      expect(afterStaffed.every((s) => s.confidence === 'estimated')).toBe(true);
    }
  });

  it('never leaves anyone in the dark after the close, tells someone they are there, and leaves a booking alone', () => {
    const policy = branches[index]!.running.gateway.policies.current;
    const booked = (s: Sample): boolean => activeBookings(policy, DateTime.fromFormat(`${DAY} ${s.at}`, 'yyyy-MM-dd HH:mm', { zone: TIMEZONE }).toJSDate()).length > 0;
    const day = samples[index]!;
    expect(day.filter((s) => s.mode === 'closed' && s.really > 0 && !s.lights).map((s) => s.at)).toEqual([]);
    // People still inside at the close (or a booking's end): the alarm within the quiet minutes and a motion
    // sensor's next sighting, and for as long as they are there. Someone let in while closed is not left behind.
    const leftBehindSince: string[] = [];
    day.forEach((s, i) => {
      const shut = s.mode === 'closed' && !booked(s);
      const previous = i > 0 ? leftBehindSince[i - 1]! : '';
      const justShut = shut && (i === 0 || !(day[i - 1]!.mode === 'closed' && !booked(day[i - 1]!)));
      leftBehindSince.push(shut && s.really > 0 ? (justShut ? s.at : previous) : '');
    });
    const unreported = day.filter((s, i) => leftBehindSince[i] !== '' && minus(s.at, 15) >= leftBehindSince[i]! && !s.alarms.includes('people-inside-after-close'));
    expect(unreported.map((s) => s.at)).toEqual([]);
    expect(leftBehindSince.some((since) => since !== '')).toBe(true);
    // A group using the building for its booking is nobody left behind.
    expect(day.filter((s) => s.mode === 'closed' && booked(s) && s.alarms.includes('people-inside-after-close')).map((s) => s.at)).toEqual([]);
  });
});

/** The day's first opening and its last close (to closed from any open mode), and the last close of open access. */
function openingAndClose(policy: Policy): { opens: Date; closes: Date; openAccessCloses: Date | undefined } {
  const changes = transitionsBetween(policy, start.toJSDate(), end.toJSDate());
  const opens = changes.find((t) => t.from === 'closed' && t.to !== 'closed')!.at;
  const closes = changes.filter((t) => t.from !== 'closed' && t.to === 'closed').at(-1)!.at;
  const openAccessCloses = changes.filter((t) => t.from === 'open-access' && t.to === 'closed').at(-1)?.at;
  return { opens, closes, openAccessCloses };
}

const hhmm = (at: Date): string => DateTime.fromJSDate(at, { zone: TIMEZONE }).toFormat('HH:mm');
const minutesFrom = (at: Date, minutes: number): Date => new Date(at.getTime() + minutes * 60_000);

describe.each(BRANCHES.map((plan, index) => ({ plan, index })))('the building running itself at $plan.site', ({ plan, index }) => {
  const truth = () => replays[index]!.truth;
  const log = () => buildings[index]!;
  const policy = () => branches[index]!.running.gateway.policies.current;

  it('sets the intruder alarm only once the script says the last person has left, and nobody comes in while it is set', () => {
    const changes = log().panel;
    const sets = changes.filter((c) => c.action === 'set' && c.outcome === 'confirmed');
    expect(sets.length).toBeGreaterThan(0);
    // Each time the branch asked and each time the panel confirmed: nobody inside by the script's own record.
    const asked = changes.filter((c) => c.action === 'set' && c.outcome === 'requested');
    expect([...asked, ...sets].filter((c) => truth().insideAt(c.at) > 0).map((c) => `${hhmm(c.at)} ${c.outcome}: ${truth().insideAt(c.at)} inside`)).toEqual([]);
    // Whoever comes in while it is set (staff, a group's booking) unsets it at its keypad within the entry time.
    for (const set of sets) {
      const unset = changes.find((c) => c.action === 'unset' && c.outcome !== 'requested' && c.at >= set.at);
      const inWhileSet = truth().entries.filter((e) => e.at >= set.at && (unset === undefined || e.at < unset.at));
      const lateUnset = inWhileSet.filter((e) => unset === undefined || unset.at.getTime() - e.at.getTime() > ENTRY_TIME_MS);
      expect(lateUnset.map((e) => `${hhmm(e.at)} ${e.kind}`)).toEqual([]);
      if (inWhileSet.length > 0) expect(unset?.outcome).toBe('at-panel');
    }
    // The alarm is set after the close, never while the branch is open.
    const { closes } = openingAndClose(policy());
    expect(sets.filter((c) => c.at < closes).map((c) => hhmm(c.at))).toEqual([]);
    expect(changes.filter((c) => c.outcome === 'failed')).toEqual([]);
  });

  it('switches the PCs on 10 minutes before the first opening and off 15 minutes before the close', () => {
    const { opens, closes } = openingAndClose(policy());
    const pcs = log().outputs.filter((c) => c.output === 'pcs').map((c) => `${c.on ? 'on' : 'off'} ${hhmm(c.at)}`);
    expect(pcs).toEqual([`on ${hhmm(minutesFrom(opens, -10))}`, `off ${hhmm(minutesFrom(closes, -15))}`]);
  });

  it('says the closing warnings 15 and 5 minutes before open access closes (or a booking ends), in the policy\'s languages in order', () => {
    const { openAccessCloses } = openingAndClose(policy());
    const languages = plan.building.announcements.languages;
    const said = log().announcements.filter((a) => a.phrase === 'closing-soon');
    if (openAccessCloses === undefined) {
      // A day whose open hours end with staff leaving: nobody is warned to leave.
      expect(said).toEqual([]);
    } else {
      expect(said.map((a) => `${hhmm(a.at)} ${a.outcome}`)).toEqual([`${hhmm(minutesFrom(openAccessCloses, -15))} printed`, `${hhmm(minutesFrom(openAccessCloses, -5))} printed`]);
      const words = spoken[index]!.filter((w) => w.at < openAccessCloses && /closes in (fifteen|five) minutes|yn cau mewn/.test(w.line));
      expect(words.map((w) => w.line.slice(0, 7))).toEqual([...languages, ...languages].map((language) => `🔊 [${language}]`));
    }
    if (plan.group !== undefined) {
      // A group's booking in closed hours is warned of its end as the close is (the hub's scouts, in Welsh and English).
      const booking = bookingsBetween(policy(), start.toJSDate(), end.toJSDate()).find((b) => b.group === plan.group)!;
      const ending = log().announcements.filter((a) => a.phrase === 'booking-ending');
      expect(ending.map((a) => `${hhmm(a.at)} ${a.outcome}`)).toEqual([`${hhmm(minutesFrom(booking.to, -15))} printed`, `${hhmm(minutesFrom(booking.to, -5))} printed`]);
    }
    // Every message, whatever it is, in the branch's languages in the policy's order (the hub: Welsh, then English).
    expect(log().announcements.length).toBeGreaterThan(0);
    expect(log().announcements.filter((a) => a.languages.join() !== languages.join())).toEqual([]);
    const tags = spoken[index]!.map((w) => /^🔊 \[([a-z-]+)\]/u.exec(w.line)?.[1]);
    expect(tags).toEqual(log().announcements.filter((a) => a.outcome === 'printed').flatMap(() => languages));
  });

  it('ends the day secured, and central shows it', async () => {
    expect(branches[index]!.running.gateway.state.secured).toBe(true);
    let seen: unknown;
    await until(
      async () => (seen = (await api<{ state: { secured?: boolean } | null }>(`/sites/${plan.site}`)).state?.secured) === true,
      () => `central's state for ${plan.site} secured (was ${String(seen)})`,
      10_000,
    );
  });
});

describe("the hub's meeting-room door", () => {
  const index = BRANCHES.findIndex((plan) => plan.meetingRoom === true);
  const plan = BRANCHES[index]!;
  type Stored = { event: { change?: string; grant?: string; door?: string; person?: string | null; decision?: string; reason?: string } };
  const events = async (type: string): Promise<Array<Stored['event']>> =>
    (await api<{ events: Stored[] }>(`/sites/${plan.site}/events?type=${type}&limit=1000`)).events.map((stored) => stored.event);

  it("lets the scouts in through the meeting-room door for their booking, and the main door's reader refuses them", async () => {
    const bookingEntries = (await events('occupancy')).filter((event) => event.change === 'entry' && event.grant === 'booking');
    expect(bookingEntries.length).toBe(replays[index]!.truth.visits().booking);
    expect(bookingEntries.length).toBeGreaterThan(0);
    expect(bookingEntries.filter((event) => event.door !== MEETING_ROOM)).toEqual([]);
    const branch = branches[index]!;
    const scouts = new Set((branch.groups[plan.group!] ?? []).map((card) => branch.personOf(card)));
    const atMainDoor = (await events('access')).filter((event) => event.door === 'main' && scouts.has(event.person ?? ''));
    expect(atMainDoor.map((event) => `${event.decision} ${event.reason}`)).toEqual(['refused closed']);
  });
});
