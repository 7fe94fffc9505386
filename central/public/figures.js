/* global document, URLSearchParams */
import { ACCESS_REASONS, api, el, nameOf, signedIn } from './common.js';
import { alarmLabel } from './incidents.js';

const from = document.getElementById('from');
const to = document.getElementById('to');
const by = document.getElementById('by');
const site = document.getElementById('site');
const error = document.getElementById('error');
const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const today = new Date();
to.value = iso(today);
from.value = iso(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6));

function query(extra = {}) {
  const q = new URLSearchParams({ from: from.value, to: to.value, by: by.value, ...extra });
  if (site.value.trim()) q.set('site', site.value.trim());
  return q.toString();
}

const num = (n) => el('td', { class: 'num', text: String(n) });

async function show() {
  error.textContent = '';
  const [v, r] = await Promise.all([api(`/figures/visits?${query()}`), api(`/figures/refusals?${query()}`)]);
  if (!v.ok || !r.ok) {
    error.textContent = (v.body?.errors ?? r.body?.errors ?? [v.body?.message ?? r.body?.message]).join('; ');
    return;
  }
  const visits = document.getElementById('visits');
  visits.replaceChildren(...v.body.rows.map((x) => el('tr', {}, el('td', { text: x.site }), el('td', { text: x.period }), num(x.staffed), num(x.openAccess), num(x.other), num(x.total))));
  if (!v.body.rows.length) visits.append(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No visits in this period.' })));
  const refusals = document.getElementById('refusals');
  refusals.replaceChildren(...r.body.rows.map((x) => el('tr', {}, el('td', { text: x.site }), el('td', { text: nameOf(ACCESS_REASONS, x.reason, 'reason') }), num(x.count))));
  if (!r.body.rows.length) refusals.append(el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'No refusals in this period.' })));
  document.getElementById('visits-csv').href = `/api/figures/visits?${query({ format: 'csv' })}`;
  document.getElementById('refusals-csv').href = `/api/figures/refusals?${query({ format: 'csv' })}`;
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
  const rows = site.value.trim() ? f.bySiteAndAlarm.filter((r) => r.site === site.value.trim()) : f.bySiteAndAlarm;
  body.replaceChildren(...rows.map((r) => el('tr', {}, el('td', { text: r.site }), el('td', { text: alarmLabel(r) }), num(r.count))));
  if (!rows.length) body.append(el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'No incidents in this period.' })));
  document.getElementById('incidents-csv').href = `/api/figures/incidents?${new URLSearchParams({ from: from.value, to: to.value, format: 'csv' })}`;
}

document.getElementById('range').addEventListener('submit', (e) => {
  e.preventDefault();
  void show();
});
await signedIn();
void show();
