/* global document, EventSource, setInterval, CSS */
// All branches as tiles, kept live over server-sent events.
import { renderTile, setConn } from './common.js';

const tiles = document.getElementById('tiles');
const summary = document.getElementById('summary');
const empty = document.getElementById('empty');
const conn = document.getElementById('conn');
const sites = new Map();

function place(site) {
  sites.set(site.id, site);
  const tile = renderTile(site);
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
  const alarms = all.filter((s) => s.state?.alarms.length).length;
  summary.textContent = `${all.length} branches · ${online} online · ${inside} people inside${alarms ? ` · ${alarms} with alarms` : ''}`;
  empty.hidden = all.length > 0;
}

const source = new EventSource('/api/live');
source.addEventListener('open', () => setConn(conn, true));
source.addEventListener('error', () => setConn(conn, false));
source.addEventListener('sites', (e) => {
  tiles.replaceChildren();
  sites.clear();
  for (const s of JSON.parse(e.data)) place(s);
  refreshSummary();
});
source.addEventListener('site', (e) => {
  place(JSON.parse(e.data));
  refreshSummary();
});
// "since" and "until" read relative to now: redraw them once a minute.
setInterval(() => {
  for (const s of sites.values()) place(s);
}, 60_000);
