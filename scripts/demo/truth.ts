// What really happened at a demo branch: the visitor script writes down every entry, exit, refusal and tailgate as
// it plays them, from its own plan and the policy's schedule, never from what the gateway made of them. A replayed
// day's figures are checked against this (test/integration/demo-ground-truth.test.ts), and the terminal prints it.
import { DateTime } from 'luxon';
import type { ScheduleMode } from '../../policies/index.js';

export type AgeBand = 'child' | 'adult' | 'unknown';

/** How a person came in: through a grant (its reason), walking in while staff hold the door, or behind someone. */
export type EntryKind = 'walk-in' | 'tailgater' | 'member' | 'staff' | 'booking' | 'accompanied' | 'staffed';

export interface TruthEntry {
  at: Date;
  /** The schedule's mode at that instant. */
  mode: ScheduleMode;
  kind: EntryKind;
  /** For an entry on a card; null for a walk-in or a tailgater, whom nobody identified. */
  ageBand: AgeBand | null;
}

/** How a figure splits visits: the columns of central's Figures page. */
export interface VisitSplit {
  staffed: number;
  openAccess: number;
  booking: number;
  other: number;
  total: number;
}

export class DayTruth {
  readonly entries: TruthEntry[] = [];
  readonly exits: Date[] = [];
  /** Refusals a visitor saw, by reason. A PIN prompt is not one: the keypad asked, and the visitor went on. */
  readonly refusals = new Map<string, number>();
  tailgates = 0;
  /** Exit-button presses after which nobody went out (the door never opened). */
  exitPressesWithoutExit = 0;
  /** Times someone walked in or out through the door while staff held it free. */
  openingsWhileHeldFree = 0;

  entered(entry: TruthEntry): void {
    this.entries.push(entry);
  }

  left(at: Date): void {
    this.exits.push(at);
  }

  refused(reason: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  get inside(): number {
    return this.entries.length - this.exits.length;
  }

  /** Who was really inside at an instant: everyone who had come in by then, less everyone who had left. */
  insideAt(at: Date): number {
    const t = at.getTime();
    return this.entries.filter((entry) => entry.at.getTime() <= t).length - this.exits.filter((exit) => exit.getTime() <= t).length;
  }

  /** The last time anyone left at or before an instant. */
  lastExitBy(at: Date): Date | undefined {
    return this.exits.filter((exit) => exit.getTime() <= at.getTime()).at(-1);
  }

  /** Visits split as the figures split them: a booking's entries are bookings whatever the mode. */
  visits(filter: (entry: TruthEntry) => boolean = () => true): VisitSplit {
    const split = emptySplit();
    for (const entry of this.entries) if (filter(entry)) countVisit(split, entry);
    return split;
  }

  /** Visits by local hour (`2026-11-24T14`), as the figures' hourly rows are keyed. */
  visitsByHour(timezone: string): Map<string, VisitSplit> {
    const hours = new Map<string, VisitSplit>();
    for (const entry of this.entries) {
      const hour = DateTime.fromJSDate(entry.at, { zone: timezone }).toFormat("yyyy-MM-dd'T'HH");
      let split = hours.get(hour);
      if (split === undefined) hours.set(hour, (split = emptySplit()));
      countVisit(split, entry);
    }
    return hours;
  }

  /** Entries on a card by age band (walk-ins and tailgaters have none). */
  ageBands(): Record<AgeBand, number> {
    const bands: Record<AgeBand, number> = { child: 0, adult: 0, unknown: 0 };
    for (const entry of this.entries) if (entry.ageBand !== null) bands[entry.ageBand] += 1;
    return bands;
  }
}

function emptySplit(): VisitSplit {
  return { staffed: 0, openAccess: 0, booking: 0, other: 0, total: 0 };
}

/** Adds one entry to a split: a booking's entries are bookings whatever the mode. */
function countVisit(split: VisitSplit, entry: TruthEntry): void {
  if (entry.kind === 'booking') split.booking += 1;
  else if (entry.mode === 'staffed') split.staffed += 1;
  else if (entry.mode === 'open-access') split.openAccess += 1;
  else split.other += 1;
  split.total += 1;
}
