/* global document, URLSearchParams */
// The audit (operators and administrators): filters, pages of 100 newest first, and the same filter as CSV.
import { api, el, signedIn } from './common.js';

const rows = document.getElementById('rows');
const error = document.getElementById('error');
const older = document.getElementById('older');
const field = (id) => document.getElementById(id).value.trim();
const stamp = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
let next = null;

function query(extra = {}) {
  const q = new URLSearchParams(extra);
  for (const name of ['from', 'to', 'site', 'actor']) if (field(name)) q.set(name, field(name));
  return q.toString();
}

function row(r) {
  return el(
    'tr',
    { class: r.action === 'sign-in-failed' ? 'ev-refused' : '' },
    el('td', {}, el('time', { datetime: r.at, text: stamp.format(new Date(r.at)) })),
    el('td', { text: r.actor }),
    el('td', { text: r.action }),
    el('td', { text: r.site ?? '' }),
    el('td', { text: r.detail }),
  );
}

async function load(more) {
  error.textContent = '';
  const res = await api(`/audit?${query(more && next !== null ? { before: String(next) } : {})}`);
  if (!res.ok) {
    error.textContent = (res.body?.errors ?? [res.body?.message ?? `Central answered ${res.status}`]).join('; ');
    return;
  }
  if (!more) rows.replaceChildren();
  rows.append(...res.body.rows.map(row));
  if (!rows.children.length) rows.append(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: 'Nothing recorded for this filter.' })));
  next = res.body.next;
  older.hidden = next === null;
  document.getElementById('audit-csv').href = `/api/audit?${query({ format: 'csv' })}`;
}

document.getElementById('filter').addEventListener('submit', (e) => {
  e.preventDefault();
  void load(false);
});
older.addEventListener('click', () => void load(true));
await signedIn();
void load(false);
