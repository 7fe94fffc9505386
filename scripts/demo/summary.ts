// The demo's end of the day in the terminal: what the visitor script played, beside what central's Figures page
// says for the same day (the same API the page reads), so that anyone can see the two agree.
import { DateTime } from 'luxon';
import type { BuildingLog } from './building.js';
import type { VisitSplit } from './truth.js';
import type { DayTruth } from './truth.js';

export interface CentralFigures {
  visits: VisitSplit;
  refusals: Map<string, number>;
  tailgates: number;
  /** Door openings the branch could not count (no counter, door held free). */
  uncountedOpenings: number;
}

interface VisitRow extends VisitSplit {
  period: string;
  uncountedOpenings: number;
}

/** The day's figures for one branch from central's API (`get` adds the base URL and a viewer's token). */
export async function centralFiguresFor(get: (path: string) => Promise<unknown>, site: string, day: string): Promise<CentralFigures> {
  const query = `?from=${day}&to=${day}&by=day&site=${encodeURIComponent(site)}`;
  const visits = ((await get(`/figures/visits${query}`)) as { rows: VisitRow[] }).rows;
  const refusals = ((await get(`/figures/refusals${query}`)) as { rows: Array<{ reason: string; count: number }> }).rows;
  const tailgates = ((await get(`/figures/tailgates${query}`)) as { rows: Array<{ tailgates: number }> }).rows;
  const split: VisitSplit = { staffed: 0, openAccess: 0, booking: 0, other: 0, total: 0 };
  let uncountedOpenings = 0;
  for (const row of visits) {
    uncountedOpenings += row.uncountedOpenings;
    split.staffed += row.staffed;
    split.openAccess += row.openAccess;
    split.booking += row.booking;
    split.other += row.other;
    split.total += row.total;
  }
  return {
    visits: split,
    refusals: new Map(refusals.map((row) => [row.reason, row.count])),
    tailgates: tailgates.reduce((sum, row) => sum + row.tailgates, 0),
    uncountedOpenings,
  };
}

function visitText(split: VisitSplit): string {
  const parts = [`staffed ${split.staffed}`, `open access ${split.openAccess}`];
  if (split.booking > 0) parts.push(`booking ${split.booking}`);
  if (split.other > 0) parts.push(`other ${split.other}`);
  return `${split.total} (${parts.join(', ')})`;
}

function refusalText(refusals: ReadonlyMap<string, number>): string {
  return (
    [...refusals]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ') || 'none'
  );
}

/**
 * Lines for one branch: the script's record, then central's figures where central runs. A branch that counts with its
 * door contact alone cannot see who walks in while staff hold the door free, and the line says so rather than differ.
 */
export function endOfDayLines(site: string, truth: DayTruth, counting: 'counter' | 'contact', figures: CentralFigures | undefined): string[] {
  const played = truth.visits();
  const lines = [
    `  ${site}: ${visitText(played)} visits; refusals: ${refusalText(truth.refusals)}; tailgates ${truth.tailgates}; ${truth.inside} still inside`,
  ];
  if (figures === undefined) return lines;
  lines.push(`    central's Figures: ${visitText(figures.visits)} visits; refusals: ${refusalText(figures.refusals)}; tailgates ${figures.tailgates}`);
  if (counting === 'contact' && played.staffed > 0) {
    lines.push(
      `    (${played.staffed} walked in while staff held the door free, and a door contact alone cannot tell in from out: ` +
        `central shows ${figures.uncountedOpenings} door openings not counted; a counter or beams would count them)`,
    );
  }
  return lines;
}

/**
 * The building's own day at a branch: when each switched output last went off, and each time the intruder alarm was
 * set, with who was really inside then by the script's record (nobody, or the line says how many).
 */
export function buildingLines(log: BuildingLog, truth: DayTruth, labels: Readonly<Record<string, string>>, timezone: string): string[] {
  const hhmm = (at: Date): string => DateTime.fromJSDate(at, { zone: timezone }).toFormat('HH:mm');
  const offs = Object.entries(labels).map(([id, label]) => {
    const off = log.lastOff(id);
    if (off !== undefined) return `${label} off at ${hhmm(off)}`;
    return log.outputs.some((change) => change.output === id) ? `${label} on` : `${label} not switched today`;
  });
  const sets = log.setTimes().map((at) => {
    const inside = truth.insideAt(at);
    const last = truth.lastExitBy(at);
    return inside === 0
      ? `${hhmm(at)} with nobody inside${last === undefined ? '' : ` (the last left at ${hhmm(last)})`}`
      : `${hhmm(at)} with ${inside} still inside by the script's own count`;
  });
  const alarm = sets.length === 0 ? 'intruder alarm not set' : `intruder alarm set ${sets.join('; ')}`;
  return [`    building: ${offs.length === 0 ? '' : `${offs.join(', ')}; `}${alarm}`];
}
