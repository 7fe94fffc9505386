/* global document */
// The alert rules for administrators: the document in force in an edit box, saved whole as a new version (each
// error listed with its field), the versions so far, and any older one loaded back into the box to save again.
import { api, el, hasRole, signedIn, when } from './common.js';

const text = document.getElementById('rules-text');
const inForce = document.getElementById('in-force');
const saved = document.getElementById('saved');
const errorsBox = document.getElementById('errors-box');
const errors = document.getElementById('errors');
const session = await signedIn();
document.getElementById('read-only').hidden = hasRole(session, 'administrator');
text.readOnly = !hasRole(session, 'administrator');
let basedOn = 0;

function showErrors(list) {
  errorsBox.hidden = list.length === 0;
  errors.replaceChildren(...list.map((e) => el('li', { text: e })));
}

async function load() {
  const res = await api('/alerts/rules');
  if (!res.ok) {
    showErrors([res.body?.message ?? `central answered ${res.status}`]);
    return;
  }
  basedOn = res.body.version;
  inForce.textContent = res.body.version === 0 ? 'No rules saved yet: nobody is told about any alarm.' : `Version ${res.body.version} in force.`;
  text.value = JSON.stringify(res.body.doc, null, 2);
  document.getElementById('versions').replaceChildren(
    ...res.body.versions.map((v) => {
      const loadButton = el('button', { type: 'button', class: 'secondary', text: 'Load into the editor' });
      loadButton.addEventListener('click', async () => {
        const old = await api(`/alerts/rules/versions/${v.version}`);
        if (old.ok) text.value = JSON.stringify(old.body.doc, null, 2);
      });
      return el('tr', {}, el('td', { text: String(v.version) }), el('td', { text: v.actor }), el('td', { text: when(v.at) }), el('td', {}, loadButton));
    }),
  );
}

document.getElementById('rules-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  saved.textContent = '';
  const res = await api('/alerts/rules', { method: 'PUT', body: JSON.stringify({ text: text.value, basedOn }) });
  if (!res.ok) {
    showErrors(res.body?.errors ?? [res.body?.message ?? `central answered ${res.status}`]);
    return;
  }
  showErrors([]);
  const edited = text.value;
  await load();
  text.value = edited;
  saved.textContent = `Saved as version ${res.body.version}.`;
});

await load();
