/* global document, EventSource, setInterval, setTimeout, CSS */
// All branches as tiles, kept live over server-sent events; which of them are behind on the member list.
import { api, isEstimated, renderTile, serverClock, setConn, signedIn, toLogin } from './common.js';
import { startIncidentsPanel } from './incidents.js';

const tiles = document.getElementById('tiles');
const summary = document.getElementById('summary');
const empty = document.getElementById('empty');
const conn = document.getElementById('conn');
const membersLine = document.getElementById('members');
const sites = new Map();
/** Central's current member list (GET /api/members), or null. */
let members = null;
/** Central's clock: "since" and "until" on a tile are read against it, in the tile's branch's zone. */
let clock = null;

function place(site) {
  sites.set(site.id, site);
  const tile = renderTile(site, { members: members?.current ?? null, now: clock.now(), timeZone: clock.zoneOf(site.id) });
  const existing = tiles.querySelector(`li[data-site="${CSS.escape(site.id)}"]`);
  if (existing) {
    existing.replaceChildren(tile);
    return;
  }
  const li = document.createElement('li');
  li.dataset.site = site.id;
  li.append(tile);
  // Keep the tiles in alphabetical order as new branches appear.
  const after = [...tiles.children].find((c) => c.dataset.site > site.id);
  tiles.insertBefore(li, after ?? null);
}

function refreshSummary() {
  const all = [...sites.values()];
  const online = all.filter((s) => s.online).length;
  const inside = all.reduce((n, s) => n + (s.state?.occupancy.inside ?? 0), 0);
  // One branch's estimate makes the total one too.
  const about = all.some((s) => isEstimated(s.state)) ? 'about ' : '';
  const alarms = all.filter((s) => s.state?.alarms.length).length;
  summary.textContent = `${all.length} ${all.length === 1 ? 'branch' : 'branches'} · ${online} online · ${about}${inside} ${inside === 1 ? 'person' : 'people'} inside${alarms ? ` · ${alarms} with alarms` : ''}`;
  empty.hidden = all.length > 0;
  refreshMembersLine();
}

function refreshMembersLine() {
  if (!members?.enabled) {
    membersLine.hidden = true;
    return;
  }
  membersLine.hidden = false;
  const current = members.current;
  if (!current) {
    membersLine.textContent = 'Member list: none imported yet';
    return;
  }
  const behind = [...sites.values()].filter((s) => s.state?.memberList?.version !== current.version).map((s) => s.id);
  membersLine.textContent =
    `Member list v${current.version} · ${current.count.toLocaleString('en-GB')} members · ` +
    (behind.length === 0 ? 'every branch current' : `${behind.length} behind: ${behind.join(', ')}`);
  membersLine.classList.toggle('behind', behind.length > 0);
}

// The current version changes rarely; a branch's version arrives with its state. Looked up again shortly after
// any branch changes, and once a minute.
let membersTimer = null;
async function loadMembers() {
  membersTimer = null;
  const res = await api('/members').catch(() => null);
  if (!res?.ok) return;
  const before = members?.current?.version;
  members = res.body;
  if (members.current?.version !== before) for (const s of sites.values()) place(s);
  refreshMembersLine();
}
function soonMembers() {
  membersTimer ??= setTimeout(loadMembers, 1000);
}
// Signed in first: the page itself holds no data, everything on it comes from the API.
const session = await signedIn();
clock = await serverClock();
void loadMembers();
setInterval(loadMembers, 60_000);

const source = new EventSource('/api/live');
source.addEventListener('open', () => setConn(conn, true));
void startIncidentsPanel({ session, source, baseTitle: document.title });
source.addEventListener('error', () => {
  setConn(conn, false);
  // An EventSource does not say why: a session that ended is found out here, and the browser goes to sign in.
  void api('/auth/session').then((res) => res.status === 401 && toLogin());
});
// Central ends the stream when the session ends (signed out elsewhere, account removed or demoted).
source.addEventListener('signed-out', () => {
  source.close();
  toLogin();
});
source.addEventListener('sites', (e) => {
  tiles.replaceChildren();
  sites.clear();
  for (const s of JSON.parse(e.data)) place(s);
  refreshSummary();
});
source.addEventListener('site', (e) => {
  place(JSON.parse(e.data));
  refreshSummary();
  soonMembers();
});
// "since" and "until" read relative to now: redraw them once a minute.
setInterval(() => {
  for (const s of sites.values()) place(s);
}, 60_000);
