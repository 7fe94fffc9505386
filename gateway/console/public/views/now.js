// "Now": what the branch is doing, large enough to read across the desk, and the buttons to run the building.
// Every button asks first and says who will be logged as doing it.
import { html, useState } from '../lib/html.js';
import { ApiError, post } from '../lib/api.js';
import { notify, useConfirm } from '../lib/ui.js';
import { ALARM_LABELS, DOOR_LABELS, INTRUDER_ALARM_LABELS, MODE_HINTS, MODE_LABELS, PHRASE_LABELS, ago, time, when } from '../lib/format.js';

/** Staffed hours with a clock the policy will not trust: the door stays locked, which the banner must not hide. */
function clockHoldsDoor({ state, branch }) {
  return state.mode === 'staffed' && !state.clock.trusted && branch.clockUntrusted === 'deny';
}

function untilText(status) {
  const { state, next, branch } = status;
  if (state.mode === 'lockdown') return 'Until lockdown is lifted';
  if (state.mode === 'emergency') return 'Until the fire alarm has cleared and staff acknowledge it';
  if (!state.modeUntil) return 'No change in the schedule ahead';
  const after = next.find((t) => t.at === state.modeUntil) ?? next[0];
  return `Until ${when(state.modeUntil, branch.timezone, new Date(state.at))}${after ? `, then ${MODE_LABELS[after.to].toLowerCase()}` : ''}`;
}

function Tile({ label, value, tone = 'neutral', children }) {
  return html`<div class=${`tile tone-${tone}`}>
    <h2 class="tile-label">${label}</h2>
    <p class="tile-value">${value}</p>
    ${children}
  </div>`;
}

/** `now`: the gateway's clock (state.at), so that "motion 2 minutes ago" is the branch's time, not this browser's. */
function Occupancy({ occupancy, now }) {
  const { inside, capacity } = occupancy;
  const estimated = occupancy.confidence === 'estimated';
  const full = capacity !== null && inside >= capacity;
  const figure = estimated ? `≈ ${inside}` : String(inside);
  return html`<${Tile} label="People inside" value=${capacity === null ? figure : html`${figure} <span class="of">of ${capacity}</span>`} tone=${full ? 'warn' : 'neutral'}>
    ${capacity !== null && html`<div class="meter" role="meter" aria-label="People inside against capacity" aria-valuemin="0" aria-valuemax=${capacity} aria-valuenow=${inside}>
      <span style=${{ width: `${Math.min(100, (inside / capacity) * 100)}%` }}></span></div>`}
    ${estimated && html`<p class="tile-note">Estimated: some comings and goings were not seen. Reset the count after a sweep.</p>`}
    ${full && html`<p class="tile-note">Full: no more entries until someone leaves.</p>`}
    ${occupancy.motionAt !== undefined && html`<p class="tile-note">Motion ${occupancy.motionAt === null ? 'not seen since the gateway started' : ago(occupancy.motionAt, now)}</p>`}
  <//>`;
}

/** The switched outputs (PCs, heating, kiosks), each by its label; absent at a branch that has none. */
function Outputs({ outputs }) {
  const on = outputs.filter((o) => o.on).length;
  return html`<${Tile} label="PCs, heating and other outputs" value=${on === 0 ? 'All off' : on === outputs.length ? 'All on' : `${on} of ${outputs.length} on`}>
    <ul class="tile-list outputs">${outputs.map((o) => html`<li data-output=${o.id}>${o.label ?? o.id}: ${o.on ? 'on' : 'off'}</li>`)}</ul>
  <//>`;
}

/** The intruder alarm panel: set, unset, or waiting for it to confirm (`setting…`), since when, on the branch's clock. */
function IntruderAlarm({ alarm, timezone, now }) {
  const waiting = alarm.state === 'setting' || alarm.state === 'unsetting';
  return html`<${Tile} label="Intruder alarm" value=${INTRUDER_ALARM_LABELS[alarm.state] ?? alarm.state} tone=${waiting ? 'warn' : alarm.state === 'set' ? 'ok' : 'neutral'}>
    ${alarm.since && html`<p class="tile-note">Since ${when(alarm.since, timezone, now)}</p>`}
    ${waiting && html`<p class="tile-note">Waiting for the panel to confirm.</p>`}
  <//>`;
}

const ACTIONS = {
  unlock: { label: 'Unlock once', title: 'Unlock the door once?', body: 'The door unlocks for a few seconds to let one person in, then locks again.', confirm: 'Unlock once', done: 'Door unlocked once' },
  lock: { label: 'Lock now', title: 'Lock the door now?', body: 'Ends an unlock at once. In staffed hours the schedule holds the door free and the gateway says so instead: use Lockdown to lock it then.', confirm: 'Lock now', done: 'Door locked' },
  'lockdown-on': { label: 'Lockdown', title: 'Start lockdown?', body: 'Nobody is let in, not even staff cards, until lockdown is lifted. The exit still opens.', confirm: 'Start lockdown', done: 'Lockdown is on', danger: true },
  'lockdown-off': { label: 'Lift lockdown', title: 'Lift lockdown?', body: 'The door goes back to the schedule.', confirm: 'Lift lockdown', done: 'Lockdown lifted' },
  'lights-on': { label: 'Lights on', title: 'Turn the lights on?', body: 'The lights stay on until turned off or the closing sequence ends.', confirm: 'Turn lights on', done: 'Lights on' },
  'lights-off': { label: 'Lights off', title: 'Turn the lights off?', body: 'Do this only once the building is empty: after closing it also confirms that nobody is inside, and sets the count to 0.', confirm: 'Turn lights off', done: 'Lights off' },
  'reset-occupancy': { label: 'Reset count', title: 'Reset the count to zero?', body: 'Do this after a sweep of the building has found nobody inside.', confirm: 'Reset to zero', done: 'Count reset to zero' },
  'help-acknowledged': { label: "I'm dealing with it", title: 'Take on the help call?', body: 'The door shows that someone is coming (the green light flashes) and central sees your name. The call ends when alarms are acknowledged, or 30 minutes after.', confirm: "I'm dealing with it", done: 'Help call taken on' },
  'reset-alarms': { label: 'Acknowledge alarms', title: 'Acknowledge the alarms?', body: 'Clears the fire latch (once the fire alarm input has cleared) and the people-inside-after-close alarm.', confirm: 'Acknowledge', done: 'Alarms acknowledged' },
};

/** Unlock and lock act on one door: at a branch with several, the one chosen above the buttons (main by default). */
const FOR_A_DOOR = ['unlock', 'lock'];

function Actions({ state, username, onDone }) {
  const [confirm, dialog] = useConfirm();
  const [busy, setBusy] = useState(null);
  const doors = state.doors ?? null;
  const [door, setDoor] = useState(doors?.[0]?.id ?? null);
  const run = async (command) => {
    const action = ACTIONS[command];
    const forDoor = doors !== null && door !== null && FOR_A_DOOR.includes(command);
    const ok = await confirm({
      title: forDoor ? action.title.replace('the door', `door ${door}`) : action.title,
      body: html`<p>${action.body}</p><p class="muted">Logged as done by <strong>${username}</strong>.</p>`,
      confirmLabel: action.confirm,
      danger: action.danger,
    });
    if (!ok) return;
    setBusy(command);
    try {
      await post('/commands', forDoor ? { command, door } : { command });
      notify(forDoor ? `${action.done} (${door}).` : `${action.done}.`);
      onDone?.();
    } catch (e) {
      notify(e instanceof ApiError ? `Not done: ${e.message}` : String(e), 'error');
    } finally {
      setBusy(null);
    }
  };
  const button = (command, extra = '') => html`<button type="button" class=${`button action ${extra}`} disabled=${busy !== null} onClick=${() => run(command)}>
    ${busy === command ? 'Working…' : ACTIONS[command].label}</button>`;
  const lockdown = state.mode === 'lockdown';
  return html`<section class="card actions-card" aria-labelledby="actions-title">
    <h2 id="actions-title">Run the building</h2>
    ${doors !== null && html`<p><label for="action-door">Unlock and lock act on</label>
      <select id="action-door" value=${door} onChange=${(e) => setDoor(e.currentTarget.value)}>
        ${doors.map((d) => html`<option value=${d.id} selected=${d.id === door}>door ${d.id}</option>`)}
      </select></p>`}
    <div class="action-grid">
      ${button('unlock', 'primary')}
      ${button('lock')}
      ${lockdown ? button('lockdown-off', 'primary') : button('lockdown-on', 'danger-outline')}
      ${state.lights ? button('lights-off') : button('lights-on')}
      ${button('reset-occupancy')}
      ${button('reset-alarms', state.alarms.length > 0 ? 'warn' : '')}
      ${state.help?.requested && state.help.acknowledgedBy === null && button('help-acknowledged', 'primary')}
    </div>
    <${Announce} username=${username} />
    ${dialog}
  </section>`;
}

/** Announce on the loudspeakers: a prepared phrase (said in the branch's languages) or staff's own words. */
function Announce({ username }) {
  const [confirm, dialog] = useConfirm();
  const [phrase, setPhrase] = useState('');
  const [words, setWords] = useState('');
  const [busy, setBusy] = useState(false);
  const text = phrase === '' ? words.trim() : phrase;
  const submit = async (event) => {
    event.preventDefault();
    if (text === '') return;
    const ok = await confirm({
      title: phrase === '' ? 'Announce your words?' : `Announce “${PHRASE_LABELS[phrase]}”?`,
      body: html`<p>${phrase === '' ? `“${text}” is said on the loudspeakers.` : 'The prepared words are said on the loudspeakers, in each of the branch’s languages.'}</p>
        <p class="muted">Logged as done by <strong>${username}</strong>.</p>`,
      confirmLabel: 'Announce',
    });
    if (!ok) return;
    setBusy(true);
    try {
      await post('/commands', { command: 'announce', text });
      notify('Announcement sent to the loudspeakers.');
      setWords('');
    } catch (e) {
      notify(e instanceof ApiError ? `Not done: ${e.message}` : String(e), 'error');
    } finally {
      setBusy(false);
    }
  };
  // The confirmation is a form of its own: kept outside this one.
  return html`<form class="announce" onSubmit=${submit} aria-labelledby="announce-title">
    <h3 id="announce-title">Announce</h3>
    <div class="field"><label for="announce-phrase">Say</label>
      <select id="announce-phrase" value=${phrase} onChange=${(e) => setPhrase(e.currentTarget.value)}>
        <option value="" selected=${phrase === ''}>Your own words…</option>
        ${Object.entries(PHRASE_LABELS).map(([id, label]) => html`<option value=${id} selected=${id === phrase}>${label}</option>`)}
      </select></div>
    ${phrase === '' && html`<div class="field"><label for="announce-text">Your words</label>
      <input id="announce-text" maxlength="280" value=${words} onInput=${(e) => setWords(e.currentTarget.value)} /></div>`}
    <button type="submit" class="button action" disabled=${busy || text === ''}>${busy ? 'Working…' : 'Announce'}</button>
  </form>${dialog}`;
}

function Recent({ rows, timezone }) {
  return html`<section class="card" aria-labelledby="recent-title">
    <h2 id="recent-title">Latest activity</h2>
    ${rows.length === 0 ? html`<p class="muted">Nothing yet.</p>` : html`<ol class="recent">
      ${rows.slice(0, 8).map((row) => html`<li class=${row.decision === 'refused' ? 'refused' : ''}>
        <time datetime=${row.at}>${time(row.at, timezone)}</time>
        <span>${row.summary}</span>
        ${row.person && html`<span class="pseudonym" title="Card pseudonym">${row.person}</span>`}
      </li>`)}
    </ol>`}
    <p><a href="#log">Open the full log</a></p>
  </section>`;
}

export function NowPage({ session, status, recent }) {
  if (status === null) return html`<p class="muted">Connecting to the gateway…</p>`;
  const { state, branch } = status;
  const readersDown = state.readers.filter((r) => !r.online);
  // At a branch with several doors the tile's tone is the worst door's: an alarm at the meeting room is not hidden by main.
  const doorStates = state.doors ? state.doors.map((d) => d.state) : [state.door];
  const doorTone = doorStates.some((s) => ['forced-open', 'held-open'].includes(s)) ? 'alarm' : doorStates.includes('released') ? 'warn' : 'neutral';
  return html`<div class="now">
    <section class=${`banner mode-${state.mode}`} aria-labelledby="mode-title">
      <p class="banner-kicker">The branch is</p>
      <h2 id="mode-title" class="banner-mode">${MODE_LABELS[state.mode]}</h2>
      <p class="banner-until">${untilText(status)}</p>
      <p class="banner-hint">${clockHoldsDoor(status)
        ? 'Staff on duty, but the clock is not synchronised: the door stays locked. Staff cards open it; the exit always does.'
        : MODE_HINTS[state.mode]}</p>
      ${state.secured === true && html`<p class="banner-secured">Secured for the night: nobody inside, intruder alarm set.</p>`}
    </section>

    ${state.help?.requested && html`<section class="alarms help-call" role="alert" aria-labelledby="help-title">
      <h2 id="help-title">Help call at the door</h2>
      <p>Pressed at ${time(state.help.since, branch.timezone)}${state.help.presses > 1 ? `, ${state.help.presses} presses` : ''}.
        ${state.help.acknowledgedBy === null
          ? 'Nobody has taken it on yet.'
          : `${state.help.acknowledgedBy} is dealing with it (since ${time(state.help.acknowledgedAt, branch.timezone)}).`}</p>
    </section>`}

    ${state.alarms.length > 0 && html`<section class="alarms" role="alert" aria-labelledby="alarms-title">
      <h2 id="alarms-title">${state.alarms.length === 1 ? '1 alarm' : `${state.alarms.length} alarms`}</h2>
      <ul>${state.alarms.map((a) => html`<li>${ALARM_LABELS[a] ?? a}</li>`)}</ul>
    </section>`}

    <div class="tiles">
      <${Tile} label=${state.doors ? 'Doors' : 'Door'} value=${DOOR_LABELS[state.door] ?? state.door} tone=${doorTone}>
        ${state.doors && html`<ul class="tile-list">${state.doors.map((d) => html`<li>${d.id}: ${DOOR_LABELS[d.state] ?? d.state}</li>`)}</ul>`}
      <//>
      <${Tile} label="Lights" value=${state.lights ? 'On' : 'Off'} />
      <${Occupancy} occupancy=${state.occupancy} now=${new Date(state.at)} />
      ${state.intruderAlarm && html`<${IntruderAlarm} alarm=${state.intruderAlarm} timezone=${branch.timezone} now=${new Date(state.at)} />`}
      ${state.outputs?.length > 0 && html`<${Outputs} outputs=${state.outputs} />`}
      <${Tile} label="Card readers" value=${state.readers.length === 0 ? 'None reported' : readersDown.length === 0 ? 'All working' : `${readersDown.length} offline`}
        tone=${readersDown.length > 0 ? 'alarm' : 'ok'}>
        <ul class="tile-list">${state.readers.map((r) => html`<li>${r.role === 'entry' ? 'Entry' : 'Exit'} reader${r.id === r.role ? '' : ` ${r.id}`}: ${r.online ? 'working' : 'offline'}</li>`)}</ul>
      <//>
      <${Tile} label="Link to central" value=${state.uplink === null ? 'Not set up' : state.uplink.connected ? 'Connected' : 'Offline'}
        tone=${state.uplink === null ? 'neutral' : state.uplink.connected ? 'ok' : 'warn'}>
        ${state.uplink !== null && !state.uplink.connected && html`<p class="tile-note">Doors keep working; events wait and are sent later.</p>`}
      <//>
      <${Tile} label="Clock" value=${state.clock.trusted ? 'Synchronised' : 'Not synchronised'} tone=${state.clock.trusted ? 'ok' : 'warn'}>
        ${!state.clock.trusted && html`<p class="tile-note">${branch.clockUntrusted === 'deny'
          ? 'Members are refused and the door stays locked, staffed hours included, until it is. Staff cards still open it.'
          : 'The policy lets members in anyway (its clock rule is allow).'}</p>`}
      <//>
    </div>

    <div class="now-columns">
      <${Actions} state=${state} username=${session.username} />
      <${Recent} rows=${recent} timezone=${branch.timezone} />
    </div>
  </div>`;
}
