/* global document, window, URLSearchParams */
// The monthly report: GET /api/figures/report shown as tables made for paper. Every number is the API's; the page
// adds up nothing, so the report and the Figures page cannot disagree.
import { ACCESS_REASONS, api, el, fillRows, nameOf, signedIn } from './common.js';
import { AGE_BAND_LABELS, GRANT_KIND_LABELS } from './figure-labels.js';

const monthInput = document.getElementById('month');
const siteInput = document.getElementById('site');
const error = document.getElementById('error');
const report = document.getElementById('report');

const params = new URLSearchParams(window.location.search);
monthInput.value = params.get('month') ?? '';
siteInput.value = params.get('site') ?? '';

const num = (n) => el('td', { class: 'num', text: n.toLocaleString('en-GB') });
// Calendar dates are formatted at noon UTC so that no time zone moves them to the day before.
const atNoon = (date) => new Date(`${date}T12:00:00Z`);
const monthName = (month) => new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(atNoon(`${month}-01`));
const dayName = (date) => new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' }).format(atNoon(date));
const tailgateText = (t) => (t.tailgates === 0 ? '0' : `${t.tailgates} (${t.extraPeople})`);
const visitCells = (t) => [num(t.staffed), num(t.openAccess), num(t.booking), num(t.other), num(t.total), el('td', { class: 'num', text: tailgateText(t) }), num(t.uncountedOpenings)];

function query(extra = {}) {
  const q = new URLSearchParams(extra);
  if (monthInput.value) q.set('month', monthInput.value);
  if (siteInput.value.trim()) q.set('site', siteInput.value.trim());
  return q.toString();
}

async function show() {
  error.textContent = '';
  const res = await api(`/figures/report?${query()}`);
  if (!res.ok) {
    error.textContent = (res.body?.errors ?? [res.body?.message ?? `central answered ${res.status}`]).join('; ');
    report.hidden = true;
    return;
  }
  const r = res.body;
  monthInput.value = r.month;
  const where = r.site ?? 'All branches';
  document.getElementById('r-title').textContent = `${where} · ${monthName(r.month)}`;
  const generated = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: r.timezone }).format(new Date(r.generatedAt));
  document.getElementById('r-meta').textContent = `Generated ${generated} · days counted in ${r.timezone}`;
  document.title = `${where} ${r.month} · Monthly report`;

  const refused = r.refusals.reduce((sum, x) => sum + x.count, 0);
  const t = r.totals;
  fillRows('totals', [el('tr', {}, el('th', { scope: 'row', class: 'num', text: t.total.toLocaleString('en-GB') }), num(t.staffed), num(t.openAccess), num(t.booking), num(t.other), el('td', { class: 'num', text: tailgateText(t) }), num(refused), num(t.uncountedOpenings))], '', 8);

  const days = r.days.map((d) => {
    const weekday = atNoon(d.date).getUTCDay();
    return el('tr', { class: weekday === 0 || weekday === 6 ? 'weekend' : undefined, 'data-date': d.date }, el('td', { text: dayName(d.date) }), ...visitCells(d));
  });
  fillRows('days', days, '', 8);
  const foot = el('tfoot', {}, el('tr', {}, el('th', { scope: 'row', text: 'Month' }), ...visitCells(t)));
  document.getElementById('days').closest('table').querySelector('tfoot')?.remove();
  document.getElementById('days').after(foot);

  // One branch's report has one row here; the estate's lists each branch.
  document.getElementById('by-site').hidden = r.site !== null;
  fillRows('sites', r.bySite.map((s) => el('tr', {}, el('td', { text: s.site }), ...visitCells(s))), 'No visits this month.', 8);
  fillRows('refusals', r.refusals.map((x) => el('tr', {}, el('td', { text: nameOf(ACCESS_REASONS, x.reason, 'reason') }), num(x.count))), 'No refusals this month.', 2);
  fillRows('kinds', r.grantsByKind.map((x) => el('tr', {}, el('td', { text: nameOf(GRANT_KIND_LABELS, x.kind, 'kind') }), num(x.count))), 'No card entries this month.', 2);
  fillRows('ages', r.grantsByAgeBand.map((x) => el('tr', {}, el('td', { text: nameOf(AGE_BAND_LABELS, x.ageBand, 'age band') }), num(x.count))), 'No card entries this month.', 2);

  document.getElementById('csv').href = `/api/figures/report?${query({ format: 'csv' })}`;
  window.history.replaceState(null, '', `/report?${query()}`);
  report.hidden = false;
}

document.getElementById('choose').addEventListener('submit', (e) => {
  e.preventDefault();
  void show();
});
document.getElementById('print').addEventListener('click', () => window.print());
await signedIn();
void show();
