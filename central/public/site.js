/* global document, window, EventSource, ResizeObserver */
// One branch: its tile, occupancy charts (uPlot, served from node_modules), recent events live, commands and policy.
import uPlot from '/vendor/uplot/uPlot.esm.js';
import {
  api,
  el,
  hasRole,
  MODE_LABELS,
  DOOR_LABELS,
  ALARM_LABELS,
  ACCESS_REASONS,
  PHRASE_LABELS,
  describeBuildingEvent,
  nameOf,
  renderTile,
  serverClock,
  setConn,
  signedIn,
  toLogin,
  when,
} from './common.js';
import { localDate, startOfLocalDay, startOfLocalWeek } from './zoned-time.js';

const siteId = decodeURIComponent(window.location.pathname.split('/').filter(Boolean).pop() ?? '');
document.title = `${siteId} · Open Access central`;
document.getElementById('title').textContent = `Branch ${siteId}`;
const tileBox = document.getElementById('tile');
const eventsBody = document.getElementById('events');
const conn = document.getElementById('conn');
// Signed in first: the page itself holds no data, everything on it comes from the API.
const session = await signedIn();
// Today and this week are central's (its clock) in the branch's zone, as are the times shown.
const clock = await serverClock();
const zone = () => clock.zoneOf(siteId);
const at = (iso) => when(iso, clock.now(), zone());
const aRole = (role) => `${role === 'viewer' ? 'a' : 'an'} ${role}`;

function describe(e) {
  switch (e.type) {
    case 'access':
      return [`${e.decision === 'granted' ? 'Entry granted' : 'Entry refused'} (${e.reader})`, `${nameOf(ACCESS_REASONS, e.reason, 'reason')}${e.person ? ` · ${e.person}` : ''}`];
    case 'occupancy':
      return [`Occupancy: ${e.change}`, `${e.confidence === 'estimated' ? 'about ' : ''}${e.inside} inside${e.detail ? ` · ${e.detail}` : ''}`];
    case 'door':
      return ['Door', nameOf(DOOR_LABELS, e.state, 'door state')];
    case 'alarm':
      return [`Alarm ${e.state}`, `${nameOf(ALARM_LABELS, e.alarm, 'alarm')}${e.detail ? `: ${e.detail}` : ''}`];
    case 'mode':
      return ['Mode', `${nameOf(MODE_LABELS, e.from, 'mode')} → ${nameOf(MODE_LABELS, e.to, 'mode')}${e.until ? ` until ${at(e.until)}` : ''}`];
    case 'staff':
      return ['Staff', `${e.action} by ${e.actor}`];
    case 'policy':
      return [`Policy ${e.result}`, `v${e.version ?? '?'} from ${e.source}${e.error ? `: ${e.error}` : ''}`];
    case 'members':
      return [`Member list ${e.result}`, `v${e.version ?? '?'}${e.count !== undefined ? ` · ${e.count} members` : ''}${e.error ? `: ${e.error}` : ''}`];
    case 'system':
      return ['System', `${e.what}${e.detail ? `: ${e.detail}` : ''}`];
    case 'warning':
      return ['Closing warning', `${e.minutesLeft} min left`];
    case 'reader':
      return [`Card reader ${e.readerId} (${e.reader})`, e.error];
    case 'output':
    case 'intruder-alarm':
    case 'announcement':
      return describeBuildingEvent(e, outputs);
    default:
      // A type from a newer gateway: stored whole, shown by name until central is updated to read it.
      return [`Unknown event: ${e.type}`, ''];
  }
}

function eventRow(e) {
  const [described, detail] = describe(e);
  // At a branch with several doors its events name the door (contract 1.8).
  const what = e.door ? `${described} · ${e.door}` : described;
  const refused = e.type === 'access' && e.decision === 'refused';
  return el(
    'tr',
    { class: refused || e.type === 'alarm' ? 'ev-refused' : '' },
    el('td', {}, el('time', { datetime: e.at, text: at(e.at) })),
    el('td', { text: what }),
    el('td', { text: detail }),
  );
}

async function loadEvents() {
  const { body } = await api(`/sites/${encodeURIComponent(siteId)}/events?limit=50`);
  eventsBody.replaceChildren(...(body?.events ?? []).map((x) => eventRow(x.event)));
}

// Charts: a step series of people inside, drawn again when new samples arrive (at most every few seconds).
const charts = {};
function chartData(samples, to) {
  const xs = samples.map((s) => new Date(s.at).getTime() / 1000);
  const ys = samples.map((s) => s.inside);
  if (samples.length) {
    xs.push(new Date(to).getTime() / 1000);
    ys.push(ys[ys.length - 1]);
  }
  return [xs, ys];
}
const hourFmt = new Intl.DateTimeFormat('en-GB', { timeZone: zone(), hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat('en-GB', { timeZone: zone(), weekday: 'short', day: 'numeric' });
const tickLabel = (fmt, d) => (fmt === dayFmt && hourFmt.format(d) !== '00:00' ? hourFmt.format(d) : fmt.format(d));
function drawChart(id, data, capacity, byDay, span) {
  const box = document.getElementById(id);
  const width = Math.max(280, box.clientWidth);
  const fmt = byDay ? dayFmt : hourFmt;
  const opts = {
    width,
    height: 220,
    // The axis's hours and days fall where the branch's do.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone()),
    scales: { x: { time: true, ...(span ? { range: () => span } : {}) }, y: { range: (_u, _min, max) => [0, Math.max(capacity ?? 0, max, 5)] } },
    series: [
      { value: (_u, v) => (v == null ? '' : `${dayFmt.format(new Date(v * 1000))} ${hourFmt.format(new Date(v * 1000))}`) },
      { label: 'Inside', stroke: '#2f6fbd', fill: 'rgba(47,111,189,0.15)', width: 2, points: { show: false }, paths: uPlot.paths.stepped({ align: 1 }) },
    ],
    // The week's axis names a day at its midnight and the hour elsewhere, so that ticks within a day are not all "Mon 2".
    axes: [{ values: (_u, splits) => splits.map((v) => tickLabel(fmt, new Date(v * 1000))) }, { label: 'People' }],
    legend: { show: false },
  };
  charts[id]?.destroy();
  box.replaceChildren();
  if (!data[0].length) {
    box.append(el('p', { class: 'muted', text: 'No occupancy recorded in this period.' }));
    charts[id] = null;
    return;
  }
  charts[id] = new uPlot(opts, data, box);
}
let capacity = null;
async function loadCharts() {
  const now = clock.now();
  const date = localDate(now, zone());
  const startOfDay = startOfLocalDay(date, zone());
  const startOfWeek = startOfLocalWeek(date, zone());
  const base = `/sites/${encodeURIComponent(siteId)}/occupancy`;
  const [today, week] = await Promise.all([
    api(`${base}?from=${startOfDay.toISOString()}&to=${now.toISOString()}`),
    api(`${base}?from=${startOfWeek.toISOString()}&to=${now.toISOString()}`),
  ]);
  drawChart('chart-today', chartData(today.body?.samples ?? [], now), capacity);
  drawChart('chart-week', chartData(week.body?.samples ?? [], now), capacity, true, [startOfWeek.getTime() / 1000, now.getTime() / 1000]);
}
let chartTimer = null;
function chartsSoon() {
  chartTimer ??= window.setTimeout(() => {
    chartTimer = null;
    void loadCharts();
  }, 3000);
}
new ResizeObserver(() => chartsSoon()).observe(document.getElementById('chart-today'));

/** The branch's switched outputs as its state last said, so that events name them by their labels. */
let outputs = [];
function showSite(site) {
  // The name central's config gives the branch, once its row says it (the address holds only the id).
  if (site.name) {
    document.title = `${site.name} · Open Access central`;
    document.getElementById('title').textContent = `${site.name} (${siteId})`;
  }
  capacity = site.state?.occupancy.capacity ?? null;
  const names = (list) => JSON.stringify(list.map((o) => [o.id, o.label]));
  const before = names(outputs);
  outputs = site.state?.outputs ?? [];
  // The events listed before the branch's outputs were known name them by id: list them again by their labels.
  if (names(outputs) !== before) void loadEvents();
  tileBox.replaceChildren(renderTile(site, { link: false, now: clock.now(), timeZone: zone(), building: true }));
  showDoors(site.state?.doors ?? []);
}

// A branch with several doors: unlock and lock name one (the main door first, as the branch lists them).
const doorSelect = document.getElementById('cmd-door');
function showDoors(doors) {
  const ids = doors.map((d) => d.id);
  document.getElementById('cmd-door-label').hidden = ids.length < 2;
  if (ids.join(' ') === [...doorSelect.options].map((o) => o.value).join(' ')) return;
  const chosen = doorSelect.value;
  doorSelect.replaceChildren(...ids.map((id) => el('option', { value: id, text: id })));
  if (ids.includes(chosen)) doorSelect.value = chosen;
}
const FOR_A_DOOR = new Set(['unlock', 'lock']);

// Announce: a prepared phrase (contract 1.9: the branch speaks it in its languages) or staff's own words.
const phraseSelect = document.getElementById('announce-phrase');
const announceWords = document.getElementById('announce-text');
phraseSelect.append(
  el('option', { value: '', text: 'Your own words…' }),
  ...Object.entries(PHRASE_LABELS).map(([id, label]) => el('option', { value: id, text: `Phrase: ${label}` })),
);
const showWords = () => {
  document.getElementById('announce-text-label').hidden = phraseSelect.value !== '';
};
phraseSelect.addEventListener('change', showWords);
showWords();
/** The command's text: the phrase's id, or the words typed. */
const announceText = () => (phraseSelect.value === '' ? announceWords.value : phraseSelect.value);

// Commands: sent as whoever is signed in, which the branch's log shows; operators and administrators only.
const result = document.getElementById('cmd-result');
const mayCommand = hasRole(session, 'operator');
document.getElementById('cmd-as').textContent = mayCommand
  ? `Sent as ${session.username}: the branch's log shows central:user:${session.username}.`
  : `Commands need the operator role; ${session.username} is ${aRole(session.role)}.`;
const CONFIRM = { unlock: 'Unlock the door once?', 'lockdown-on': 'Lock the branch down? Nobody will be let in.' };
const confirmText = (command) => (command === 'unlock' && !document.getElementById('cmd-door-label').hidden ? `Unlock ${doorSelect.value} once?` : CONFIRM[command]);
for (const button of document.querySelectorAll('[data-command]')) {
  button.disabled = !mayCommand;
  button.addEventListener('click', async () => {
    const command = button.dataset.command;
    if (CONFIRM[command] && !window.confirm(confirmText(command))) return;
    const body = { command };
    if (command === 'announce') body.text = announceText();
    if (FOR_A_DOOR.has(command) && !document.getElementById('cmd-door-label').hidden) body.door = doorSelect.value;
    button.disabled = true;
    result.className = 'result';
    result.textContent = `Sending ${command}…`;
    try {
      const res = await api(`/sites/${encodeURIComponent(siteId)}/commands`, { method: 'POST', body: JSON.stringify(body) });
      if (res.status === 200 && res.body.ok) {
        result.className = 'result ok';
        result.textContent = `${command}: done.`;
      } else {
        result.className = 'result err';
        result.textContent = `${command}: ${res.body?.error && res.status === 200 ? res.body.error : res.body?.message ?? `HTTP ${res.status}`}`;
      }
    } catch (err) {
      result.className = 'result err';
      result.textContent = `${command}: ${err.message}`;
    } finally {
      button.disabled = !mayCommand;
    }
  });
}

// Policy
const policyBox = document.getElementById('policy');
const policyInfo = document.getElementById('policy-info');
const policyResult = document.getElementById('policy-result');
async function loadPolicy() {
  const res = await api(`/sites/${encodeURIComponent(siteId)}/policy`);
  if (res.ok) {
    policyInfo.textContent = `Version ${res.body.version} is on the broker (seen ${at(res.body.seenAt)}).`;
    if (!policyBox.value) policyBox.value = JSON.stringify(res.body.doc, null, 2);
  } else {
    policyInfo.textContent = 'No policy has been published from central for this branch; it runs on its local file.';
  }
}
const publish = document.getElementById('publish');
if (!hasRole(session, 'administrator')) {
  publish.disabled = true;
  policyResult.className = 'result';
  policyResult.textContent = `Publishing a policy needs the administrator role; ${session.username} is ${aRole(session.role)}.`;
}
publish.addEventListener('click', async () => {
  let doc;
  try {
    doc = JSON.parse(policyBox.value);
  } catch (err) {
    policyResult.className = 'result err';
    policyResult.textContent = `Not valid JSON: ${err.message}`;
    return;
  }
  const res = await api(`/sites/${encodeURIComponent(siteId)}/policy`, { method: 'PUT', body: JSON.stringify(doc) });
  if (res.status === 202) {
    policyResult.className = 'result ok';
    policyResult.textContent = `Version ${res.body.version} published. The branch reports whether it applied it in its events.`;
    void loadPolicy();
  } else {
    policyResult.className = 'result err';
    policyResult.replaceChildren(
      document.createTextNode(res.body?.message ? 'Not published:' : `HTTP ${res.status}`),
      el('ul', {}, ...(res.body?.errors ?? [res.body?.message ?? '']).map((e) => el('li', { text: e }))),
    );
  }
});

const source = new EventSource(`/api/live?site=${encodeURIComponent(siteId)}`);
source.addEventListener('open', () => setConn(conn, true));
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
  const [site] = JSON.parse(e.data);
  if (site) showSite(site);
  else tileBox.replaceChildren(el('p', { class: 'empty', text: `No branch "${siteId}" has reported yet.` }));
});
source.addEventListener('site', (e) => {
  showSite(JSON.parse(e.data));
  chartsSoon();
});
source.addEventListener('event', (e) => {
  eventsBody.prepend(eventRow(JSON.parse(e.data)));
  while (eventsBody.children.length > 50) eventsBody.lastElementChild.remove();
});

void loadEvents();
void loadCharts();
void loadPolicy();
