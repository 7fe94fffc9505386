/* global document, window, EventSource */
// One incident: what, where, its state, who was told and how each message went, and every step of its history.
import { el, api, signedIn, when } from './common.js';
import { actions, alarmLabel, severityClass, statusText } from './incidents.js';

const id = Number(window.location.pathname.split('/').pop());
const error = document.getElementById('error');
const session = await signedIn();

function show(i) {
  document.getElementById('incident').className = `panel incident ${severityClass(i.severity)}`;
  document.getElementById('incident-h').textContent = `${alarmLabel(i)} · ${i.site === '(central)' ? 'central' : i.site}`;
  document.title = `${alarmLabel(i)} · Incident ${i.id} · Open Access central`;
  const fact = (k, v) => [el('dt', { text: k }), el('dd', { text: v })];
  document.getElementById('facts').replaceChildren(
    ...fact('Severity', i.severity),
    ...fact('Raised', when(i.raisedAt)),
    ...(i.detail ? fact('Detail', i.detail) : []),
    ...fact('Incident', `#${i.id}`),
  );
  document.getElementById('incident-status').textContent = statusText(i);
  document.getElementById('incident-actions').replaceChildren(actions(i, session, () => void load(), error) ?? '');
  document.getElementById('history').replaceChildren(
    ...i.history.map((h) => el('tr', {}, el('td', { text: when(h.at) }), el('td', { text: h.kind }), el('td', { text: h.actor }), el('td', { text: h.note ?? '' }))),
  );
  const messages = document.getElementById('messages');
  messages.replaceChildren(
    ...i.messages.map((m) =>
      el('tr', { class: m.state === 'failed' ? 'ev-refused' : '' }, el('td', { text: `${m.step + 1}${m.repeat ? ` (repeat ${m.repeat})` : ''}` }), el('td', { text: m.recipient ?? '' }), el('td', { text: m.channel }), el('td', { text: m.state }), el('td', { class: 'num', text: String(m.attempts) }), el('td', { text: m.lastError ?? '' })),
    ),
  );
  if (!i.messages.length) messages.append(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'Nobody has been sent a message about this incident.' })));
}

async function load() {
  const res = await api(`/incidents/${id}`);
  if (!res.ok) {
    error.textContent = res.body?.message ?? `central answered ${res.status}`;
    return;
  }
  error.textContent = '';
  show(res.body);
}

await load();
const source = new EventSource('/api/live');
source.addEventListener('incident', (e) => {
  if (JSON.parse(e.data).incident.id === id) void load();
});
