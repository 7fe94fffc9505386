/* global window, CustomEvent, setTimeout, clearTimeout */
// Small shared pieces: the confirmation dialog, notices, form fields with their errors, and the timetable.
import { html, useState, useEffect, useRef, useCallback } from './html.js';
import { fieldId } from './api.js';
import { longDate, MODE_LABELS } from './format.js';

// ---- confirmation ----

function ConfirmDialog({ title, body, confirmLabel, danger, onDone }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    dialog.showModal();
    return () => dialog.open && dialog.close();
  }, []);
  return html`<dialog ref=${ref} class="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-body"
      onCancel=${(event) => { event.preventDefault(); onDone(false); }}>
    <h2 id="confirm-title">${title}</h2>
    <div id="confirm-body" class="confirm-body">${body}</div>
    <div class="actions">
      <button type="button" class="button secondary" onClick=${() => onDone(false)}>Cancel</button>
      <button type="button" class=${danger ? 'button danger' : 'button primary'} onClick=${() => onDone(true)}>${confirmLabel}</button>
    </div>
  </dialog>`;
}

/** `const [confirm, dialog] = useConfirm()`; `if (await confirm({ title, body, confirmLabel })) …`; render `dialog`. */
export function useConfirm() {
  const [pending, setPending] = useState(null);
  const confirm = useCallback((options) => new Promise((resolve) => setPending({ ...options, resolve })), []);
  const dialog = pending && html`<${ConfirmDialog} ...${pending} onDone=${(ok) => { setPending(null); pending.resolve(ok); }} />`;
  return [confirm, dialog];
}

// ---- notices ----

export function notify(text, kind = 'ok') {
  window.dispatchEvent(new CustomEvent('oag:notice', { detail: { text, kind, at: Date.now() } }));
}

export function Notices() {
  const [notice, setNotice] = useState(null);
  useEffect(() => {
    let timer;
    const on = (event) => {
      setNotice(event.detail);
      clearTimeout(timer);
      timer = setTimeout(() => setNotice(null), 8000);
    };
    window.addEventListener('oag:notice', on);
    return () => {
      window.removeEventListener('oag:notice', on);
      clearTimeout(timer);
    };
  }, []);
  return html`<div class="notices" role="status" aria-live="polite">
    ${notice && html`<p class=${`notice ${notice.kind}`}>${notice.text}
      <button type="button" class="link" onClick=${() => setNotice(null)}>Dismiss</button></p>`}
  </div>`;
}

// ---- fields ----

/** Errors by path, from the API's `path: reason` lines. */
export function errorMap(list) {
  const map = new Map();
  for (const { path, message } of list) map.set(path, map.has(path) ? `${map.get(path)}; ${message}` : message);
  return map;
}

export function FieldError({ id, message }) {
  return message ? html`<p class="field-error" id=${`${id}-error`}>${message}</p>` : null;
}

/** `scope` keeps ids unique when two forms on a page have a field of the same name. */
export function Input({ label, path, scope, errors, value, onValue, hideLabel = false, hint, type = 'text', ...rest }) {
  const id = fieldId(scope ? `${scope}.${path}` : path);
  const error = errors?.get(path);
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return html`<div class=${`field${error ? ' invalid' : ''}`}>
    <label for=${id} class=${hideLabel ? 'visually-hidden' : ''}>${label}</label>
    ${hint && html`<p class="hint" id=${`${id}-hint`}>${hint}</p>`}
    <input id=${id} type=${type} value=${value ?? ''} onInput=${(event) => onValue(event.currentTarget.value)}
      aria-invalid=${error ? 'true' : undefined} aria-describedby=${described} ...${rest} />
    <${FieldError} id=${id} message=${error} />
  </div>`;
}

export function Select({ label, path, scope, errors, value, onValue, options, hideLabel = false }) {
  const id = fieldId(scope ? `${scope}.${path}` : path);
  const error = errors?.get(path);
  return html`<div class=${`field${error ? ' invalid' : ''}`}>
    <label for=${id} class=${hideLabel ? 'visually-hidden' : ''}>${label}</label>
    <select id=${id} value=${value} onChange=${(event) => onValue(event.currentTarget.value)}
      aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? `${id}-error` : undefined}>
      ${options.map(([v, text]) => html`<option value=${v} selected=${v === value}>${text}</option>`)}
    </select>
    <${FieldError} id=${id} message=${error} />
  </div>`;
}

export function ErrorSummary({ title, errors, scope }) {
  if (errors.length === 0) return null;
  return html`<div class="error-summary" role="alert" tabindex="-1">
    <h3>${title}</h3>
    <ul>${errors.map(({ path, message, line }) => html`<li>${path ? html`<a href=${`#${fieldId(scope ? `${scope}.${path}` : path)}`}>${line.replace(/^policy\./, '')}</a>` : message}</li>`)}</ul>
  </div>`;
}

// ---- timetable ----

const pct = (fraction) => `${(fraction * 100).toFixed(3)}%`;

function dayText(day) {
  const open = day.segments.filter((s) => s.mode !== 'closed');
  if (open.length === 0) return 'Closed all day';
  return open.map((s) => `${s.from}–${s.to} ${MODE_LABELS[s.mode]}`).join(' · ');
}

export function Legend() {
  return html`<ul class="legend" aria-label="Colours">
    ${['staffed', 'open-access', 'changeover', 'closed'].map((mode) => html`<li><span class=${`swatch mode-${mode}`} aria-hidden="true"></span>${MODE_LABELS[mode]}</li>`)}
    <li><span class="swatch booking" aria-hidden="true"></span>Group booking</li>
  </ul>`;
}

export function Timetable({ days, caption, showChanged = false }) {
  return html`<table class="timetable">
    <caption>${caption}</caption>
    <thead><tr><th scope="col">Day</th><th scope="col"><span class="visually-hidden">Hours</span>
      <div class="tt-scale" aria-hidden="true">${['00', '06', '12', '18', '24'].map((h) => html`<span>${h}</span>`)}</div></th></tr></thead>
    <tbody>
      ${days.map((day) => html`<tr class=${showChanged && day.changed ? 'changed' : ''}>
        <th scope="row">
          <span class="tt-day">${longDate(day.date)}</span>
          ${day.label && html`<span class="tt-label">${day.label}</span>`}
          ${showChanged && day.changed && html`<span class="badge">Changed</span>`}
        </th>
        <td>
          <div class="tt-bar" aria-hidden="true">
            ${day.segments.map((s) => html`<span class=${`seg mode-${s.mode}`} style=${{ left: pct(s.start / day.minutes), width: pct((s.end - s.start) / day.minutes) }}></span>`)}
            ${[6, 12, 18].map((h) => html`<span class="tick" style=${{ left: pct((h * 60) / day.minutes) }}></span>`)}
          </div>
          <p class="tt-text">${dayText(day)}</p>
          ${day.bookings.map((b) => html`<p class="tt-booking"><span class="swatch booking" aria-hidden="true"></span>Booking: ${b.label ?? b.group} (${b.group}) ${b.from}–${b.to}</p>`)}
          ${(day.outputs ?? []).map((o) => html`<p class="tt-output" data-output=${o.id}>${o.text}</p>`)}
        </td>
      </tr>`)}
    </tbody>
  </table>`;
}
