// Words and times for people: modes, door states, alarms, and times in the branch's own time zone (the tablet's
// may differ).
export const MODE_LABELS = {
  staffed: 'Staffed',
  'open-access': 'Open access',
  changeover: 'Changeover',
  closed: 'Closed',
  lockdown: 'Lockdown',
  emergency: 'Emergency',
};

export const MODE_HINTS = {
  staffed: 'Staff on duty: the door is free to enter.',
  'open-access': 'Registered card holders let themselves in.',
  changeover: 'Only staff cards open the door while the building is checked.',
  closed: 'Only group bookings and staff cards open the door.',
  lockdown: 'Nobody is let in. The exit still opens.',
  emergency: 'Fire alarm: doors released, lights on. Acknowledge once the alarm has cleared.',
};

export const DOOR_LABELS = {
  locked: 'Locked',
  unlocked: 'Unlocked',
  open: 'Open',
  'held-open': 'Held open too long',
  'forced-open': 'Forced open',
  released: 'Released (fire)',
  lockdown: 'Locked down',
};

export const ALARM_LABELS = {
  'forced-open': 'Door forced open',
  'held-open': 'Door held open',
  fire: 'Fire alarm',
  tamper: 'Reader or panel tampered with',
  'people-inside-after-close': 'People still inside after closing',
  'reader-offline': 'Card reader offline',
  'clock-untrusted': 'Clock not synchronised',
  'member-list-stale': 'Member list out of date',
  'policy-refused': 'A schedule from central was refused',
  'door-released-closed': 'Door released by the fire alarm while closed',
  undervoltage: "The gateway's power supply is too weak",
  'mains-lost': 'Mains power off: running on battery',
  'help-requested': 'Someone pressed the help-call button',
  'unknown-card-burst': 'Many unknown cards tried at a reader',
  'lms-block-not-in-list': 'Library system blocks a member the list let in',
  'pin-lockout': 'A card locked out after wrong PINs',
  'pin-check-unavailable': 'Library system cannot check PINs: card only',
  tailgating: 'More people came in than cards were let in',
  'intruder-alarm-fault': 'The intruder alarm did not set or unset as asked',
  'sound-failed': 'Announcements cannot be played (sound device)',
  'building-outputs-failed': 'PCs, heating and other outputs are not following the schedule',
  'intruder-alarm-failed': 'The link to the intruder alarm failed',
  'announcements-failed': 'Announcements failed',
  'output-failed': 'An output (door relay, lights) cannot drive its line: taking it back',
};

/** The intruder alarm panel (contract 1.9): as its status input says, or on its way after the branch asked. */
export const INTRUDER_ALARM_LABELS = {
  set: 'Set',
  unset: 'Unset',
  setting: 'Setting…',
  unsetting: 'Unsetting…',
};

/** The prepared phrases a branch can announce (PHRASE_IDS in policies/schema.ts), as staff read them. */
export const PHRASE_LABELS = {
  'closing-soon': 'Closing soon (the minutes left)',
  'closing-now': 'Closing now',
  'please-leave': 'Please leave the building',
  'door-held': 'Please close the door behind you',
  'booking-ending': 'The group booking is ending',
  'help-acknowledged': 'Help is on its way',
  welcome: 'Welcome',
  evacuate: 'Evacuate the building',
};

export const WEEKDAYS = [
  ['mon', 'Monday'],
  ['tue', 'Tuesday'],
  ['wed', 'Wednesday'],
  ['thu', 'Thursday'],
  ['fri', 'Friday'],
  ['sat', 'Saturday'],
  ['sun', 'Sunday'],
];
export const WEEKDAY_NAMES = Object.fromEntries(WEEKDAYS);

export const SOURCE_TEXT = {
  file: 'the policy file on the gateway',
  console: 'this console',
  central: 'central',
};

const formatters = new Map();
function formatter(timeZone, options) {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  if (!formatters.has(key)) formatters.set(key, new Intl.DateTimeFormat('en-GB', { timeZone, ...options }));
  return formatters.get(key);
}

export function localDate(iso, timeZone) {
  return formatter(timeZone, { year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso)).split('/').reverse().join('-');
}

export function time(iso, timeZone) {
  return formatter(timeZone, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
}

/** "20:00" today, "Tue 08:00" within a week, "12 Mar 08:00" after. */
export function when(iso, timeZone, now = new Date()) {
  if (!iso) return '';
  const t = new Date(iso);
  if (localDate(iso, timeZone) === localDate(now.toISOString(), timeZone)) return time(iso, timeZone);
  const days = (t.getTime() - now.getTime()) / 86_400_000;
  if (days > -6 && days < 6) return `${formatter(timeZone, { weekday: 'short' }).format(t)} ${time(iso, timeZone)}`;
  return `${formatter(timeZone, { day: 'numeric', month: 'short' }).format(t)} ${time(iso, timeZone)}`;
}

export function dateTime(iso, timeZone) {
  return formatter(timeZone, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
}

export function longDate(date) {
  const [y, m, d] = date.split('-').map(Number);
  return new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
}

export function ago(iso, now = new Date()) {
  if (!iso) return 'never';
  const s = Math.round((now.getTime() - new Date(iso).getTime()) / 1000);
  if (s < 90) return 'just now';
  if (s < 5400) return `${Math.round(s / 60)} minutes ago`;
  if (s < 129_600) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

export function number(n) {
  return new Intl.NumberFormat('en-GB').format(n);
}
