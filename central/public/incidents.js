/* global document, window, localStorage, AudioContext, setInterval */
// The incidents panel at the top of the dashboard: open incidents newest first in severity colours, their count in
// the tab's title, a beep when a new one arrives (Web Audio; off by a remembered toggle), acknowledge (with a note)
// and resolve for operators, and a warning when nobody is being told (no channel, every channel failing, no rule).
import { ago, ALARM_LABELS, api, el, hasRole, nameOf, when } from './common.js';

const SOUND_KEY = 'oag-central-incident-sound';
const SEVERITY_ORDER = ['critical', 'major', 'warning', 'minor'];

/** A short two-tone beep. Browsers play sound only after a click on the page, hence the note on the toggle. */
let audio = null;
export function beep() {
  try {
    audio ??= new AudioContext();
    if (audio.state === 'suspended') void audio.resume();
    const start = audio.currentTime;
    for (const [i, freq] of [880, 660].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, start + i * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.001, start + i * 0.25 + 0.22);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + i * 0.25);
      osc.stop(start + i * 0.25 + 0.24);
    }
    return true;
  } catch {
    return false;
  }
}

export function alarmLabel(incident) {
  if (incident.alarm === 'offline') return 'Branch offline';
  if (/^(email|webhook|sms)-failed$/.test(incident.alarm)) return `Notification channel failing (${incident.alarm.replace('-failed', '')})`;
  return nameOf(ALARM_LABELS, incident.alarm, 'alarm');
}

export function severityClass(severity) {
  return `sev sev-${SEVERITY_ORDER.includes(severity) ? severity : 'warning'}`;
}

export function statusText(i) {
  if (i.status === 'cleared') return `Cleared by ${i.cleared?.by ?? '?'} ${when(i.cleared?.at)}`;
  if (i.acknowledged) return `Acknowledged by ${i.acknowledged.by} ${when(i.acknowledged.at)}${i.acknowledged.note ? ` — “${i.acknowledged.note}”` : ''}`;
  if (i.status === 'notified') return 'Told, not acknowledged yet';
  return 'Nobody told yet';
}

/** Acknowledge and resolve for an operator; `done` is called with the changed incident. */
export function actions(incident, session, done, errorNode) {
  if (!hasRole(session, 'operator') || incident.status === 'cleared') return null;
  const note = el('input', { class: 'incident-note', maxlength: '500', placeholder: 'Note (optional)', 'aria-label': `Note for ${alarmLabel(incident)} at ${incident.site}` });
  const act = (kind) => async (event) => {
    event.target.disabled = true;
    const body = note.value.trim() === '' ? {} : { note: note.value.trim() };
    const res = await api(`/incidents/${incident.id}/${kind}`, { method: 'POST', body: JSON.stringify(body) });
    event.target.disabled = false;
    if (!res.ok) {
      errorNode.textContent = res.body?.errors?.join('; ') ?? res.body?.message ?? `central answered ${res.status}`;
      return;
    }
    errorNode.textContent = '';
    done(res.body);
  };
  const buttons = [];
  if (!incident.acknowledged) {
    const ack = el('button', { type: 'button', class: 'ack', text: 'Acknowledge' });
    ack.addEventListener('click', act('acknowledge'));
    buttons.push(ack);
  }
  const resolve = el('button', { type: 'button', class: 'secondary resolve', text: 'Resolve' });
  resolve.addEventListener('click', act('resolve'));
  buttons.push(resolve);
  return el('div', { class: 'incident-actions' }, note, ...buttons);
}

export async function startIncidentsPanel({ session, source, baseTitle }) {
  const list = document.getElementById('incident-list');
  const count = document.getElementById('incident-count');
  const told = document.getElementById('nobody-told');
  const error = document.getElementById('incident-error');
  const toggle = document.getElementById('sound-toggle');
  const incidents = new Map();

  let soundOn = localStorage.getItem(SOUND_KEY) !== 'off';
  const showToggle = () => {
    toggle.textContent = soundOn ? 'Sound on' : 'Sound off';
    toggle.setAttribute('aria-pressed', String(soundOn));
  };
  toggle.addEventListener('click', () => {
    soundOn = !soundOn;
    localStorage.setItem(SOUND_KEY, soundOn ? 'on' : 'off');
    showToggle();
    if (soundOn) beep();
  });
  showToggle();

  const render = () => {
    const open = [...incidents.values()].filter((i) => i.status !== 'cleared').sort((a, b) => b.id - a.id);
    const waiting = open.filter((i) => !i.acknowledged).length;
    count.textContent = open.length === 0 ? 'No open incidents' : `${open.length} open · ${waiting} not acknowledged`;
    document.title = waiting > 0 ? `(${waiting}) ${baseTitle}` : baseTitle;
    document.getElementById('incidents').classList.toggle('has-open', waiting > 0);
    list.replaceChildren(
      ...open.map((i) =>
        el(
          'li',
          { class: `incident ${severityClass(i.severity)}${i.acknowledged ? ' acknowledged' : ''}`, 'data-incident': String(i.id) },
          el('div', { class: 'incident-head' },
            el('span', { class: 'sev-badge', text: i.severity }),
            el('a', { href: `/incidents/${i.id}`, class: 'incident-title', text: `${alarmLabel(i)} · ${i.site === '(central)' ? 'central' : i.site}` }),
            el('span', { class: 'muted', text: ` raised ${when(i.raisedAt)} (${ago(i.openedAt)})` })),
          el('p', { class: 'incident-status', text: statusText(i) }),
          actions(i, session, (changed) => { incidents.set(changed.id, changed); render(); }, error),
        ),
      ),
    );
  };

  const loadStatus = async () => {
    const res = await api('/alerts/status').catch(() => null);
    if (!res?.ok) return;
    told.hidden = res.body.told;
    told.textContent = res.body.told ? '' : `Nobody is being told about these alarms: ${res.body.problems.join('; ')}.`;
  };

  // Listening starts before the list is read, so that an incident raised while it loads is not lost; what the
  // stream says during a load is applied again over the list it returns. After a reconnect the list is read again.
  let duringLoad = null;
  const apply = ({ kind, incident }) => {
    const isNew = !incidents.has(incident.id);
    incidents.set(incident.id, incident);
    render();
    if (kind === 'raised' && isNew) {
      const li = list.querySelector(`[data-incident="${incident.id}"]`);
      li?.classList.add('new');
      if (soundOn) window.oagLastBeep = beep() ? Date.now() : 0;
    }
    if (kind === 'delivery-failed' || kind === 'raised') void loadStatus();
  };
  source.addEventListener('incident', (e) => {
    const change = JSON.parse(e.data);
    duringLoad?.push(change);
    apply(change);
  });
  const load = async () => {
    duringLoad = [];
    const res = await api('/incidents?limit=200').catch(() => null);
    const meanwhile = duringLoad;
    duringLoad = null;
    if (!res?.ok) return;
    incidents.clear();
    for (const i of res.body.incidents) incidents.set(i.id, i);
    for (const change of meanwhile) incidents.set(change.incident.id, change.incident);
    render();
  };
  source.addEventListener('open', () => void load());
  await load();
  void loadStatus();
  setInterval(loadStatus, 30_000);
  setInterval(render, 60_000);
}
