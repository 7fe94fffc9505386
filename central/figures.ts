// The figures councils report: visits per branch per day or hour (split by staffed and open-access time) and
// refusals by reason. Days and hours are counted in the council's time zone, DST included.
import { DateTime } from 'luxon';
import type { ReceivedKnownEvent } from '../policies/contract/index.js';
import type { CentralStore } from './store.js';

export interface VisitRow {
  site: string;
  /** `2025-06-02` by day; `2025-06-02T14` by hour (local). */
  period: string;
  staffed: number;
  openAccess: number;
  /** Entries while closed, in changeover, lockdown or emergency, or before central knew the mode. */
  other: number;
  total: number;
}

export interface RefusalRow {
  site: string;
  reason: string;
  count: number;
}

export interface Range {
  from: Date;
  to: Date;
}

/** `from`..`to` local dates, both included → an instant range. */
export function dayRange(from: string, to: string, timezone: string): Range {
  const start = DateTime.fromISO(from, { zone: timezone }).startOf('day');
  const end = DateTime.fromISO(to, { zone: timezone }).startOf('day').plus({ days: 1 });
  return { from: start.toJSDate(), to: end.toJSDate() };
}

export function visits(store: CentralStore, range: Range, options: { by: 'day' | 'hour'; timezone: string; site?: string | undefined }): VisitRow[] {
  const entries = store
    .eventsOfType('occupancy', range.from, range.to)
    .filter((e): e is Extract<ReceivedKnownEvent, { type: 'occupancy' }> => e.type === 'occupancy')
    .filter((e) => (e.change === 'entry' || e.change === 'tailgate') && (options.site === undefined || e.site === options.site));
  const modes = store.eventsOfType('mode', range.from, range.to);
  const bySite = new Map<string, Array<{ at: number; to: string }>>();
  for (const m of modes) {
    if (m.type !== 'mode') continue;
    let list = bySite.get(m.site);
    if (!list) bySite.set(m.site, (list = []));
    list.push({ at: Date.parse(m.at), to: m.to });
  }
  const modeAt = new Map<string, { list: Array<{ at: number; to: string }>; i: number; current: string }>();
  const rows = new Map<string, VisitRow>();
  const fmt = options.by === 'day' ? 'yyyy-MM-dd' : "yyyy-MM-dd'T'HH";
  for (const e of entries) {
    // Entries come in time order, so each site's mode timeline is walked once.
    let walk = modeAt.get(e.site);
    if (!walk) {
      const before = store.lastModeBefore(e.site, range.from);
      walk = { list: bySite.get(e.site) ?? [], i: 0, current: before?.type === 'mode' ? before.to : 'unknown' };
      modeAt.set(e.site, walk);
    }
    const t = Date.parse(e.at);
    while (walk.i < walk.list.length && walk.list[walk.i]!.at <= t) walk.current = walk.list[walk.i++]!.to;
    const period = DateTime.fromMillis(t, { zone: options.timezone }).toFormat(fmt);
    const key = `${e.site}\u0000${period}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { site: e.site, period, staffed: 0, openAccess: 0, other: 0, total: 0 }));
    if (walk.current === 'staffed') row.staffed++;
    else if (walk.current === 'open-access') row.openAccess++;
    else row.other++;
    row.total++;
  }
  return [...rows.values()].sort((a, b) => a.site.localeCompare(b.site) || a.period.localeCompare(b.period));
}

export function refusals(store: CentralStore, range: Range, options: { site?: string | undefined } = {}): RefusalRow[] {
  const counts = new Map<string, RefusalRow>();
  for (const e of store.eventsOfType('access', range.from, range.to)) {
    if (e.type !== 'access' || e.decision !== 'refused') continue;
    if (options.site !== undefined && e.site !== options.site) continue;
    const key = `${e.site}\u0000${e.reason}`;
    const row = counts.get(key) ?? { site: e.site, reason: e.reason, count: 0 };
    row.count++;
    counts.set(key, row);
  }
  return [...counts.values()].sort((a, b) => a.site.localeCompare(b.site) || b.count - a.count || a.reason.localeCompare(b.reason));
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
