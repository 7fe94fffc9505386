// The printable monthly report for one branch or the estate: the figures of figures.ts for a calendar month in the
// council's time zone, summed per day, per branch and for the month. It adds nothing of its own, so the report, the
// Figures page and the CSV cannot disagree.
import { DateTime } from 'luxon';
import { countFigures, dayRange, type FigureSource } from './figures.js';

export interface ReportTotals {
  staffed: number;
  openAccess: number;
  booking: number;
  other: number;
  total: number;
  tailgates: number;
  extraPeople: number;
  /** Door openings nobody could count (figures.ts VisitRow.uncountedOpenings). */
  uncountedOpenings: number;
}

export interface MonthlyReport {
  /** `2026-11`. */
  month: string;
  /** The branch, or null for the estate. */
  site: string | null;
  timezone: string;
  /** By central's clock. */
  generatedAt: string;
  /** Every day of the month, a day without visits included. */
  days: Array<{ date: string } & ReportTotals>;
  bySite: Array<{ site: string } & ReportTotals>;
  totals: ReportTotals;
  refusals: Array<{ reason: string; count: number }>;
  grantsByKind: Array<{ kind: string; count: number }>;
  grantsByAgeBand: Array<{ ageBand: string; count: number }>;
}

const zero = (): ReportTotals => ({ staffed: 0, openAccess: 0, booking: 0, other: 0, total: 0, tailgates: 0, extraPeople: 0, uncountedOpenings: 0 });

export async function monthlyReport(store: FigureSource, options: { month: string; site?: string | undefined; timezone: string; now: Date }): Promise<MonthlyReport> {
  const first = DateTime.fromISO(`${options.month}-01`, { zone: options.timezone });
  const last = first.endOf('month');
  const figures = await countFigures(store, dayRange(first.toISODate()!, last.toISODate()!, options.timezone), { by: 'day', timezone: options.timezone, site: options.site });

  const days = new Map<string, ReportTotals>();
  for (let d = first; d <= last; d = d.plus({ days: 1 })) days.set(d.toISODate()!, zero());
  const sites = new Map<string, ReportTotals>();
  const totals = zero();
  const siteTotals = (site: string): ReportTotals => sites.get(site) ?? sites.set(site, zero()).get(site)!;
  for (const v of figures.visits) {
    for (const into of [days.get(v.period), siteTotals(v.site), totals]) {
      if (!into) continue;
      into.staffed += v.staffed;
      into.openAccess += v.openAccess;
      into.booking += v.booking;
      into.other += v.other;
      into.total += v.total;
      into.uncountedOpenings += v.uncountedOpenings;
    }
  }
  for (const t of figures.tailgates) {
    for (const into of [days.get(t.period), siteTotals(t.site), totals]) {
      if (!into) continue;
      into.tailgates += t.tailgates;
      into.extraPeople += t.extraPeople;
    }
  }

  return {
    month: options.month,
    site: options.site ?? null,
    timezone: options.timezone,
    generatedAt: options.now.toISOString(),
    days: [...days].map(([date, t]) => ({ date, ...t })),
    bySite: [...sites].sort(([a], [b]) => a.localeCompare(b)).map(([site, t]) => ({ site, ...t })),
    totals,
    refusals: summed(figures.refusals, (r) => r.reason).map(([reason, count]) => ({ reason, count })),
    grantsByKind: summed(figures.grants, (g) => g.kind).map(([kind, count]) => ({ kind, count })),
    grantsByAgeBand: summed(figures.grants, (g) => g.ageBand).map(([ageBand, count]) => ({ ageBand, count })),
  };
}

/** Counts summed over branches by one key, largest first. */
function summed<R extends { count: number }>(rows: readonly R[], key: (r: R) => string): Array<[string, number]> {
  const sums = new Map<string, number>();
  for (const r of rows) sums.set(key(r), (sums.get(key(r)) ?? 0) + r.count);
  return [...sums].sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
}
