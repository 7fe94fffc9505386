/* global document, queueMicrotask, structuredClone */
// The schedule: what is in force and where it came from; for managers, an editor for the weekly template,
// exception days, the changeover gap and group bookings. A draft is checked by the gateway (the same rules as a
// policy file, errors next to their fields) and shown as the coming two weeks before it can be saved.
import { html, useState, useEffect } from '../lib/html.js';
import { ApiError, fieldErrors, get, post, put } from '../lib/api.js';
import { ErrorSummary, FieldError, Input, Legend, Select, Timetable, errorMap, notify, useConfirm } from '../lib/ui.js';
import { fieldId } from '../lib/api.js';
import { WEEKDAYS, dateTime } from '../lib/format.js';

const WINDOW_MODES = [
  ['open-access', 'Open access'],
  ['staffed', 'Staffed'],
  ['closed', 'Closed'],
];

/** A copy of `obj` with the value at `path` replaced (or removed, for undefined). */
function setIn(obj, path, value) {
  if (path.length === 0) return value;
  const [key, ...rest] = path;
  const copy = Array.isArray(obj) ? [...obj] : { ...obj };
  if (rest.length === 0 && value === undefined) {
    if (Array.isArray(copy)) copy.splice(key, 1);
    else delete copy[key];
    return copy;
  }
  copy[key] = setIn(obj?.[key] ?? (typeof rest[0] === 'number' ? [] : {}), rest, value);
  return copy;
}

function getIn(obj, path) {
  return path.reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function pathText(path) {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

function draftOf(policy) {
  const { version: _version, ...rest } = policy;
  return structuredClone(rest);
}

function Windows({ path, draft, errors, edit, dayLabel }) {
  const windows = getIn(draft, path) ?? [];
  const add = () => {
    const last = windows[windows.length - 1];
    edit(path, [...windows, { from: last?.to && last.to !== '24:00' ? last.to : '09:00', to: '', mode: 'open-access' }]);
  };
  return html`<div class="windows">
    ${windows.length === 0 && html`<p class="muted small">Closed all day.</p>`}
    ${windows.map((w, i) => {
      const at = [...path, i];
      const rowError = errors.get(pathText(at));
      const n = `${dayLabel}, period ${i + 1}`;
      return html`<div class=${`window-row${rowError ? ' invalid' : ''}`} id=${fieldId(pathText(at))}>
        <${Input} label=${`${n}, from`} hideLabel path=${pathText([...at, 'from'])} errors=${errors} value=${w.from} onValue=${(v) => edit([...at, 'from'], v)}
          inputmode="numeric" placeholder="HH:MM" size="5" maxlength="5" autocomplete="off" />
        <span class="to" aria-hidden="true">to</span>
        <${Input} label=${`${n}, to`} hideLabel path=${pathText([...at, 'to'])} errors=${errors} value=${w.to} onValue=${(v) => edit([...at, 'to'], v)}
          inputmode="numeric" placeholder="HH:MM" size="5" maxlength="5" autocomplete="off" />
        <${Select} label=${`${n}, mode`} hideLabel path=${pathText([...at, 'mode'])} errors=${errors} value=${w.mode} options=${WINDOW_MODES} onValue=${(v) => edit([...at, 'mode'], v)} />
        <button type="button" class="button small secondary" onClick=${() => edit(at, undefined)}>Remove<span class="visually-hidden"> ${n}</span></button>
        <${FieldError} id=${fieldId(pathText(at))} message=${rowError} />
      </div>`;
    })}
    <button type="button" class="button small ghost" onClick=${add}>+ Add a period<span class="visually-hidden"> to ${dayLabel}</span></button>
  </div>`;
}

function Weekly({ draft, errors, edit }) {
  return html`<section class="card" aria-labelledby="weekly-title">
    <h2 id="weekly-title">Weekly template</h2>
    <p class="muted">The usual week. Times are the branch’s local time, HH:MM (24:00 for midnight at the end of a day). Hours not covered are closed.</p>
    <div class="week-grid">
      ${WEEKDAYS.map(([day, name]) => html`<fieldset class="day">
        <legend>${name}</legend>
        <${Windows} path=${['schedule', 'weekly', day]} draft=${draft} errors=${errors} edit=${edit} dayLabel=${name} />
      </fieldset>`)}
    </div>
  </section>`;
}

function Changeover({ draft, errors, edit }) {
  return html`<section class="card" aria-labelledby="changeover-title">
    <h2 id="changeover-title">Changeover</h2>
    <${Input} label="Minutes after staff leave when only staff cards open the door" path="schedule.changeoverMinutes" errors=${errors}
      type="number" min="0" max="240" step="1" inputmode="numeric" value=${draft.schedule.changeoverMinutes ?? 0}
      hint="Time to check the building is clear before open access starts. 0 for none."
      onValue=${(v) => edit(['schedule', 'changeoverMinutes'], v === '' ? 0 : Number(v))} />
  </section>`;
}

function Exceptions({ draft, errors, edit }) {
  const list = draft.schedule.exceptions ?? [];
  return html`<section class="card" aria-labelledby="exceptions-title">
    <h2 id="exceptions-title">Exception days</h2>
    <p class="muted">A bank holiday, a one-off late opening: the day’s periods replace the weekly template. No periods means closed all day.</p>
    ${list.length === 0 && html`<p class="muted">No exception days.</p>`}
    ${list.map((exception, i) => {
      const at = ['schedule', 'exceptions', i];
      const name = exception.label ? exception.label : `Exception day ${i + 1}`;
      return html`<fieldset class="exception" id=${fieldId(pathText(at))}>
        <legend>${name}</legend>
        <div class="row">
          <${Input} label="Date" type="date" path=${pathText([...at, 'date'])} errors=${errors} value=${exception.date} onValue=${(v) => edit([...at, 'date'], v)} />
          <${Input} label="Label (optional)" path=${pathText([...at, 'label'])} errors=${errors} value=${exception.label ?? ''} maxlength="80"
            onValue=${(v) => edit([...at, 'label'], v === '' ? undefined : v)} />
        </div>
        <${Windows} path=${[...at, 'windows']} draft=${draft} errors=${errors} edit=${edit} dayLabel=${name} />
        <button type="button" class="button small secondary" onClick=${() => edit(at, undefined)}>Remove this day<span class="visually-hidden">: ${name}</span></button>
      </fieldset>`;
    })}
    <button type="button" class="button ghost" onClick=${() => edit(['schedule', 'exceptions'], [...list, { date: '', windows: [] }])}>+ Add an exception day</button>
  </section>`;
}

function Bookings({ draft, errors, edit }) {
  const list = draft.bookings ?? [];
  return html`<section class="card" aria-labelledby="bookings-title">
    <h2 id="bookings-title">Group bookings</h2>
    <p class="muted">A group may come in while the branch is closed. Which cards belong to a group comes from the member list (its groups column).</p>
    ${list.length === 0 && html`<p class="muted">No group bookings.</p>`}
    ${list.map((booking, i) => {
      const at = ['bookings', i];
      const weekly = booking.weekly !== undefined;
      const name = booking.label || booking.group || `Booking ${i + 1}`;
      const setKind = (kind) => {
        if (kind === 'weekly' && !weekly) {
          const { date: _d, from, to, ...rest } = booking;
          edit(at, { ...rest, weekly: { day: 'mon', from: from ?? '', to: to ?? '' } });
        } else if (kind === 'date' && weekly) {
          const { weekly: w, ...rest } = booking;
          edit(at, { ...rest, date: '', from: w.from, to: w.to });
        }
      };
      const timeAt = weekly ? [...at, 'weekly'] : at;
      return html`<fieldset class="booking" id=${fieldId(pathText(at))}>
        <legend>${name}</legend>
        <${FieldError} id=${fieldId(pathText(at))} message=${errors.get(pathText(at))} />
        <div class="row">
          <${Input} label="Group" path=${pathText([...at, 'group'])} errors=${errors} value=${booking.group} autocomplete="off" spellcheck="false"
            hint="As in the member list, e.g. scouts-12th" onValue=${(v) => edit([...at, 'group'], v)} />
          <${Input} label="Label (optional)" path=${pathText([...at, 'label'])} errors=${errors} value=${booking.label ?? ''} maxlength="80"
            onValue=${(v) => edit([...at, 'label'], v === '' ? undefined : v)} />
        </div>
        <fieldset class="kind"><legend>When</legend>
          <label><input type="radio" name=${`kind-${i}`} checked=${weekly} onChange=${() => setKind('weekly')} /> Every week</label>
          <label><input type="radio" name=${`kind-${i}`} checked=${!weekly} onChange=${() => setKind('date')} /> On one date</label>
        </fieldset>
        <div class="row">
          ${weekly
            ? html`<${Select} label="Day" path=${pathText([...at, 'weekly', 'day'])} errors=${errors} value=${booking.weekly.day} options=${WEEKDAYS} onValue=${(v) => edit([...at, 'weekly', 'day'], v)} />`
            : html`<${Input} label="Date" type="date" path=${pathText([...at, 'date'])} errors=${errors} value=${booking.date ?? ''} onValue=${(v) => edit([...at, 'date'], v)} />`}
          <${Input} label="From" path=${pathText([...timeAt, 'from'])} errors=${errors} value=${getIn(booking, weekly ? ['weekly', 'from'] : ['from']) ?? ''}
            inputmode="numeric" placeholder="HH:MM" size="5" maxlength="5" onValue=${(v) => edit([...timeAt, 'from'], v)} />
          <${Input} label="To" path=${pathText([...timeAt, 'to'])} errors=${errors} value=${getIn(booking, weekly ? ['weekly', 'to'] : ['to']) ?? ''}
            inputmode="numeric" placeholder="HH:MM" size="5" maxlength="5" onValue=${(v) => edit([...timeAt, 'to'], v)} />
          <${Input} label="Minimum age (optional)" type="number" min="0" max="120" path=${pathText([...at, 'minimumAge'])} errors=${errors}
            value=${booking.minimumAge ?? ''} onValue=${(v) => edit([...at, 'minimumAge'], v === '' ? undefined : Number(v))} />
        </div>
        <button type="button" class="button small secondary" onClick=${() => edit(at, undefined)}>Remove this booking<span class="visually-hidden">: ${name}</span></button>
      </fieldset>`;
    })}
    <button type="button" class="button ghost" onClick=${() => edit(['bookings'], [...list, { group: '', weekly: { day: 'mon', from: '', to: '' } }])}>+ Add a group booking</button>
  </section>`;
}

/** What an override is made over: central's version, or the policy file before central sent any. */
function baseText(over) {
  return over.source === 'central' ? `central version ${over.version}` : `the policy file (version ${over.version})`;
}

/** "central version 7", or "branch override by mia at …, over central version 7": the page's words for what is in force. */
function inForceText(loaded) {
  if (loaded.override) {
    return `branch override by ${loaded.override.by} at ${dateTime(loaded.override.at, loaded.policy.timezone)}, over ${baseText(loaded.override.over)}`;
  }
  return baseText({ source: loaded.source === 'central' ? 'central' : 'file', version: loaded.version });
}

/** Whether the live state (source, version, override) still describes what this page loaded. */
function sameInForce(live, loaded) {
  return live.source === loaded.source && live.version === loaded.version && (live.override?.at ?? null) === (loaded.override?.at ?? null);
}

function InForce({ loaded, timetable, showTable }) {
  return html`<section class="card in-force" aria-labelledby="in-force-title">
    <h2 id="in-force-title">In force: ${inForceText(loaded)}</h2>
    <p>${loaded.override
      ? 'Saved here in the console. Central’s next version replaces it, and this page then says so.'
      : 'A change saved here is a branch override; central’s next version replaces it, and this page then says so.'}</p>
    ${timetable && showTable && html`<${Legend} /><${Timetable} days=${timetable.days} caption="The next two weeks" />`}
    ${timetable && !showTable && html`<details><summary>The next two weeks as in force</summary><${Legend} /><${Timetable} days=${timetable.days} caption="The next two weeks (in force)" /></details>`}
  </section>`;
}

export function SchedulePage({ session, status }) {
  const manager = session.role === 'manager';
  const [loaded, setLoaded] = useState(null);
  const [timetable, setTimetable] = useState(null);
  const [draft, setDraft] = useState(null);
  const [errors, setErrors] = useState([]);
  const [preview, setPreview] = useState(null);
  const [busy, setBusy] = useState(false);
  const [loadError, setLoadError] = useState(null);
  const [confirm, dialog] = useConfirm();

  const load = async () => {
    try {
      const [policy, table] = await Promise.all([get('/policy'), get('/policy/timetable')]);
      setLoaded(policy);
      setTimetable(table);
      setDraft(draftOf(policy.policy));
      setErrors([]);
      setPreview(null);
    } catch (e) {
      setLoadError(e.message);
    }
  };
  useEffect(() => {
    load();
  }, []);

  if (loadError) return html`<p class="form-error" role="alert">${loadError}</p>`;
  if (loaded === null || draft === null) return html`<p class="muted">Loading the schedule…</p>`;
  // Another policy (central's next version, another override) came in after this page loaded it: the live status says so.
  const live = status?.state.policy;
  const liveText = live?.source === 'console' ? `A branch override by ${live.override?.by ?? 'someone'}` : live?.source === 'central' ? `Central version ${live?.version}` : 'The policy file';
  const newer = live !== undefined && !sameInForce(live, loaded)
    ? html`<div class="newer" role="alert">
        <p><strong>${liveText} is now in force.</strong>
          ${manager ? ' Changes made here to the schedule you loaded cannot be saved.' : ''}</p>
        <button type="button" class="button primary" onClick=${load}>Show what is in force</button>
      </div>`
    : null;
  if (!manager) {
    return html`<div class="stack">${newer}<${InForce} loaded=${loaded} timetable=${timetable} showTable />
      <p class="muted">Only a manager can change the schedule.</p></div>`;
  }

  const errorList = fieldErrors(errors, 'policy.');
  const byPath = errorMap(errorList);
  const dirty = JSON.stringify(draft) !== JSON.stringify(draftOf(loaded.policy));
  const edit = (path, value) => {
    setDraft((d) => setIn(d, path, value));
    setPreview(null);
  };

  const showErrors = (e) => {
    setErrors(e.errors.length > 0 ? e.errors : [e.message]);
    setPreview(null);
    // Focus the summary so that a screen reader (and a tablet scrolled down) gets to the problems.
    queueMicrotask(() => document.querySelector('.error-summary')?.focus());
  };

  const runPreview = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const result = await post('/policy/preview', { policy: draft });
      setErrors([]);
      setPreview(result);
      queueMicrotask(() => document.getElementById('preview-title')?.scrollIntoView({ block: 'start' }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) showErrors(e);
      else notify(e.message, 'error');
    } finally {
      setBusy(false);
    }
  };

  const save = async () => {
    const changed = preview.days.filter((d) => d.changed).length;
    const ok = await confirm({
      title: `Save the schedule as a branch override over ${baseText(preview.over)}?`,
      body: html`<p>It is in force at once${changed > 0 ? `, and changes ${changed} of the next 14 days` : ''}, until central sends its next version. Central is told.</p>
        <p class="muted">Logged as saved by <strong>${session.username}</strong>.</p>`,
      confirmLabel: 'Save the override',
    });
    if (!ok) return;
    setBusy(true);
    try {
      await put('/policy', { baseRevision: loaded.revision, policy: draft });
      notify('Branch override saved and in force.');
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) showErrors(e);
      else if (e instanceof ApiError && e.status === 409) {
        notify(e.message, 'error');
        await load();
      } else notify(e.message, 'error');
    } finally {
      setBusy(false);
    }
  };

  return html`<div class="stack">
    ${newer}
    <${InForce} loaded=${loaded} timetable=${timetable} showTable=${false} />
    <form class="stack" onSubmit=${runPreview} novalidate aria-labelledby="editor-title">
      <h2 id="editor-title" class="section-title">Change the schedule</h2>
      <${ErrorSummary} title="The schedule has problems to fix" errors=${errorList} />
      <${Weekly} draft=${draft} errors=${byPath} edit=${edit} />
      <${Exceptions} draft=${draft} errors=${byPath} edit=${edit} />
      <${Changeover} draft=${draft} errors=${byPath} edit=${edit} />
      <${Bookings} draft=${draft} errors=${byPath} edit=${edit} />
      <div class="sticky-actions">
        <button type="submit" class="button primary" disabled=${busy}>Preview the next two weeks</button>
        <button type="button" class="button secondary" disabled=${!dirty || busy} onClick=${load}>Discard changes</button>
        <span class="muted" role="status">${dirty ? 'Unsaved changes' : 'No changes'}</span>
      </div>
    </form>
    ${preview && html`<section class="card preview" aria-labelledby="preview-title">
      <h2 id="preview-title">Preview: a branch override over ${baseText(preview.over)}</h2>
      <p>${preview.days.some((d) => d.changed)
        ? `${preview.days.filter((d) => d.changed).length} of the next 14 days change (marked “Changed”).`
        : 'None of the next 14 days change (the change may be further ahead).'}</p>
      <${Legend} />
      <${Timetable} days=${preview.days} caption="The next two weeks with this change" showChanged />
      <div class="actions"><button type="button" class="button primary" disabled=${busy} onClick=${save}>Save as a branch override</button></div>
    </section>`}
    ${dialog}
  </div>`;
}
