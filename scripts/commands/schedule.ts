// `oag schedule`: what a branch's policy says at an instant or over a week, as JSON, for staff and installers
// checking a schedule before it goes live (`--at 2026-10-25T01:30:00Z`, `--week 2026-03-23`).
import type { Command } from 'commander';
import { readPolicyFile as readPolicy } from '../../gateway/policy-file.js';
import {
  activeBookings,
  bookingsBetween,
  dayBounds,
  localDateOf,
  localToInstant,
  modeAt,
  spansBetween,
  toLocalIso,
  transitionsBetween,
  type ActiveBooking,
  type Policy,
} from '../../policies/index.js';

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export interface ScheduleOptions {
  policy: string;
  at?: string | undefined;
  week?: string | undefined;
}

const WEEKDAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const INSTANT_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const LOCAL_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})$/;

/**
 * Read and validate a policy file; errors go to `io.err`, one per line. At most 256 KiB, strict UTF-8, YAML without
 * alias bombs (gateway/policy-file.ts, as the gateway reads it).
 */
export async function readPolicyFile(path: string, io: CommandIo): Promise<Policy | undefined> {
  const parsed = readPolicy(path);
  if (!parsed.ok) {
    for (const line of parsed.errors) io.err(`${line}\n`);
    return undefined;
  }
  return parsed.policy;
}

/** An ISO instant with Z or an offset, or a local `YYYY-MM-DDTHH:MM` read in the policy's zone. */
export function parseAt(policy: Policy, at: string): Date | undefined {
  if (INSTANT_WITH_ZONE.test(at)) {
    const d = new Date(at);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  const local = LOCAL_DATE_TIME.exec(at);
  if (local) {
    try {
      return localToInstant(policy, local[1] ?? '', local[2] ?? '');
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function instant(policy: Policy, d: Date | null): { iso: string | null; local: string | null } {
  return d === null ? { iso: null, local: null } : { iso: d.toISOString(), local: toLocalIso(policy, d) };
}

function bookingJson(policy: Policy, b: ActiveBooking): Record<string, unknown> {
  return {
    group: b.group,
    ...(b.label === undefined ? {} : { label: b.label }),
    from: b.from.toISOString(),
    fromLocal: toLocalIso(policy, b.from),
    to: b.to.toISOString(),
    toLocal: toLocalIso(policy, b.to),
  };
}

export function scheduleAt(policy: Policy, at: Date): Record<string, unknown> {
  const span = modeAt(policy, at);
  const since = instant(policy, span.since);
  const until = instant(policy, span.until);
  return {
    site: policy.site,
    version: policy.version,
    timezone: policy.timezone,
    at: at.toISOString(),
    atLocal: toLocalIso(policy, at),
    mode: span.mode,
    since: since.iso,
    sinceLocal: since.local,
    until: until.iso,
    untilLocal: until.local,
    bookings: activeBookings(policy, at).map((b) => bookingJson(policy, b)),
  };
}

export function scheduleWeek(policy: Policy, firstDate: string): Record<string, unknown> {
  const first = dayBounds(policy, firstDate);
  const days: Record<string, unknown>[] = [];
  let start = first.start;
  let end = first.start;
  for (let i = 0; i < 7; i++) {
    const date = localDateOf(policy, start);
    const bounds = dayBounds(policy, date);
    end = bounds.end;
    const spans = spansBetween(policy, bounds.start, bounds.end).map((s) => {
      const from = s.since === null || s.since < bounds.start ? bounds.start : s.since;
      const to = s.until === null || s.until > bounds.end ? bounds.end : s.until;
      return {
        mode: s.mode,
        from: toLocalIso(policy, from).slice(11, 16),
        to: to.getTime() === bounds.end.getTime() ? '24:00' : toLocalIso(policy, to).slice(11, 16),
        since: s.since?.toISOString() ?? null,
        until: s.until?.toISOString() ?? null,
      };
    });
    const weekday = WEEKDAY_NAMES[(new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7];
    days.push({
      date,
      weekday,
      ...(bounds.exception === undefined ? {} : { exception: bounds.exception }),
      hours: (bounds.end.getTime() - bounds.start.getTime()) / 3_600_000,
      spans,
    });
    start = bounds.end;
  }
  return {
    site: policy.site,
    version: policy.version,
    timezone: policy.timezone,
    from: first.start.toISOString(),
    fromLocal: toLocalIso(policy, first.start),
    to: end.toISOString(),
    toLocal: toLocalIso(policy, end),
    transitions: transitionsBetween(policy, first.start, end).map((t) => ({
      at: t.at.toISOString(),
      atLocal: toLocalIso(policy, t.at),
      from: t.from,
      to: t.to,
    })),
    days,
    bookings: bookingsBetween(policy, first.start, end).map((b) => bookingJson(policy, b)),
  };
}

/** Runs `oag schedule`; returns the exit code. `now` is used only when neither --at nor --week is given. */
export async function runSchedule(options: ScheduleOptions, io: CommandIo, now: () => Date): Promise<number> {
  if (options.at !== undefined && options.week !== undefined) {
    io.err('give either --at or --week, not both\n');
    return 2;
  }
  const policy = await readPolicyFile(options.policy, io);
  if (!policy) return 1;
  let result: Record<string, unknown>;
  if (options.week !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(options.week)) {
      io.err(`--week: must be a date YYYY-MM-DD (got ${JSON.stringify(options.week)})\n`);
      return 2;
    }
    try {
      result = scheduleWeek(policy, options.week);
    } catch {
      io.err(`--week: not a real date (got ${JSON.stringify(options.week)})\n`);
      return 2;
    }
  } else {
    const at = options.at === undefined ? now() : parseAt(policy, options.at);
    if (at === undefined) {
      io.err(`--at: must be an ISO instant such as 2026-10-25T01:30:00Z, or a local YYYY-MM-DDTHH:MM (got ${JSON.stringify(options.at)})\n`);
      return 2;
    }
    result = scheduleAt(policy, at);
  }
  io.out(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

export function register(program: Command): void {
  program
    .command('schedule')
    .description("print a policy's mode at an instant (--at) or its week (--week) as JSON")
    .requiredOption('--policy <file>', 'policy file (YAML or JSON)')
    .option('--at <instant>', 'ISO instant (2026-10-25T01:30:00Z) or local time in the policy zone (2026-10-25T01:30); default now')
    .option('--week <date>', 'seven local days from this date (YYYY-MM-DD)')
    .action(async (options: ScheduleOptions) => {
      // The command line is a composition root: the only place that reads the real clock.
      process.exitCode = await runSchedule(options, processIo, () => new Date());
    });
}
