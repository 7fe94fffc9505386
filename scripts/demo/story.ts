// Turns a gateway's events into the lines a newcomer reads while the demo day runs.
import { DateTime } from 'luxon';
import type { LoggedEvent } from '../../gateway/core/model.js';

const REFUSAL_TEXT: Record<string, string> = {
  'unknown-card': 'card not known here',
  'not-registered': 'not registered for open access',
  expired: 'membership expired',
  blocked: 'card blocked',
  'under-age': 'under the minimum age',
  closed: 'branch closed',
  changeover: 'changeover: staff only',
  'last-entry-passed': 'last entry has passed',
  full: 'building full',
  lockdown: 'lockdown',
  emergency: 'fire alarm: do not enter',
  'clock-untrusted': 'clock not trusted',
  'member-list-stale': 'member list out of date',
  'pin-required': 'PIN needed',
  'pin-wrong': 'wrong PIN',
  'pin-locked': 'PIN locked for now',
  'unknown-card-burst': 'card not known here (burst of unknown cards)',
  'bad-token': 'phone pass not valid',
  'token-expired': 'phone pass expired',
  'token-other-site': 'phone pass for another branch',
  'token-replayed': 'phone pass already used',
};

const INTRUDER_TEXT: Record<string, string> = {
  'set:requested': 'setting',
  'set:confirmed': 'set, the building is secured',
  'set:failed': 'did not set',
  'set:at-panel': 'set at the panel',
  'unset:requested': 'unsetting',
  'unset:confirmed': 'unset',
  'unset:failed': 'did not unset',
  'unset:at-panel': 'unset at the panel',
};

/** `labels`: the switched outputs' labels by id ("Public PCs"), as the branch's config names them. */
export function describeEvent(event: LoggedEvent, timezone: string, prefix = '', labels: Readonly<Record<string, string>> = {}): string | undefined {
  const time = DateTime.fromISO(event.at, { zone: timezone }).toFormat('ccc HH:mm');
  const line = (text: string): string => `${prefix}${time}  ${text}`;
  switch (event.type) {
    case 'access':
      if (event.reader === 'exit') return line(`← exit tap   ${String(event.person)}`);
      // Not a refusal in the visitor's eyes: the keypad lights up and asks for the PIN.
      if (event.reason === 'pin-required') return line(`⌨ PIN asked  ${String(event.person)}`);
      return event.decision === 'granted'
        ? line(`✔ entry      ${String(event.person)} (${String(event.reason)})${atDoor(event)}`)
        : line(`✘ refused    ${String(event.person)}: ${REFUSAL_TEXT[String(event.reason)] ?? String(event.reason)}${atDoor(event)}`);
    case 'occupancy':
      if (event.change === 'tailgate') return line(`⚠ tailgating: ${String(event.entries)} in on ${String(event.grants)} grant(s)`);
      if (event.change === 'reset') return line(`  count reset (${String(event.actor)}), ${String(event.inside)} inside`);
      return undefined;
    case 'mode':
      return line(`▶ mode ${String(event.from)} → ${String(event.to)}${event.until ? ` until ${DateTime.fromISO(String(event.until), { zone: timezone }).toFormat('ccc HH:mm')}` : ''}`);
    case 'warning':
      return line(`⚠ closing in ${String(event.minutesLeft)} minutes: lights flash, sounder`);
    case 'alarm':
      return line(`${event.state === 'raised' ? '🔔 alarm' : '  alarm cleared'} ${String(event.alarm)}${event.detail ? ` (${String(event.detail)})` : ''}`);
    case 'staff':
      return line(`  staff: ${String(event.action)} by ${String(event.actor)}`);
    case 'policy':
      return line(`  policy v${String(event.version)} ${String(event.result)} from ${String(event.source)}`);
    case 'system':
      return line(`  gateway ${String(event.what)}`);
    case 'output':
      return line(`⏻ ${labels[String(event.output)] ?? String(event.output)} switched ${event.on === true ? 'on' : 'off'}${event.by === 'schedule' ? '' : ` (${String(event.by)})`}`);
    case 'intruder-alarm':
      return line(`🛡 intruder alarm: ${INTRUDER_TEXT[`${String(event.action)}:${String(event.outcome)}`] ?? `${String(event.action)} ${String(event.outcome)}`} (${String(event.by)})`);
    case 'announcement':
      // The print driver has already put the words themselves in the story, one line per language.
      if (event.outcome === 'printed') return undefined;
      return line(`🔊 ${String(event.phrase)} [${(event.languages as string[] | undefined)?.join(', ') ?? ''}] ${String(event.outcome)}${event.detail ? `: ${String(event.detail)}` : ''}`);
    default:
      return undefined;
  }
}

/** Where a branch has more than one door, which one (the main door goes without saying). */
function atDoor(event: LoggedEvent): string {
  const door = 'door' in event ? event.door : undefined;
  return door === undefined || door === 'main' ? '' : ` at the ${String(door)} door`;
}
