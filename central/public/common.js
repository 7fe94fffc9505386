/* global document, fetch, window, performance, setTimeout, setInterval */
// Shared by the pages: labels, central's clock and time formatting, the tile, and who is signed in. DOM is built with
// textContent only (no HTML from data).
import { localDate } from './zoned-time.js';

export const MODE_LABELS = {
  staffed: 'Staffed',
  'open-access': 'Open access',
  changeover: 'Changeover',
  closed: 'Closed',
  lockdown: 'Lockdown',
  emergency: 'Emergency',
};

export const DOOR_LABELS = {
  locked: 'Locked',
  unlocked: 'Unlocked',
  open: 'Open',
  'held-open': 'Held open',
  'forced-open': 'Forced open',
  released: 'Released (fire)',
  lockdown: 'Locked down',
};

export const ALARM_LABELS = {
  'forced-open': 'Door forced open',
  'held-open': 'Door held open',
  fire: 'Fire alarm',
  tamper: 'Tamper',
  'people-inside-after-close': 'People inside after close',
  'reader-offline': 'Reader offline',
  'clock-untrusted': 'Clock not trusted',
  'member-list-stale': 'Member list stale',
  'policy-refused': 'Policy refused',
  storage: 'Storage not writable',
  'uplink-failed': 'Link to central failed',
  'local-api-failed': 'Staff console and local API failed',
  'retention-failed': 'Log retention failed',
  'config-invalid': 'Config section left out',
  'sip2-failed': 'Library system (SIP2) failed',
  'member-sync-failed': 'Member list sync failed',
  'listener-failed': 'Gateway part failed',
  'door-released-closed': 'Door released by the fire alarm while closed',
  undervoltage: 'Gateway supply under-voltage',
  'mains-lost': 'Mains power lost (on UPS)',
  'power-failed': 'Power watch failed',
  'help-requested': 'Help requested at the door',
  'unknown-card-burst': 'Burst of unknown cards at a reader',
  'lms-block-not-in-list': 'Library system block not yet in the member list',
  'pin-lockout': 'Card locked out after wrong PINs',
  'pin-check-unavailable': 'PIN check by the library system unavailable',
  tailgating: 'Someone followed a card holder in',
  'intruder-alarm-fault': 'Intruder alarm did not set or unset as asked',
  'sound-failed': 'Announcements cannot be played',
  'building-outputs-failed': 'Switched outputs (PCs, heating) not following the schedule',
  'intruder-alarm-failed': 'Intruder alarm link failed',
  'announcements-failed': 'Announcements failed',
  'output-failed': 'Door relay or another output cannot be driven',
};

/** 1.9: the intruder alarm panel as the branch reports it (`setting…`: waiting for the panel to confirm). */
export const INTRUDER_ALARM_LABELS = {
  set: 'Set',
  unset: 'Unset',
  setting: 'Setting…',
  unsetting: 'Unsetting…',
};

/** 1.9: the prepared phrases a branch can announce (PHRASE_IDS in policies/schema.ts), as staff read them. */
export const PHRASE_LABELS = {
  welcome: 'Welcome (open access)',
  'closing-soon': 'Closing soon (the minutes left)',
  'closing-now': 'Closing now',
  'please-leave': 'Please leave the building',
  'door-held': 'Please close the door behind you',
  evacuate: 'Evacuate the building',
  'booking-ending': 'The group booking is ending',
  'help-acknowledged': 'Help is on its way',
};

/** Why an entry was granted or refused (policies/types.ts), shown as the gateway names it. */
export const ACCESS_REASONS = [
  'staffed',
  'member',
  'staff',
  'booking',
  'exit',
  'accompanied',
  'unknown-card',
  'not-registered',
  'expired',
  'blocked',
  'under-age',
  'closed',
  'changeover',
  'last-entry-passed',
  'full',
  'lockdown',
  'emergency',
  'clock-untrusted',
  'member-list-stale',
  'pin-required',
  'pin-wrong',
  'pin-locked',
  'pin-check-unavailable',
  'unknown-card-burst',
  'bad-token',
  'token-expired',
  'token-other-site',
  'token-replayed',
];

/**
 * A name from one of the contract's open lists, for display: its label (or, for a list without labels, the name
 * itself), or the raw name marked unknown. A newer gateway may send names this central does not know yet; they are
 * shown as they came, never dropped. `known` is a label map or an array of names.
 */
export function nameOf(known, name, what) {
  const isKnown = Array.isArray(known) ? known.includes(name) : Object.hasOwn(known, name);
  if (!isKnown) return `Unknown ${what}: ${name}`;
  return Array.isArray(known) ? name : known[name];
}

/** Why a switched output changed (the `output` event's `by`). */
const OUTPUT_BY = { schedule: 'by the schedule', start: 'as the schedule says, at start' };

/**
 * The building's events (1.9) as [what, detail] for the branch's event list: a switched output (by its label in
 * the branch's state `outputs`, else its id), the intruder alarm's set and unset, an announcement with its languages
 * and what became of it. Null for any other type.
 */
export function describeBuildingEvent(e, outputs = []) {
  switch (e.type) {
    case 'output': {
      const name = outputs.find((o) => o.id === e.output)?.label ?? e.output;
      return [`${name} switched ${e.on ? 'on' : 'off'}`, OUTPUT_BY[e.by] ?? e.by];
    }
    case 'intruder-alarm': {
      const set = e.action === 'set';
      const what = {
        requested: `Intruder alarm ${set ? 'setting…' : 'unsetting…'}`,
        confirmed: `Intruder alarm ${set ? 'set' : 'unset'}`,
        failed: `Intruder alarm did not ${set ? 'set' : 'unset'}`,
        'at-panel': `Intruder alarm ${set ? 'set' : 'unset'} at the panel`,
      }[e.outcome] ?? `Intruder alarm ${e.action}: unknown outcome ${e.outcome}`;
      return [what, e.outcome === 'failed' ? `the panel did not confirm · ${e.by}` : e.by];
    }
    case 'announcement': {
      const failed = e.outcome === 'failed';
      const phrase = e.phrase === 'text' ? (failed || !e.detail ? 'staff’s words' : `“${e.detail}”`) : nameOf(PHRASE_LABELS, e.phrase, 'phrase');
      return [`Announced: ${phrase}`, `${(e.languages ?? []).join(', ')} · ${failed ? `failed: ${e.detail ?? 'no reason given'}` : e.outcome}`];
    }
    default:
      return null;
  }
}

/** Central's clock once `serverClock()` has answered; until then (and on a page that never asks) the browser's. */
let centralClock = null;
let clockStarting = null;
/** How soon the second look at central's clock comes (its first rate), then how often after that. */
const FIRST_RESYNC_MS = 2_000;
const RESYNC_MS = 15_000;

/** One look at central's clock (GET /api/time), placed at the middle of the request's round trip. */
async function sampleCentral() {
  const sent = performance.now();
  const res = await api('/time');
  if (!res.ok) throw new Error(`central answered ${res.status} for its time`);
  return { browser: (sent + performance.now()) / 2, central: Date.parse(res.body.now), zones: res.body };
}

/**
 * Central's clock, for every page: `now()`, central's zone (`timezone`) and a branch's (`zoneOf(site)`). "Today",
 * "this week", "online since" and the default periods are central's (its injected clock: in the demo the replayed
 * day), never the browser's. Between looks at central's clock it runs at the rate central's ran between the last two
 * looks: measured rather than told, so the demo's speed, a test's clock held still and a real 1× all come out right
 * with nothing configured, and a clock that central steps is followed within one look. One per page.
 */
export function serverClock() {
  clockStarting ??= startServerClock();
  return clockStarting;
}

async function startServerClock() {
  // Central unreachable at the first look: the browser's clock until a look succeeds, rather than no page.
  let last = await sampleCentral().catch(() => null);
  let synced = last !== null;
  last ??= { browser: performance.now(), central: Date.now(), zones: { timezone: undefined, sites: {} } };
  let rate = 1;
  const clock = {
    now: () => new Date(last.central + (performance.now() - last.browser) * rate),
    get timezone() {
      return last.zones.timezone;
    },
    zoneOf: (site) => last.zones.sites[site] ?? last.zones.timezone,
  };
  const resync = async () => {
    const next = await sampleCentral().catch(() => null);
    if (next === null) return;
    // A clock central stepped back reads as held still until the next look, never as time running backwards.
    if (synced && next.browser > last.browser) rate = Math.max(0, (next.central - last.central) / (next.browser - last.browser));
    last = next;
    synced = true;
  };
  setTimeout(() => {
    void resync();
    setInterval(resync, RESYNC_MS);
  }, FIRST_RESYNC_MS);
  centralClock = clock;
  return clock;
}

/** Now by central's clock (the browser's before `serverClock()` has answered). */
export function pageNow() {
  return centralClock?.now() ?? new Date();
}

/** Central's zone (undefined, the browser's, before `serverClock()` has answered). */
function pageZone() {
  return centralClock?.timezone;
}

const timeFormats = new Map();
/** "14:05" and "Mon 2 Jun, 14:05" in `timeZone` (undefined: the browser's). */
function timeFormatsIn(timeZone) {
  let f = timeFormats.get(timeZone);
  if (!f) {
    f = {
      time: new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit' }),
      dayTime: new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }),
    };
    timeFormats.set(timeZone, f);
  }
  return f;
}

/** "14:05" today, "Mon 2 Jun, 14:05" otherwise: today and the time of day are `timeZone`'s (default central's). */
export function when(iso, now = pageNow(), timeZone = pageZone()) {
  if (!iso) return '';
  const d = new Date(iso);
  const zone = timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const f = timeFormatsIn(timeZone);
  return localDate(d, zone) === localDate(now, zone) ? f.time.format(d) : f.dayTime.format(d);
}

/** "5 min", "2 h 10 min", "3 days". */
export function duration(fromIso, now = pageNow()) {
  if (!fromIso) return '';
  const mins = Math.max(0, Math.round((now.getTime() - new Date(fromIso).getTime()) / 60000));
  if (mins < 1) return 'just now';
  if (mins < 60) return `${mins} min`;
  const h = Math.floor(mins / 60);
  if (h < 48) return `${h} h${mins % 60 ? ` ${mins % 60} min` : ''}`;
  return `${Math.floor(h / 24)} days`;
}

/** "just now", "5 min ago", "2 h 10 min ago". */
export function ago(fromIso, now = pageNow()) {
  const d = duration(fromIso, now);
  return d === '' || d === 'just now' ? d : `${d} ago`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** A table body (by id) filled with `rows`, or with one muted row saying `empty` across `columns` when there are none. */
export function fillRows(id, rows, empty, columns) {
  const body = document.getElementById(id);
  body.replaceChildren(...rows);
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: columns, class: 'muted', text: empty })));
}

function row(label, value, cls) {
  return el('div', { class: 'row' }, el('span', { class: 'label', text: label }), el('span', { class: cls, text: value }));
}

/** The console's words for a figure the gateway could not count (docs/gateway.md, Occupancy). */
export const ESTIMATED_NOTE = 'Estimated: some comings and goings were not seen.';

/** Whether a branch's state gives its people inside as an estimate (contract 1.8; an older gateway's is counted). */
export function isEstimated(state) {
  return state?.occupancy.confidence === 'estimated';
}

/** "Doors  main locked · meeting-room open", each door's state in its own colour, so an alarm at one stands out. */
function doorsRow(doors) {
  const value = el('span', { class: 'doors' });
  doors.forEach((d, i) => {
    if (i > 0) value.append(' · ');
    value.append(el('span', { class: `door door-${d.state}`, 'data-door': d.id, text: `${d.id} ${nameOf(DOOR_LABELS, d.state, 'door state').toLowerCase()}` }));
  });
  return el('div', { class: 'row' }, el('span', { class: 'label', text: 'Doors' }), value);
}

/**
 * The member-list row of a tile: the version in force at the branch against central's current one
 * (`members` is GET /api/members's `current`, or null when central has none).
 */
function memberListRow(list, members) {
  if (!members) return list ? row('Member list', `v${list.version} · ${list.count.toLocaleString('en-GB')}`) : null;
  if (!list) return row('Member list', 'None yet', 'members-behind');
  const behind = members.version - list.version;
  if (behind === 0) return row('Member list', `v${list.version} · current`, 'members-current');
  return row('Member list', behind > 0 ? `v${list.version} · ${behind} behind` : `v${list.version} · not central's`, 'members-behind');
}

/**
 * The building around the door (1.9), on the branch page: the intruder alarm and since when, each switched output on
 * or off, and "Secured for the night". Nothing for what the branch does not report (no panel, no outputs).
 */
function buildingRows(s, now, timeZone) {
  const rows = [];
  if (s.intruderAlarm) {
    const { state, since } = s.intruderAlarm;
    rows.push(row('Intruder alarm', `${nameOf(INTRUDER_ALARM_LABELS, state, 'intruder alarm state')}${since ? ` since ${when(since, now, timeZone)}` : ''}`, `intruder intruder-${state}`));
  }
  if (s.outputs?.length) {
    const value = el('span', { class: 'outputs' });
    s.outputs.forEach((o, i) => {
      if (i > 0) value.append(' · ');
      value.append(el('span', { class: `output output-${o.on ? 'on' : 'off'}`, 'data-output': o.id, text: `${o.label ?? o.id} ${o.on ? 'on' : 'off'}` }));
    });
    rows.push(el('div', { class: 'row' }, el('span', { class: 'label', text: 'Outputs' }), value));
  }
  if (s.secured === true) rows.push(el('p', { class: 'secured-note', text: 'Secured for the night: closed, nobody inside, intruder alarm set.' }));
  return rows;
}

/**
 * One branch tile (an <article>); `site` is the API's site summary, `timeZone` the branch's (serverClock's zoneOf).
 * `building`: the intruder alarm and switched outputs too (the branch page); a tile on the dashboard shows only a
 * "Secured" badge.
 */
export function renderTile(site, { link = true, now = pageNow(), members = undefined, timeZone = pageZone(), building = false } = {}) {
  const s = site.state;
  const alarms = s ? s.alarms : [];
  const article = el('article', {
    class: `tile${site.online ? '' : ' offline'}${alarms.length ? ' alarming' : ''}`,
    'data-site': site.id,
    'data-online': String(site.online),
    'aria-labelledby': `t-${site.id}`,
  });
  // The name central's config gives the branch, over its id; the id alone for a branch it names not.
  const label = site.name ? [site.name, el('span', { class: 'site-id', text: site.id })] : [site.id];
  const title = link ? el('a', { href: `/sites/${encodeURIComponent(site.id)}` }, ...label) : el('span', {}, ...label);
  article.append(
    el(
      'h2',
      { id: `t-${site.id}` },
      title,
      el(
        'span',
        { class: 'badges' },
        s?.secured === true ? el('span', { class: 'badge secured', title: 'Closed, nobody inside, intruder alarm set', text: 'Secured' }) : null,
        el('span', { class: `badge availability ${site.online ? 'online' : 'offline'}`, text: site.online ? 'Online' : 'Offline' }),
      ),
    ),
  );
  if (site.since) {
    article.append(
      el('p', { class: 'since', title: new Date(site.since).toLocaleString('en-GB', { timeZone }) }, `${site.online ? 'Online' : 'Offline'} since ${when(site.since, now, timeZone)} (${duration(site.since, now)})`),
    );
  }
  const body = el('div', { class: 'tile-body' });
  article.append(body);
  if (!s) {
    body.append(el('p', { class: 'muted', text: 'No state received yet.' }));
    return article;
  }
  const until = s.modeUntil ? ` until ${when(s.modeUntil, now, timeZone)}` : '';
  body.append(row('Mode', `${nameOf(MODE_LABELS, s.mode, 'mode')}${until}`, `mode mode-${s.mode}`));

  const { inside, capacity, motionAt } = s.occupancy;
  const estimated = isEstimated(s);
  const pct = capacity ? Math.min(100, Math.round((inside / capacity) * 100)) : Math.min(100, inside * 2);
  const figure = estimated ? `≈ ${inside}` : `${inside}`;
  const occText = capacity ? `${figure} / ${capacity}` : figure;
  body.append(
    el(
      'div',
      { class: `occupancy${estimated ? ' estimated' : ''}` },
      el('div', { class: 'row' }, el('span', { class: 'label', text: 'Inside' }), el('span', { class: 'occ-text occupancy-count', text: occText, title: estimated ? ESTIMATED_NOTE : null })),
      el(
        'div',
        {
          class: 'occ-track',
          role: 'meter',
          'aria-label': `People inside ${site.id}`,
          'aria-valuemin': 0,
          'aria-valuemax': capacity ?? Math.max(inside, 50),
          'aria-valuenow': inside,
          'aria-valuetext': `${estimated ? 'about ' : ''}${capacity ? `${inside} of ${capacity}` : `${inside}, no limit`}`,
        },
        (() => {
          const fill = el('div', { class: `occ-fill${capacity && inside >= capacity ? ' full' : ''}` });
          fill.style.width = `${pct}%`;
          return fill;
        })(),
      ),
    ),
  );
  if (estimated) body.append(el('p', { class: 'occ-note', text: ESTIMATED_NOTE }));
  // Motion is evidence of someone inside whatever the count says; absent from a gateway without a PIR.
  if (motionAt !== undefined) body.append(row('Motion', motionAt === null ? 'Not seen since the gateway started' : ago(motionAt, now), 'motion'));
  body.append(s.doors ? doorsRow(s.doors) : row('Door', nameOf(DOOR_LABELS, s.door, 'door state'), `door-${s.door}`));
  body.append(row('Lights', s.lights ? 'On' : 'Off'));
  if (building) body.append(...buildingRows(s, now, timeZone));
  const listRow = memberListRow(s.memberList, members);
  if (listRow) body.append(listRow);
  if (alarms.length) {
    body.append(el('ul', { class: 'alarms', 'aria-label': 'Active alarms' }, ...alarms.map((a) => el('li', { text: nameOf(ALARM_LABELS, a, 'alarm') }))));
  } else {
    body.append(el('p', { class: 'no-alarms', text: 'No alarms' }));
  }
  if (site.unknown && Object.keys(site.unknown).length > 0) {
    body.append(el('p', { class: 'unknown-names muted', text: `Gateway speaks contract ${site.contract}: update central to name everything it sends.` }));
  }
  return article;
}

/** The session's CSRF token (GET /api/auth/session), sent with every change. */
let csrfToken = null;

/** To the sign-in page, back here afterwards. */
export function toLogin() {
  const here = `${window.location.pathname}${window.location.search}`;
  window.location.assign(`/login?next=${encodeURIComponent(here)}`);
}

export async function api(path, options = {}) {
  const method = (options.method ?? 'GET').toUpperCase();
  const headers = { ...(options.body ? { 'content-type': 'application/json' } : {}), ...(method !== 'GET' && csrfToken ? { 'x-csrf-token': csrfToken } : {}), ...(options.headers ?? {}) };
  const res = await fetch(`/api${path}`, { ...options, headers });
  let body = null;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) body = await res.json();
  // The session ended (idle, signed out elsewhere, account removed): sign in again, then come back.
  if (res.status === 401 && !path.startsWith('/auth/')) toLogin();
  return { status: res.status, ok: res.ok, body };
}

export const ROLE_ORDER = ['viewer', 'operator', 'administrator'];

export function hasRole(session, needed) {
  return ROLE_ORDER.indexOf(session?.role) >= ROLE_ORDER.indexOf(needed);
}

/**
 * Who is signed in (GET /api/auth/session), shown in the page's header with a sign-out button; links for a higher
 * role than theirs (`data-role`) are left hidden; central's clock started (`serverClock`). Not signed in: off to the
 * sign-in page.
 */
export async function signedIn() {
  const res = await api('/auth/session');
  if (res.status === 401) {
    toLogin();
    return new Promise(() => {});
  }
  if (!res.ok) throw new Error(`central answered ${res.status}`);
  const session = res.body;
  csrfToken = session.csrfToken ?? null;
  for (const link of document.querySelectorAll('[data-role]')) link.hidden = !hasRole(session, link.dataset.role);
  const who = document.getElementById('who');
  if (who) {
    const out = el('button', { type: 'button', class: 'secondary signout', text: 'Sign out' });
    out.addEventListener('click', async () => {
      out.disabled = true;
      await api('/auth/logout', { method: 'POST' }).catch(() => null);
      window.location.assign('/login');
    });
    who.replaceChildren(el('span', { class: 'who-name', text: `${session.username} · ${session.role}` }), out);
  }
  // Every page's times (when, ago, a tile's since) read against central's clock from the first thing it shows.
  await serverClock();
  return session;
}

export function setConn(node, up) {
  node.textContent = up ? 'Live' : 'Reconnecting…';
  node.classList.toggle('down', !up);
}
