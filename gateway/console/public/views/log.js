/* global URLSearchParams */
// The log: newest first, filtered by time (the branch's local time) and kind, a page at a time, and as CSV.
// Cards appear only as pseudonyms.
import { html, useState, useEffect } from '../lib/html.js';
import { ApiError, fieldErrors, get } from '../lib/api.js';
import { ErrorSummary, Input, Select, errorMap } from '../lib/ui.js';
import { dateTime } from '../lib/format.js';

const KINDS = [
  ['', 'Everything'],
  ['access', 'Access decisions'],
  ['door,alarm', 'Door and alarms'],
  ['staff', 'Staff actions'],
  ['mode,policy,warning', 'Schedule and closing'],
  ['occupancy', 'People counting'],
  ['output,intruder-alarm,announcement', 'Building: PCs and heating, intruder alarm, announcements'],
  ['announcement', 'Announcements'],
  ['system,reader,members', 'System'],
  ['commissioning', 'Commissioning (oag commission)'],
];

function query(filters, extra = {}) {
  const params = new URLSearchParams();
  if (filters.from) params.set('from', filters.from);
  if (filters.to) params.set('to', filters.to);
  if (filters.types) params.set('types', filters.types);
  for (const [k, v] of Object.entries(extra)) params.set(k, String(v));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

export function LogPage({ status }) {
  const timezone = status?.branch.timezone ?? 'Europe/London';
  const [filters, setFilters] = useState({ from: '', to: '', types: '' });
  const [applied, setApplied] = useState(filters);
  const [rows, setRows] = useState(null);
  const [next, setNext] = useState(null);
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);

  const load = async (f, before) => {
    setBusy(true);
    try {
      const result = await get(`/log${query(f, before ? { limit: 100, before } : { limit: 100 })}`);
      setRows((old) => (before ? [...(old ?? []), ...result.events] : result.events));
      setNext(result.next);
      setErrors([]);
      setApplied(f);
    } catch (e) {
      setErrors(e instanceof ApiError && e.errors.length > 0 ? e.errors : [e.message]);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    load(filters);
  }, []);

  const errorList = fieldErrors(errors, 'query.');
  const byPath = errorMap(errorList);
  const set = (key) => (value) => setFilters((f) => ({ ...f, [key]: value }));

  return html`<div class="stack">
    <form class="card filters" onSubmit=${(e) => { e.preventDefault(); load(filters); }} aria-labelledby="filter-title">
      <h2 id="filter-title">Log</h2>
      <p class="muted">Times are the branch’s local time (${timezone}). Cards are shown by a short pseudonym, never their number.</p>
      <${ErrorSummary} title="The filter has a problem" errors=${errorList} />
      <div class="row">
        <${Input} label="From" type="datetime-local" path="from" errors=${byPath} value=${filters.from} onValue=${set('from')} />
        <${Input} label="Until" type="datetime-local" path="to" errors=${byPath} value=${filters.to} onValue=${set('to')} />
        <${Select} label="Show" path="types" errors=${byPath} value=${filters.types} options=${KINDS} onValue=${set('types')} />
      </div>
      <div class="actions">
        <button type="submit" class="button primary" disabled=${busy}>Show</button>
        <a class="button secondary" href=${`/api/console/log.csv${query(applied)}`} download>Download CSV</a>
      </div>
    </form>
    <section class="card" aria-labelledby="events-title">
      <h2 id="events-title" class="visually-hidden">Events</h2>
      ${rows === null ? html`<p class="muted">Loading…</p>` : rows.length === 0 ? html`<p class="muted">No events match.</p>` : html`
        <div class="table-wrap"><table class="log">
          <caption class="visually-hidden">Events, newest first</caption>
          <thead><tr><th scope="col">Time</th><th scope="col">What happened</th><th scope="col">Card or person</th></tr></thead>
          <tbody>
            ${rows.map((row) => html`<tr class=${row.decision === 'refused' ? 'refused' : row.type === 'alarm' ? 'alarm' : ''}>
              <td class="nowrap"><time datetime=${row.at}>${dateTime(row.at, timezone)}</time></td>
              <td>${row.decision === 'refused' && html`<span class="tag refused">Refused</span> `}${row.decision === 'granted' && html`<span class="tag granted">In</span> `}${row.summary}</td>
              <td>${row.person ? html`<span class="pseudonym">${row.person}</span>` : row.actor ?? ''}</td>
            </tr>`)}
          </tbody>
        </table></div>
        ${next && html`<div class="actions"><button type="button" class="button secondary" disabled=${busy} onClick=${() => load(applied, next)}>Show older</button></div>`}`}
    </section>
  </div>`;
}
