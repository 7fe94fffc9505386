// The figures councils report, each counted once from the events here; the API, the pages, the CSV and the monthly
// report only show them. Days and hours are counted in the council's time zone, DST included.
//
// Right by construction: a visit is an `entry` occupancy event (never a `tailgate` on top of it, never an exit), in
// the mode the branch stated on the event itself (contract 1.8); only an older gateway's event falls back to the mode
// central can reconstruct. Every figure comes from fields that stay on the event (mode, grant, reason, age band), so
// none depends on linking pseudonyms and each survives person-level retention (person-retention.ts). An event sent
// twice is stored once (events are unique by id, store.ts), and one arriving late is counted by its `at`.
import { DateTime } from 'luxon';
import type { ReceivedKnownEvent } from '../policies/contract/index.js';
import type { HistoryStore } from './history/history-store.js';

type Occupancy = Extract<ReceivedKnownEvent, { type: 'occupancy' }>;
type Access = Extract<ReceivedKnownEvent, { type: 'access' }>;

export interface VisitRow {
  site: string;
  /** `2025-06-02` by day; `2025-06-02T14` by hour (local). */
  period: string;
  staffed: number;
  openAccess: number;
  /** Entries after a group booking's grant, in whatever mode. */
  booking: number;
  /** Entries while closed, in changeover, lockdown or emergency, or when the mode is not known. */
  other: number;
  total: number;
  /**
   * Door openings nobody could count (`uncounted` events): a branch without a counter or beams, whose door staff hold
   * free, cannot tell in from out. Not visits, and not guessed into them: the page shows them beside the visits.
   */
  uncountedOpenings: number;
}

export interface TailgateRow {
  site: string;
  period: string;
  /** Door cycles in which more people came in than were let in. */
  tailgates: number;
  /** The people beyond the grants in those cycles (entries − grants); already counted in the visits. */
  extraPeople: number;
}

export interface RefusalRow {
  site: string;
  reason: string;
  count: number;
}

/** Granted taps at an entry reader, by the grant's reason and the member's age band. */
export interface GrantRow {
  site: string;
  /** The grant reason: member, staff, booking, accompanied, staffed (or a newer gateway's name, as it came). */
  kind: string;
  /** child, adult, or unknown (not on the member list, or a gateway before contract 1.8). */
  ageBand: string;
  count: number;
}

export interface Figures {
  visits: VisitRow[];
  tailgates: TailgateRow[];
  refusals: RefusalRow[];
  grants: GrantRow[];
}

export interface Range {
  from: Date;
  to: Date;
}

export interface FigureOptions {
  by: 'day' | 'hour';
  timezone: string;
  site?: string | undefined;
  /** Only the branches in this region (central's `sites`/`regions` config, through `of`). */
  region?: { name: string; of(site: string): string } | undefined;
}

/**
 * Refusal reasons that are not refusals. `pin-required` is the keypad's prompt after a good card: the same person's
 * next event is the real outcome (granted, `pin-wrong`, `pin-locked`), so counting the prompt too counted each PIN
 * entry as a refusal (136 "refusals" at a card + PIN branch against 20 wrong PINs). The others stay, each a door
 * that stayed shut: `pin-wrong` and `pin-locked` are the outcome of a PIN, `pin-check-unavailable` is a refusal
 * under `rules.pinOffline: refuse`, and `unknown-card-burst` is an unknown card refused without asking the library
 * system; the gateway folds repeated taps of one card into one event already.
 */
export const PROMPT_REASONS: ReadonlySet<string> = new Set(['pin-required']);

/** `from`..`to` local dates, both included → an instant range. */
export function dayRange(from: string, to: string, timezone: string): Range {
  const start = DateTime.fromISO(from, { zone: timezone }).startOf('day');
  const end = DateTime.fromISO(to, { zone: timezone }).startOf('day').plus({ days: 1 });
  return { from: start.toJSDate(), to: end.toJSDate() };
}

/** What the figures read from the history. */
export type FigureSource = Pick<HistoryStore, 'eventsOfType' | 'lastModeBefore'>;

/** Every figure for the range, from one read of the events. */
export async function countFigures(store: FigureSource, range: Range, options: FigureOptions): Promise<Figures> {
  const { site, region } = options;
  const ofSite = <E extends { site: string }>(e: E): boolean => (site === undefined || e.site === site) && (region === undefined || region.of(e.site) === region.name);
  const occupancy = (await store.eventsOfType('occupancy', range.from, range.to)).filter((e): e is Occupancy => e.type === 'occupancy' && ofSite(e));
  const access = (await store.eventsOfType('access', range.from, range.to)).filter((e): e is Access => e.type === 'access' && ofSite(e));
  const period = periodOf(options);
  // Only an older gateway's entry needs the mode reconstructed: the timeline is read only when there is one.
  const unmoded = new Set(occupancy.filter((e) => e.change === 'entry' && e.grant !== 'booking' && e.mode === undefined).map((e) => e.site));
  const modes = unmoded.size > 0 ? await ModeTimeline.read(store, range, access, unmoded) : undefined;
  const modeAt = (site: string, t: number): string => modes?.at(site, t) ?? 'unknown';

  const visits = new Rows<VisitRow>((site, p) => ({ site, period: p, staffed: 0, openAccess: 0, booking: 0, other: 0, total: 0, uncountedOpenings: 0 }));
  const tailgates = new Rows<TailgateRow>((site, p) => ({ site, period: p, tailgates: 0, extraPeople: 0 }));
  for (const e of occupancy) {
    const t = Date.parse(e.at);
    if (e.change === 'entry') {
      const row = visits.at(e.site, period(t));
      row[visitColumn(e, () => modeAt(e.site, t))]++;
      row.total++;
    } else if (e.change === 'uncounted') {
      visits.at(e.site, period(t)).uncountedOpenings++;
    } else if (e.change === 'tailgate') {
      const row = tailgates.at(e.site, period(t));
      row.tailgates++;
      // At least one person came in unlet, whatever an older gateway left out.
      row.extraPeople += e.entries !== undefined && e.grants !== undefined ? Math.max(1, e.entries - e.grants) : 1;
    }
  }

  const refusals = new Rows<RefusalRow>((site, reason) => ({ site, reason, count: 0 }));
  const grants = new Rows<GrantRow>((site, key) => {
    const [kind = '', ageBand = ''] = key.split('\u0000');
    return { site, kind, ageBand, count: 0 };
  });
  for (const e of access) {
    if (e.decision === 'refused') {
      if (!PROMPT_REASONS.has(e.reason)) refusals.at(e.site, e.reason).count++;
    } else if (e.reader !== 'exit' && e.reason !== 'exit') {
      grants.at(e.site, `${e.reason}\u0000${e.ageBand ?? 'unknown'}`).count++;
    }
  }

  return {
    visits: visits.sorted((a, b) => a.period.localeCompare(b.period)),
    tailgates: tailgates.sorted((a, b) => a.period.localeCompare(b.period)),
    refusals: refusals.sorted((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    grants: grants.sorted((a, b) => b.count - a.count || a.kind.localeCompare(b.kind) || a.ageBand.localeCompare(b.ageBand)),
  };
}

export async function visits(store: FigureSource, range: Range, options: FigureOptions): Promise<VisitRow[]> {
  return (await countFigures(store, range, options)).visits;
}

export async function refusals(store: FigureSource, range: Range, options: { site?: string | undefined } = {}): Promise<RefusalRow[]> {
  // Refusals are not split by period, so the zone plays no part.
  return (await countFigures(store, range, { by: 'day', timezone: 'UTC', site: options.site })).refusals;
}

/** Which column an entry counts in: a group booking's, else the mode the branch was in. */
function visitColumn(e: Occupancy, reconstructed: () => string): 'staffed' | 'openAccess' | 'booking' | 'other' {
  if (e.grant === 'booking') return 'booking';
  const mode = e.mode ?? reconstructed();
  return mode === 'staffed' ? 'staffed' : mode === 'open-access' ? 'openAccess' : 'other';
}

function periodOf(options: FigureOptions): (ms: number) => string {
  // The autumn's repeated local hour (01:00–02:00 in Europe/London) is one row holding both hours; days are right.
  const fmt = options.by === 'day' ? 'yyyy-MM-dd' : "yyyy-MM-dd'T'HH";
  return (ms) => DateTime.fromMillis(ms, { zone: options.timezone }).toFormat(fmt);
}

/** Rows keyed by site and one more key, made on first use. */
class Rows<R extends { site: string }> {
  private readonly rows = new Map<string, R>();
  constructor(private readonly make: (site: string, key: string) => R) {}

  at(site: string, key: string): R {
    const id = `${site}\u0001${key}`;
    let row = this.rows.get(id);
    if (!row) this.rows.set(id, (row = this.make(site, key)));
    return row;
  }

  sorted(within: (a: R, b: R) => number): R[] {
    return [...this.rows.values()].sort((a, b) => a.site.localeCompare(b.site) || within(a, b));
  }
}

/**
 * The mode a branch was in, for events from gateways before contract 1.8 (no `mode` on occupancy events). Built
 * from the `mode` events and from the mode every access event states: a gateway records no `mode` event when it
 * starts, so mode events alone left every entry before the first change after a start as "other".
 */
class ModeTimeline {
  private constructor(private readonly bySite: Map<string, { marks: Array<{ at: number; mode: string }>; i: number; current: string }>) {}

  /** The timeline of the `sites` whose entries need it: their marks in the range, and the mode each was in before. */
  static async read(store: FigureSource, range: Range, access: readonly Access[], sites: ReadonlySet<string>): Promise<ModeTimeline> {
    const marks = new Map<string, Array<{ at: number; mode: string }>>([...sites].map((site) => [site, []]));
    const mark = (site: string, at: string, mode: string): void => {
      marks.get(site)?.push({ at: Date.parse(at), mode });
    };
    for (const m of await store.eventsOfType('mode', range.from, range.to)) if (m.type === 'mode') mark(m.site, m.at, m.to);
    for (const a of access) mark(a.site, a.at, a.mode);
    const bySite = new Map<string, { marks: Array<{ at: number; mode: string }>; i: number; current: string }>();
    for (const [site, list] of marks) {
      list.sort((a, b) => a.at - b.at);
      const last = await store.lastModeBefore(site, range.from);
      bySite.set(site, { marks: list, i: 0, current: last?.type === 'mode' ? last.to : 'unknown' });
    }
    return new ModeTimeline(bySite);
  }

  /** The mode at `t`; asked in time order per site, so each site's marks are walked once. */
  at(site: string, t: number): string {
    const walk = this.bySite.get(site);
    if (!walk) return 'unknown';
    while (walk.i < walk.marks.length && walk.marks[walk.i]!.at <= t) walk.current = walk.marks[walk.i++]!.mode;
    return walk.current;
  }
}

/** RFC 4180 CSV with a header line; cells that could be read as formulas by a spreadsheet are quoted and prefixed. */
export function toCsv<T extends object>(rows: readonly T[], columns: ReadonlyArray<keyof T & string>): string {
  const cell = (v: unknown): string => {
    let s = v === null || v === undefined ? '' : String(v);
    if (/^[=+\-@]/.test(s) && typeof v === 'string') s = `'${s}`;
    return /[",\r\n']/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [columns.join(',')];
  for (const r of rows) lines.push(columns.map((c) => cell(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
