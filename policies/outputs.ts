// When each switched output (PCs, heating, kiosks) is on, from the policy's `outputs` windows and its schedule.
// A window follows a run of modes (consecutive spans whose mode it lists), shifted by its minute offsets; an output is
// on wherever any of its windows is. Not on the tap path: the outputs extension asks at each change and once a minute.
import { modeAt, spansBetween } from './schedule.js';
import type { OutputWindow, Policy } from './schema.js';
import { MS_PER_MINUTE } from './time.js';

export interface OnInterval {
  /** Epoch ms; -Infinity / Infinity where the run reaches past the schedule's horizon. */
  fromMs: number;
  toMs: number;
}

export interface OutputChange {
  at: Date;
  output: string;
  on: boolean;
}

/** The widest offset a window takes (OutputWindowSchema), so that runs that shift into a period are seen. */
const MAX_OFFSET_MS = 240 * MS_PER_MINUTE;

/** Each scheduled output's on-intervals that overlap [fromMs, toMs), merged and in order. */
export function outputIntervals(policy: Policy, fromMs: number, toMs: number): Map<string, OnInterval[]> {
  const out = new Map<string, OnInterval[]>();
  for (const [id, windows] of Object.entries(policy.outputs ?? {})) {
    const intervals = windows.flatMap((window) => windowIntervals(policy, window, fromMs, toMs));
    out.set(id, merge(intervals).filter((i) => i.toMs > fromMs && i.fromMs < toMs));
  }
  return out;
}

/** Whether each scheduled output is on at an instant. */
export function outputsAt(policy: Policy, instant: Date): Record<string, boolean> {
  const t = instant.getTime();
  const result: Record<string, boolean> = {};
  for (const [id, intervals] of outputIntervals(policy, t, t + 1)) result[id] = intervals.some((i) => i.fromMs <= t && t < i.toMs);
  return result;
}

/** Every change of a scheduled output in (from, to], in order (the console's two-week preview; the next wake-up). */
export function outputChanges(policy: Policy, from: Date, to: Date): OutputChange[] {
  const a = from.getTime();
  const b = to.getTime();
  const changes: OutputChange[] = [];
  for (const [output, intervals] of outputIntervals(policy, a, b + 1)) {
    for (const i of intervals) {
      if (i.fromMs > a && i.fromMs <= b) changes.push({ at: new Date(i.fromMs), output, on: true });
      if (i.toMs > a && i.toMs <= b) changes.push({ at: new Date(i.toMs), output, on: false });
    }
  }
  return changes.sort((x, y) => x.at.getTime() - y.at.getTime() || x.output.localeCompare(y.output));
}

/** The runs of a window's modes that could reach [fromMs, toMs) once shifted, as on-intervals. */
function windowIntervals(policy: Policy, window: OutputWindow, fromMs: number, toMs: number): OnInterval[] {
  const listed = (mode: string): boolean => (window.during as readonly string[]).includes(mode);
  const spans = spansBetween(policy, new Date(fromMs - MAX_OFFSET_MS), new Date(toMs + MAX_OFFSET_MS));
  const intervals: OnInterval[] = [];
  let runStart: number | undefined;
  let runEnd = 0;
  const close = (): void => {
    if (runStart === undefined) return;
    const start = runStart + window.fromMinutes * MS_PER_MINUTE;
    const end = runEnd + window.untilMinutes * MS_PER_MINUTE;
    if (end > start) intervals.push({ fromMs: start, toMs: end });
    runStart = undefined;
  };
  spans.forEach((span, index) => {
    if (!listed(span.mode)) {
      close();
      return;
    }
    const since = span.since === null ? Number.NEGATIVE_INFINITY : span.since.getTime();
    if (runStart === undefined) runStart = index === 0 ? runStartBefore(policy, since, listed) : since;
    runEnd = span.until === null ? Number.POSITIVE_INFINITY : span.until.getTime();
  });
  if (runStart !== undefined) runEnd = runEndAfter(policy, runEnd, listed);
  close();
  return intervals;
}

/** A run that began before the spans fetched: walk back while the earlier spans are of the window's modes. */
function runStartBefore(policy: Policy, since: number, listed: (mode: string) => boolean): number {
  let start = since;
  for (let step = 0; step < 64 && Number.isFinite(start); step++) {
    const before = modeAt(policy, new Date(start - 1));
    if (!listed(before.mode)) break;
    start = before.since === null ? Number.NEGATIVE_INFINITY : before.since.getTime();
  }
  return start;
}

/** A run that goes on past the spans fetched: walk forward while the later spans are of the window's modes. */
function runEndAfter(policy: Policy, until: number, listed: (mode: string) => boolean): number {
  let end = until;
  for (let step = 0; step < 64 && Number.isFinite(end); step++) {
    const after = modeAt(policy, new Date(end));
    if (!listed(after.mode)) break;
    end = after.until === null ? Number.POSITIVE_INFINITY : after.until.getTime();
  }
  return end;
}

function merge(intervals: OnInterval[]): OnInterval[] {
  const sorted = [...intervals].sort((a, b) => a.fromMs - b.fromMs);
  const out: OnInterval[] = [];
  for (const i of sorted) {
    const last = out.at(-1);
    if (last !== undefined && i.fromMs <= last.toMs) last.toMs = Math.max(last.toMs, i.toMs);
    else out.push({ ...i });
  }
  return out;
}
