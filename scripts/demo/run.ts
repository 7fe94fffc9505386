// `npm start`: a demo branch day on simulated hardware, told in the terminal as it happens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { scaledClock } from '../../gateway/clock.js';
import type { DemoBranch } from './branch.js';
import { startDemoBranch } from './branch.js';
import { replayDay } from './day.js';
import { describeEvent } from './story.js';

export interface DemoOptions {
  speed: number;
  members: number;
  visits: number;
  /** Local date of the replayed day (a weekday shows every mode). */
  date: string;
  keep: boolean;
}

interface BranchPlan {
  site: string;
  policy: string;
  label: string;
}

const examples = fileURLToPath(new URL('../../policies/examples/', import.meta.url));
const BRANCHES: BranchPlan[] = [{ site: 'town-central', policy: join(examples, 'town.yaml'), label: 'town' }];
const TIMEZONE = 'Europe/London';

export async function runDemo(options: DemoOptions): Promise<void> {
  const start = DateTime.fromISO(`${options.date}T07:30`, { zone: TIMEZONE });
  const end = DateTime.fromISO(`${options.date}T21:30`, { zone: TIMEZONE });
  const dayMinutes = end.diff(start, 'minutes').minutes;
  const clock = scaledClock(start.toJSDate(), options.speed);
  const dir = mkdtempSync(join(tmpdir(), 'oag-demo-'));
  const branches: DemoBranch[] = [];
  const out = (line: string): void => void process.stdout.write(`${line}\n`);

  out(`Open Access gateway demo: ${start.toFormat('cccc d LLLL yyyy')}, ${BRANCHES.length} branch(es), simulated hardware`);
  out(`Replaying ${start.toFormat('HH:mm')}–${end.toFormat('HH:mm')} at ${options.speed}× (about ${Math.round((dayMinutes * 60) / options.speed)} s). Ctrl-C stops it.`);
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const branch of branches) await branch.stop();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
    else out(`Kept the demo's files in ${dir}`);
  };
  process.once('SIGINT', () => {
    out('\nStopping: outputs to their safe state, store closed.');
    void stopAll().then(() => process.exit(0));
  });

  for (const [index, plan] of BRANCHES.entries()) {
    const branch = await startDemoBranch({
      site: plan.site,
      policyFile: plan.policy,
      dir: join(dir, plan.site),
      members: options.members,
      seed: index + 1,
      clock,
    });
    branches.push(branch);
    const { gateway } = branch.running;
    const stats = branch.running.store.members.stats();
    out(`  ${plan.site}: ${stats.count} members imported, policy v${gateway.policies.current.version}, mode ${gateway.mode}`);
    const prefix = BRANCHES.length > 1 ? `[${plan.label}] ` : '';
    gateway.bus.on('event-logged', (event) => {
      const line = describeEvent(event, TIMEZONE, prefix);
      if (line !== undefined) out(line);
    });
  }

  // On the hour, a status line per branch: how many are inside, the lights, the door.
  const statusEvery = (): void => {
    if (stopping) return;
    for (const branch of branches) {
      const { gateway } = branch.running;
      const time = DateTime.fromJSDate(clock.now(), { zone: TIMEZONE }).toFormat('ccc HH:mm');
      const prefix = BRANCHES.length > 1 ? `[${branch.site}] ` : '';
      out(`${prefix}${time}  · ${gateway.occupancy.inside} inside, ${gateway.mode}, door ${gateway.door.state}, lights ${gateway.lights.on ? 'on' : 'off'}`);
    }
    clock.setTimeout(statusEvery, 3_600_000);
  };
  const firstHour = start.plus({ hours: 1 }).startOf('hour');
  clock.setTimeout(statusEvery, firstHour.diff(start).as('milliseconds'));

  clock.run();
  const closeAtMinute = DateTime.fromISO(`${options.date}T20:00`, { zone: TIMEZONE }).diff(start, 'minutes').minutes;
  const replays = branches.map((branch, index) =>
    replayDay({ branch, clock, dayMinutes, visits: options.visits, seed: 100 + index, closeAtMinute }),
  );
  await Promise.all(replays.map((replay) => replay.done));
  if (stopping) return;
  out('');
  out('End of the day:');
  for (const branch of branches) {
    const events = branch.running.store.events.query({ limit: 1000, types: ['access'] });
    const granted = events.filter((e) => (e.data as { decision?: string }).decision === 'granted').length;
    const refusals = new Map<string, number>();
    for (const e of events) {
      if ((e.data as { decision?: string }).decision === 'refused') refusals.set(String(e.reason), (refusals.get(String(e.reason)) ?? 0) + 1);
    }
    const { gateway } = branch.running;
    out(`  ${branch.site}: ${granted} entries granted, refusals ${[...refusals].map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}; ${gateway.occupancy.inside} inside, lights ${gateway.lights.on ? 'on' : 'off'}, alarms: ${gateway.alarms.list().join(', ') || 'none'}`);
  }
  await stopAll();
}
