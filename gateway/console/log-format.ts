// The log as staff read it: one line of plain words per event, the branch's local time, the card's pseudonym
// (never a number), and who did it for staff actions. The same rows make the CSV export.
import type { StoredEvent } from '../store/index.js';
import { actionText, MODE_TEXT, reasonText } from './reasons.js';

export interface LogRow {
  id: string;
  at: string;
  type: string;
  summary: string;
  decision: 'granted' | 'refused' | null;
  reason: string | null;
  person: string | null;
  actor: string | null;
}

/** What both a stored event and a freshly logged one (on the bus) offer. */
export interface EventLike {
  id: string;
  at: string;
  type: string;
  data: Record<string, unknown>;
}

const DOOR_TEXT: Record<string, string> = {
  locked: 'Door locked',
  unlocked: 'Door unlocked',
  open: 'Door opened',
  'held-open': 'Door held open too long',
  'forced-open': 'Door forced open',
  released: 'Door released (fire alarm)',
  lockdown: 'Door locked down',
};

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const mode = (value: unknown): string => MODE_TEXT[String(value)] ?? String(value);
const NO_LABELS: ReadonlyMap<string, string> = new Map();

/** Why a switched output changed (the `output` event's `by`). */
const OUTPUT_BY_TEXT: Record<string, string> = { schedule: 'schedule', start: 'as the schedule says, at start' };

/** The intruder alarm's set or unset, by what became of it. */
function intruderAlarmText(d: Record<string, unknown>): string {
  const set = d.action === 'set';
  const why = d.by ? ` (${String(d.by)})` : '';
  switch (d.outcome) {
    case 'requested':
      return `Intruder alarm ${set ? 'setting' : 'unsetting'}…${why}`;
    case 'confirmed':
      return `Intruder alarm ${set ? 'set' : 'unset'}${why}`;
    case 'failed':
      return `Intruder alarm did not ${set ? 'set' : 'unset'}: the panel did not confirm${why}`;
    case 'at-panel':
      return `Intruder alarm ${set ? 'set' : 'unset'} at the panel`;
    default:
      return `Intruder alarm ${String(d.action)}: ${String(d.outcome)}${why}`;
  }
}

/**
 * "Announced: closing-soon (cy, en) — played"; staff's own words in quotes; a failure with its reason. `detail` is
 * the words of a `text` announcement, and why one failed (then the words are not in the event).
 */
function announcementText(d: Record<string, unknown>): string {
  const failed = d.outcome === 'failed';
  const detail = str(d.detail);
  const what = d.phrase !== 'text' ? String(d.phrase) : failed || detail === null ? 'staff’s words' : `“${detail}”`;
  const languages = Array.isArray(d.languages) ? ` (${d.languages.map(String).join(', ')})` : '';
  return `Announced: ${what}${languages} — ${failed ? `failed: ${detail ?? 'no reason given'}` : String(d.outcome)}`;
}

/** "Commissioning: exit-button passed (seen at 10:02)"; a session's start names the technician, its end the result. */
function commissioningText(d: Record<string, unknown>): string {
  const detail = str(d.detail);
  const tail = detail === null ? '' : ` (${detail})`;
  switch (d.action) {
    case 'started':
      return `Commissioning started by ${String(d.technician ?? d.actor)}${tail}`;
    case 'step':
      return `Commissioning: ${String(d.step)} ${String(d.result)}${tail}`;
    case 'pulse':
      return `Commissioning: ${String(d.output ?? d.door ?? 'door')} pulsed for ${String(d.seconds ?? '?')} s`;
    default:
      return `Commissioning ended: ${d.result === 'passed' ? 'every step passed' : 'not every step passed'}${tail}`;
  }
}

function summarise(type: string, d: Record<string, unknown>, labels: ReadonlyMap<string, string>): string {
  switch (type) {
    case 'access': {
      const reason = reasonText(String(d.reason));
      if (d.reader === 'exit') return `Exit: ${reason}`;
      return d.decision === 'granted' ? `Entry granted: ${reason}` : `Entry refused: ${reason}`;
    }
    case 'door':
      return DOOR_TEXT[String(d.state)] ?? `Door ${String(d.state)}`;
    case 'alarm':
      return `Alarm ${String(d.alarm).replaceAll('-', ' ')} ${d.state === 'cleared' ? 'cleared' : 'raised'}${d.detail ? ` (${String(d.detail)})` : ''}`;
    case 'staff':
      // An announcement says what: the phrase's id or the words typed.
      return `${String(d.actor)} ${actionText(String(d.action))}${d.action === 'announce' && typeof d.text === 'string' ? `: ${d.text}` : ''}`;
    case 'mode':
      return `Mode ${d.from === null ? '' : `${mode(d.from)} → `}${mode(d.to)}`;
    case 'policy':
      return d.result === 'applied' ? `${policyInForce(d)} in force` : `Schedule version ${String(d.version ?? '?')} from ${String(d.source)} refused: ${String(d.error ?? '')}`;
    case 'occupancy':
      if (d.change === 'reset') return `Count reset to ${String(d.inside)}${d.actor ? ` by ${String(d.actor)}` : ''}`;
      if (d.change === 'tailgate') return `Possible tailgating: ${String(d.entries ?? '?')} in on ${d.grants === 1 ? '1 card' : `${String(d.grants ?? '?')} cards`}, ${String(d.inside)} inside`;
      if (d.change === 'ignored') return `Not counted: ${String(d.detail ?? 'an oddity of the counting hardware')}`;
      if (d.change === 'uncounted') return `Door opened${d.door ? ` (${String(d.door)})` : ''}: in or out, nothing here can tell; the count is an estimate`;
      return `${d.change === 'entry' ? 'In' : 'Out'}: ${d.confidence === 'estimated' ? 'about ' : ''}${String(d.inside)} inside`;
    case 'warning':
      return `Closing warning: ${String(d.minutesLeft)} minutes left`;
    case 'system':
      return `Gateway ${d.what === 'recovered' ? 'restarted after a crash' : d.what === 'start' ? 'started' : 'stopped'}`;
    case 'reader':
      return `Reader ${String(d.readerId ?? d.reader)}: ${String(d.error)}`;
    case 'members':
      return d.result === 'applied' ? `Member list version ${String(d.version)} in force (${String(d.count ?? '?')} members)` : `Member list refused: ${String(d.error ?? '')}`;
    case 'output': {
      const name = labels.get(String(d.output)) ?? String(d.output);
      return `${name} switched ${d.on === true ? 'on' : 'off'} (${OUTPUT_BY_TEXT[String(d.by)] ?? String(d.by)})`;
    }
    case 'intruder-alarm':
      return intruderAlarmText(d);
    case 'announcement':
      return announcementText(d);
    case 'commissioning':
      return commissioningText(d);
    default:
      return type;
  }
}

/** `labels`: the switched outputs' names from the branch's config (`pcs` → "Public PCs"); by id without. */
export function logRow(event: EventLike, labels: ReadonlyMap<string, string> = NO_LABELS): LogRow {
  const d = event.data;
  return {
    id: event.id,
    at: event.at,
    type: event.type,
    summary: summarise(event.type, d, labels),
    decision: event.type === 'access' && (d.decision === 'granted' || d.decision === 'refused') ? d.decision : null,
    reason: event.type === 'access' ? str(d.reason) : null,
    person: str(d.person),
    actor: str(d.actor),
  };
}

export function storedRow(event: StoredEvent, labels: ReadonlyMap<string, string> = NO_LABELS): LogRow {
  return logRow({ id: event.id, at: event.at, type: event.type, data: event.data }, labels);
}

/** A spreadsheet must not run a cell as a formula (`=HYPERLINK(…)` in a detail text). */
function cell(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export const CSV_HEADER = 'time,local time,type,summary,decision,reason,person,actor,id\r\n';

const QUARTER_HOUR_MS = 900_000;

/**
 * The branch's local time of each event (`YYYY-MM-DDTHH:MM:SS+HH:MM`, as `toLocal` writes it), asking `toLocal` once
 * per quarter hour. Looking the zone's offset up goes through Intl and costs ~50 µs; a CSV export of 100,000 events
 * would spend seconds of the door's event loop on it. Offsets change only at quarter hours (UTC) in every zone in
 * use, so within one the offset of its start holds.
 */
export function localTimes(toLocal: (at: Date) => string): (at: string) => string {
  let bucket = Number.NaN;
  let offsetMs = 0;
  let suffix = '';
  return (at) => {
    const ms = Date.parse(at);
    const b = Math.floor(ms / QUARTER_HOUR_MS);
    if (b !== bucket) {
      const sample = toLocal(new Date(b * QUARTER_HOUR_MS));
      const m = /([+-])(\d{2}):(\d{2})$/.exec(sample);
      if (m === null || sample.length !== 25) return toLocal(new Date(ms));
      bucket = b;
      suffix = sample.slice(19);
      offsetMs = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
    }
    return new Date(ms + offsetMs).toISOString().slice(0, 19) + suffix;
  };
}

export function csvLine(row: LogRow, localTime: string): string {
  return `${[row.at, localTime, row.type, row.summary, row.decision, row.reason, row.person, row.actor, row.id].map(cell).join(',')}\r\n`;
}

/** A console save is a branch override over the version in force, not a version of its own (policy-holder.ts). */
function policyInForce(d: Record<string, unknown>): string {
  const version = String(d.version);
  if (d.source === 'console') return `Branch override (made in the console) over schedule version ${version}`;
  if (d.source === 'central') return `Central's schedule version ${version}`;
  if (d.source === 'file') return `Schedule file version ${version}`;
  return `Schedule version ${version} from ${String(d.source)}`;
}
