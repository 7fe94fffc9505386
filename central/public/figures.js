/* global document, window, URLSearchParams */
import { ACCESS_REASONS, api, el, fillRows, nameOf, serverClock, signedIn } from './common.js';
import { AGE_BAND_LABELS, GRANT_KIND_LABELS } from './figure-labels.js';
import { alarmLabel } from './incidents.js';
import { addDays, localDate } from './zoned-time.js';

const from = document.getElementById('from');
const to = document.getElementById('to');
const by = document.getElementById('by');
const site = document.getElementById('site');
const region = document.getElementById('region');
/** Each branch's region (central's `sites` / `regions` config), as the dashboard groups them. */
const regionOf = new Map();
const error = document.getElementById('error');
/** The default period: the last seven days to today, by central's clock in the zone the figures are counted in. */
async function defaultPeriod() {
  const clock = await serverClock();
  const today = localDate(clock.now(), clock.timezone);
  to.value = today;
  from.value = addDays(today, -6);
}

function query(extra = {}) {
  const q = new URLSearchParams({ from: from.value, to: to.value, by: by.value, ...extra });
  if (site.value.trim()) q.set('site', site.value.trim());
  if (region.value) q.set('region', region.value);
  return q.toString();
}

const num = (n) => el('td', { class: 'num', text: String(n) });

async function show() {
  error.textContent = '';
  const answers = await Promise.all(['visits', 'refusals', 'tailgates', 'grants'].map((figure) => api(`/figures/${figure}?${query()}`)));
  const failed = answers.find((a) => !a.ok);
  if (failed) {
    error.textContent = (failed.body?.errors ?? [failed.body?.message]).join('; ');
    return;
  }
  const [v, r, t, g] = answers;
  const visitRow = (x) => el('tr', {}, el('td', { text: x.site }), el('td', { text: x.period }), num(x.staffed), num(x.openAccess), num(x.booking), num(x.other), num(x.total), num(x.uncountedOpenings ?? 0));
  fillRows('visits', v.body.rows.map(visitRow), 'No visits in this period.', 8);
  fillRows('tailgates', t.body.rows.map((x) => el('tr', {}, el('td', { text: x.site }), el('td', { text: x.period }), num(x.tailgates), num(x.extraPeople))), 'No tailgates in this period.', 4);
  const grantRow = (x) => el('tr', {}, el('td', { text: x.site }), el('td', { text: nameOf(GRANT_KIND_LABELS, x.kind, 'kind') }), el('td', { text: nameOf(AGE_BAND_LABELS, x.ageBand, 'age band') }), num(x.count));
  fillRows('grants', g.body.rows.map(grantRow), 'No card entries in this period.', 4);
  fillRows('refusals', r.body.rows.map((x) => el('tr', {}, el('td', { text: x.site }), el('td', { text: nameOf(ACCESS_REASONS, x.reason, 'reason') }), num(x.count))), 'No refusals in this period.', 3);
  document.getElementById('visits-csv').href = `/api/figures/visits?${query({ format: 'csv' })}`;
  document.getElementById('refusals-csv').href = `/api/figures/refusals?${query({ format: 'csv' })}`;
  document.getElementById('tailgates-csv').href = `/api/figures/tailgates?${query({ format: 'csv' })}`;
  document.getElementById('grants-csv').href = `/api/figures/grants?${query({ format: 'csv' })}`;
  // The month the period ends in, for the branch chosen (or the estate).
  const month = new URLSearchParams({ month: to.value.slice(0, 7) });
  if (site.value.trim()) month.set('site', site.value.trim());
  document.getElementById('report-link').href = `/report?${month}`;
  await showIncidents();
}

const seconds = (s) => (s === null ? '—' : s < 90 ? `${s} s` : `${Math.round(s / 60)} min`);

async function showIncidents() {
  const q = new URLSearchParams({ from: from.value, to: to.value });
  const res = await api(`/figures/incidents?${q}`);
  if (!res.ok) {
    error.textContent = (res.body?.errors ?? [res.body?.message]).join('; ');
    return;
  }
  const f = res.body;
  const ack = f.timeToAcknowledge;
  document.getElementById('ack-times').textContent =
    `${f.total} incidents · time to acknowledge: median ${seconds(ack.medianSeconds)}, p95 ${seconds(ack.p95Seconds)} (${ack.count} acknowledged, ${f.unacknowledged} not)`;
  const body = document.getElementById('incident-figures');
  const rows = f.bySiteAndAlarm.filter((r) => (!site.value.trim() || r.site === site.value.trim()) && (!region.value || (regionOf.get(r.site) ?? 'Other') === region.value));
  body.replaceChildren(...rows.map((r) => el('tr', {}, el('td', { text: r.site }), el('td', { text: alarmLabel(r) }), num(r.count))));
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'No incidents in this period.' })));
  document.getElementById('incidents-csv').href = `/api/figures/incidents?${new URLSearchParams({ from: from.value, to: to.value, format: 'csv' })}`;
}

document.getElementById('range').addEventListener('submit', (e) => {
  e.preventDefault();
  void show();
});
/** The regions of the branches central knows, Other last, for the region filter. */
async function loadRegions() {
  const res = await api('/sites');
  if (!res.ok) return;
  for (const s of res.body.sites) regionOf.set(s.id, s.region);
  const names = [...new Set(regionOf.values())].sort((a, b) => (a === 'Other') - (b === 'Other') || a.localeCompare(b, 'en-GB'));
  region.append(...names.map((name) => el('option', { value: name, text: name })));
  // A link from elsewhere may name one: /figures?region=North.
  const asked = new URLSearchParams(window.location.search).get('region');
  if (asked && names.includes(asked)) region.value = asked;
}

await signedIn();
await Promise.all([defaultPeriod(), loadRegions()]);
void show();
