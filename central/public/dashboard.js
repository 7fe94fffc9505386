/* global document, window, history, EventSource, IntersectionObserver, performance, requestAnimationFrame, requestIdleCallback, setInterval, setTimeout, URLSearchParams */
// Every branch as a tile, grouped by region (central's `sites` / `regions` config), what needs attention first, kept
// live over server-sent events; a search and filters kept in the address, so a link shows the same view. Built for a
// thousand branches: one element per tile, redrawn alone when its branch changes, live changes applied once per
// animation frame, and tiles off screen not laid out (style.css, content-visibility).
import { api, el, isEstimated, renderTile, serverClock, setConn, signedIn, toLogin } from './common.js';
import { startIncidentsPanel } from './incidents.js';

const groupsNode = document.getElementById('groups');
const summary = document.getElementById('summary');
const empty = document.getElementById('empty');
const noMatch = document.getElementById('no-match');
const shown = document.getElementById('shown');
const conn = document.getElementById('conn');
const membersLine = document.getElementById('members');
const search = document.getElementById('search');
const groupBy = document.getElementById('group');
const filterBoxes = [...document.querySelectorAll('input[name="only"]')];

/** The region of a branch central's config places nowhere (central/http/summary.ts OTHER_REGION). */
const OTHER = 'Other';
const ALL = 'All branches';
/** Worst first, as the incidents panel ranks them; an alarm central does not know is a `warning`. */
const SEVERITY_RANK = { critical: 0, major: 1, warning: 2, minor: 3 };
const collator = new Intl.Collator('en-GB', { numeric: true, sensitivity: 'base' });

/** Central's current member list (GET /api/members), or null. */
let members = null;
/** Central's clock: "since" and "until" on a tile are read against it, in the tile's branch's zone. */
let clock = null;

const hasAlarms = (s) => (s.state?.alarms.length ?? 0) > 0;
/** Behind: the branch holds another version than central's current one (only when central distributes a list). */
const isBehind = (s) => Boolean(members?.enabled && members.current && s.state?.memberList?.version !== members.current.version);
const FILTERS = {
  alarms: { label: 'Alarms', test: hasAlarms },
  offline: { label: 'Offline', test: (s) => !s.online },
  open: { label: 'Open access now', test: (s) => s.online && s.state?.mode === 'open-access' },
  behind: { label: 'Member list behind', test: isBehind },
};

/** What the page shows: read from the address on load, written back to it (replaceState) on every change. */
const view = readView();
function readView() {
  const q = new URLSearchParams(window.location.search);
  return {
    search: q.get('q') ?? '',
    only: new Set(q.getAll('only').filter((f) => Object.hasOwn(FILTERS, f))),
    group: q.get('group') === 'none' ? 'none' : 'region',
    collapsed: new Set(q.getAll('collapsed')),
  };
}
function writeView() {
  const q = new URLSearchParams();
  if (view.search.trim()) q.set('q', view.search.trim());
  for (const f of Object.keys(FILTERS)) if (view.only.has(f)) q.append('only', f);
  if (view.group === 'none') q.set('group', 'none');
  for (const name of [...view.collapsed].sort(collator.compare)) q.append('collapsed', name);
  const qs = q.toString();
  history.replaceState(null, '', `${window.location.pathname}${qs ? `?${qs}` : ''}`);
}

/** Lower case, accents off: "Åre" is found by "are". */
const fold = (text) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

/** One per branch: its summary from central, its <li> (kept for the page's life), its group and its place in it. */
const entries = new Map();
/** Region (or "All branches") → { name, section, toggle, counts, list, entries (in order) }. */
const groups = new Map();

/** Lower sorts first: the worst alarm, then offline, then member list behind, then by name. */
function rankOf(s) {
  const severity = hasAlarms(s) ? (SEVERITY_RANK[s.severity] ?? SEVERITY_RANK.warning) : 4;
  return severity * 4 + (s.online ? 2 : 0) + (isBehind(s) ? 0 : 1);
}
function attention(a, b) {
  return a.rank - b.rank || collator.compare(a.label, b.label) || (a.site.id < b.site.id ? -1 : 1);
}

/** Whether central's config places any branch in a region: without one, "Other" would be every branch. */
let anyRegion = false;
function groupName(s) {
  return view.group === 'none' || !anyRegion ? ALL : (s.region ?? OTHER);
}

function groupOrder(a, b) {
  if ((a === OTHER) !== (b === OTHER)) return a === OTHER ? 1 : -1;
  return collator.compare(a, b);
}

let groupIds = 0;
function makeGroup(name) {
  const id = `group-${++groupIds}`;
  const expanded = !view.collapsed.has(name);
  const toggle = el('button', { type: 'button', class: 'group-toggle', 'aria-expanded': String(expanded), 'aria-controls': id }, el('span', { class: 'group-name', text: name }));
  const counts = el('span', { class: 'group-counts' });
  const list = el('ul', { id, class: 'tiles', 'aria-label': `Branches in ${name}` });
  list.hidden = !expanded;
  const section = el('section', { class: 'group', 'data-region': name }, el('h2', { class: 'group-head' }, toggle, counts), list);
  const group = { name, section, toggle, counts, list, entries: [] };
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    list.hidden = !open;
    if (open) view.collapsed.delete(name);
    else view.collapsed.add(name);
    writeView();
  });
  const after = [...groups.values()].filter((g) => groupOrder(g.name, name) > 0).sort((a, b) => groupOrder(a.name, b.name))[0];
  groupsNode.insertBefore(section, after?.section ?? null);
  groups.set(name, group);
  return group;
}

/**
 * A tile is drawn when it is on screen (or near it), and the rest in idle time: a thousand tiles take a second or
 * more to build, and the first screen should not wait for them. Until drawn, a tile is its branch's name as a link.
 * A change to a tile off screen marks it stale; it is drawn again on the way into view, or when the page is idle.
 */
const FIRST_SCREEN = 48;
const onScreen = new Set();
const observer = new IntersectionObserver(
  (records) => {
    for (const record of records) {
      const entry = entries.get(record.target.dataset.site);
      if (!entry) continue;
      if (!record.isIntersecting) {
        onScreen.delete(entry);
        continue;
      }
      onScreen.add(entry);
      if (entry.stale) drawTile(entry);
    }
  },
  { rootMargin: '600px 0px' },
);

let filling = 0;
let allDrawnMarked = false;
function scheduleFill() {
  filling ||= requestIdleCallback(fill, { timeout: 2000 });
}
function fill(deadline) {
  filling = 0;
  let chunk = 50;
  for (const entry of entries.values()) {
    if (!entry.stale) continue;
    if (deadline.didTimeout ? chunk-- <= 0 : deadline.timeRemaining() < 2) {
      scheduleFill();
      return;
    }
    drawTile(entry);
  }
  if (!allDrawnMarked) {
    allDrawnMarked = true;
    performance.mark('dashboard-all-drawn');
  }
}

/** The tile itself is common.js's (the branch page's too). */
function drawTile(entry) {
  entry.stale = false;
  const s = entry.site;
  const tile = renderTile(s, { members: members?.current ?? null, now: clock.now(), timeZone: clock.zoneOf(s.id) });
  // Redrawn under the keyboard's focus: the focus stays on the branch's link.
  const focused = entry.li.contains(document.activeElement);
  entry.li.replaceChildren(tile);
  if (focused) tile.querySelector('h2 a')?.focus();
}

/** A branch's new summary: drawn now when its tile is on screen, else when it comes into view or the page is idle. */
function refreshEntry(entry, site) {
  entry.site = site;
  entry.label = site.name ?? site.id;
  entry.haystack = fold(`${site.name ?? ''} ${site.id}`);
  entry.rank = rankOf(site);
  entry.stale = true;
  if (onScreen.has(entry)) drawTile(entry);
  else scheduleFill();
}

function newEntry(site) {
  const li = el('li', { 'data-site': site.id });
  li.append(el('div', { class: 'tile-pending' }, el('a', { href: `/sites/${encodeURIComponent(site.id)}`, text: site.name ?? site.id })));
  const entry = { site, li, label: '', haystack: '', rank: 0, group: null, visible: true, stale: true };
  entries.set(site.id, entry);
  refreshEntry(entry, site);
  observer.observe(li);
  return entry;
}

function dropEntry(entry) {
  observer.unobserve(entry.li);
  onScreen.delete(entry);
  entry.li.remove();
  entries.delete(entry.site.id);
}

/** The first screenful: the first tiles shown, in page order, drawn before the page is first painted. */
function drawFirstScreen() {
  let left = FIRST_SCREEN;
  for (const g of groups.values()) {
    if (g.list.hidden) continue;
    for (const entry of g.entries) {
      if (!entry.visible) continue;
      if (entry.stale) drawTile(entry);
      if (--left === 0) return;
    }
  }
}

/** Every group's tiles in order, from scratch: the first snapshot, a regrouping, a new member list version. */
function placeAll() {
  anyRegion = [...entries.values()].some((e) => (e.site.region ?? OTHER) !== OTHER);
  for (const g of groups.values()) g.entries = [];
  for (const entry of entries.values()) {
    const name = groupName(entry.site);
    const group = groups.get(name) ?? makeGroup(name);
    group.entries.push(entry);
    entry.group = group;
  }
  for (const [name, g] of groups) {
    if (g.entries.length === 0) {
      g.section.remove();
      groups.delete(name);
      continue;
    }
    reorder(g, g.entries);
  }
}

/**
 * After changes: each changed tile moved to its new place, the rest left where they are (a tile moved loses the
 * keyboard's focus). Changed tiles are placed from the last to the first, each before the tile that now follows it,
 * which is either unchanged (and so still in order among the unchanged) or placed already.
 */
function reorder(group, changed) {
  group.entries.sort(attention);
  const index = new Map(group.entries.map((e, i) => [e, i]));
  for (const entry of [...changed].sort((a, b) => index.get(b) - index.get(a))) {
    const next = group.entries[index.get(entry) + 1]?.li ?? null;
    if (entry.li.parentNode !== group.list || entry.li.nextElementSibling !== next) group.list.insertBefore(entry.li, next);
  }
}

function matches(entry) {
  const needle = fold(view.search.trim());
  if (needle && !entry.haystack.includes(needle)) return false;
  if (view.only.size === 0) return true;
  for (const f of view.only) if (FILTERS[f].test(entry.site)) return true;
  return false;
}

/** "Alarms 2 · Offline 3": the filters' counts among `sites`, the ones with none left out. */
function countsText(sites) {
  return Object.entries(FILTERS)
    .filter(([f]) => f !== 'behind' || members?.enabled)
    .map(([, f]) => [f.label, sites.filter(f.test).length])
    .filter(([, n]) => n > 0)
    .map(([label, n]) => `${label} ${n}`)
    .join(' · ');
}

/** Which tiles show, and every count: after each batch of changes and each change of the view. */
function refreshView() {
  const all = [...entries.values()];
  let visible = 0;
  for (const entry of all) {
    const show = matches(entry);
    if (show !== entry.visible) {
      entry.li.hidden = !show;
      entry.visible = show;
    }
    if (show) visible++;
  }
  for (const g of groups.values()) {
    const inGroup = g.entries.filter((e) => e.visible);
    g.section.hidden = inGroup.length === 0;
    const sites = g.entries.map((e) => e.site);
    const count = inGroup.length === g.entries.length ? `${g.entries.length}` : `${inGroup.length} of ${g.entries.length}`;
    const problems = countsText(sites);
    g.counts.textContent = `${count} ${g.entries.length === 1 ? 'branch' : 'branches'}${problems ? ` · ${problems}` : ''}`;
  }
  const sites = all.map((e) => e.site);
  for (const [f, filter] of Object.entries(FILTERS)) {
    document.querySelector(`[data-count="${f}"]`).textContent = `(${sites.filter(filter.test).length})`;
  }
  document.getElementById('behind-filter').hidden = !members?.enabled;
  const narrowed = view.search.trim() !== '' || view.only.size > 0;
  shown.textContent = narrowed ? `Showing ${visible} of ${all.length} ${all.length === 1 ? 'branch' : 'branches'}` : '';
  noMatch.hidden = !(narrowed && visible === 0 && all.length > 0);
  refreshSummary(sites);
}

function refreshSummary(all) {
  const online = all.filter((s) => s.online).length;
  const inside = all.reduce((n, s) => n + (s.state?.occupancy.inside ?? 0), 0);
  // One branch's estimate makes the total one too.
  const about = all.some((s) => isEstimated(s.state)) ? 'about ' : '';
  const alarms = all.filter(hasAlarms).length;
  summary.textContent = `${all.length} ${all.length === 1 ? 'branch' : 'branches'} · ${online} online · ${about}${inside} ${inside === 1 ? 'person' : 'people'} inside${alarms ? ` · ${alarms} with alarms` : ''}`;
  empty.hidden = all.length > 0;
  refreshMembersLine(all);
}

/** At most this many branches named on the member list's line; the filter shows them all. */
const BEHIND_NAMED = 10;
function refreshMembersLine(all) {
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
  const behind = all.filter(isBehind).map((s) => s.id);
  const named = behind.length > BEHIND_NAMED ? `${behind.slice(0, BEHIND_NAMED).join(', ')} and ${behind.length - BEHIND_NAMED} more` : behind.join(', ');
  membersLine.textContent =
    `Member list v${current.version} · ${current.count.toLocaleString('en-GB')} members · ` + (behind.length === 0 ? 'every branch current' : `${behind.length} behind: ${named}`);
  membersLine.classList.toggle('behind', behind.length > 0);
}

/** The first snapshot, and a new one after the stream reconnects: every tile drawn again (the first screen now). */
function showSnapshot(list) {
  const started = performance.now();
  const ids = new Set(list.map((s) => s.id));
  for (const [id, entry] of entries) if (!ids.has(id)) dropEntry(entry);
  for (const site of list) {
    const entry = entries.get(site.id);
    if (entry) refreshEntry(entry, site);
    else newEntry(site);
  }
  placeAll();
  refreshView();
  drawFirstScreen();
  // For the bench (scripts/bench/dashboard.ts): when the first screen was built, and when it was first painted.
  performance.mark('dashboard-rendered', { detail: { tiles: entries.size, ms: performance.now() - started } });
  requestAnimationFrame(() => setTimeout(() => performance.mark('dashboard-painted')));
}

// Live changes wait for the next animation frame: a burst from many branches is drawn once, each branch once.
const pending = new Map();
let frame = 0;
function applyPending() {
  frame = 0;
  const moved = new Map();
  let added = false;
  for (const site of pending.values()) {
    const entry = entries.get(site.id);
    if (!entry) {
      newEntry(site);
      added = true;
      continue;
    }
    const before = entry.rank;
    refreshEntry(entry, site);
    if (entry.rank !== before) {
      const set = moved.get(entry.group) ?? new Set();
      set.add(entry);
      moved.set(entry.group, set);
    }
  }
  pending.clear();
  if (added) placeAll();
  else for (const [group, changed] of moved) reorder(group, changed);
  refreshView();
}
function queue(site) {
  pending.set(site.id, site);
  frame ||= requestAnimationFrame(applyPending);
}

/** Every tile again (a new member list version changes each tile's row and its place; "since" ages): those on screen now. */
function redrawAll() {
  for (const entry of entries.values()) refreshEntry(entry, entry.site);
  placeAll();
  refreshView();
}

// The current version changes rarely; a branch's version arrives with its state. Looked up again shortly after
// any branch changes, and once a minute.
let membersTimer = null;
async function loadMembers() {
  membersTimer = null;
  const res = await api('/members').catch(() => null);
  if (!res?.ok) return;
  const before = members?.current?.version;
  const wasEnabled = members?.enabled;
  members = res.body;
  if (members.current?.version !== before || members.enabled !== wasEnabled) redrawAll();
  else refreshView();
}
function soonMembers() {
  membersTimer ??= setTimeout(loadMembers, 1000);
}

function bindView() {
  search.value = view.search;
  groupBy.value = view.group;
  for (const box of filterBoxes) box.checked = view.only.has(box.value);
  search.addEventListener('input', () => {
    view.search = search.value;
    writeView();
    refreshView();
  });
  for (const box of filterBoxes) {
    box.addEventListener('change', () => {
      if (box.checked) view.only.add(box.value);
      else view.only.delete(box.value);
      writeView();
      refreshView();
    });
  }
  groupBy.addEventListener('change', () => {
    view.group = groupBy.value === 'none' ? 'none' : 'region';
    writeView();
    placeAll();
    refreshView();
  });
  const clear = () => {
    view.search = '';
    view.only.clear();
    search.value = '';
    for (const box of filterBoxes) box.checked = false;
    writeView();
    refreshView();
    search.focus();
  };
  document.getElementById('clear').addEventListener('click', clear);
  document.getElementById('clear-too').addEventListener('click', clear);
  document.getElementById('view').addEventListener('submit', (e) => e.preventDefault());
  // "/" finds a branch from anywhere on the page but a field being typed in.
  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || e.target.closest('input, textarea, select, [contenteditable]')) return;
    e.preventDefault();
    search.focus();
    search.select();
  });
}

// Signed in first: the page itself holds no data, everything on it comes from the API.
const session = await signedIn();
clock = await serverClock();
bindView();
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
  pending.clear();
  showSnapshot(JSON.parse(e.data));
});
source.addEventListener('site', (e) => {
  queue(JSON.parse(e.data));
  soonMembers();
});
// "since" and "until" read relative to now: redrawn once a minute.
setInterval(redrawAll, 60_000);
