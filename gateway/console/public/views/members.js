/* global document, queueMicrotask, setInterval, clearInterval */
// Members on this gateway, and "why won't my card work?": the typed number goes to the gateway once, is hashed
// there and forgotten; the field is cleared as soon as the answer comes.
import { html, useState, useEffect } from '../lib/html.js';
import { ApiError, api, fieldErrors, get, post } from '../lib/api.js';
import { MODE_LABELS, ago, dateTime, number } from '../lib/format.js';
import { ErrorSummary, Input, errorMap, useConfirm } from '../lib/ui.js';

function yes(flag, good = true) {
  return html`<span class=${flag === good ? 'flag ok' : 'flag bad'}>${flag ? 'Yes' : 'No'}</span>`;
}

function Result({ result }) {
  const { now } = result;
  return html`<section class="card lookup-result" aria-labelledby="lookup-title" tabindex="-1" id="lookup-result">
    <h2 id="lookup-title">Card <span class="pseudonym">${result.person}</span></h2>
    <p class=${`verdict ${now.allow ? 'ok' : 'bad'}`}>
      ${now.allow ? 'Would be let in now' : 'Would be refused now'}: ${now.reasonText}</p>
    <p class="muted">The branch is ${(MODE_LABELS[now.mode] ?? now.mode).toLowerCase()} now.</p>
    ${result.found
      ? html`<dl class="facts">
          <dt>Registered for open access</dt><dd>${yes(result.entitlement.openAccess)}</dd>
          <dt>Membership</dt><dd>${result.entitlement.expires === null ? 'No expiry date' : result.entitlement.expired ? html`<span class="flag bad">Expired</span> (last day ${result.entitlement.expires})` : `Valid until ${result.entitlement.expires}`}</dd>
          <dt>Blocked</dt><dd>${result.entitlement.blocked ? html`<span class="flag bad">Yes</span>${result.entitlement.blockedUntil ? ` until ${result.entitlement.blockedUntil}` : ''}` : yes(false, false)}</dd>
          <dt>${result.entitlement.minimumAge === null ? 'Age' : `Minimum age (${result.entitlement.minimumAge})`}</dt>
          <dd>${result.entitlement.minimumAge === null ? 'No minimum age' : result.entitlement.meetsMinimumAge ? html`<span class="flag ok">Meets it</span>` : html`<span class="flag bad">Does not meet it (or no date of birth held)</span>`}</dd>
          <dt>Staff card</dt><dd>${result.entitlement.staff ? 'Yes' : 'No'}</dd>
          <dt>Groups</dt><dd>${result.entitlement.groups.length === 0 ? 'None' : result.entitlement.groups.join(', ')}</dd>
          <dt>PIN set</dt><dd>${result.entitlement.pinSet ? 'Yes' : 'No'}</dd>
        </dl>`
      : html`<p>This card is not on the member list held by this gateway. Unless central is set to send everyone, the list holds only members registered for open access (and staff): a member who is not registered does so at the desk. If the card was issued, renewed or registered recently, the next member list update brings it.</p>`}
  </section>`;
}

// ---- at the desk: link a card, set or remove a PIN (docs/members.md, "At the desk") ----

const LINK_ENDS = {
  done: ['ok', 'Card linked'],
  refused: ['bad', 'Not linked'],
  expired: ['bad', 'No card tapped'],
  offline: ['bad', 'Not linked'],
  'no-answer': ['bad', 'No answer yet'],
};

/** How a link stands, polled once a second while it waits or is with central; a countdown while it waits. */
function LinkProgress({ link, onStop }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, []);
  if (link.state === 'waiting') {
    const left = Math.max(0, Math.ceil((link.deadline - now) / 1000));
    return html`<div class="desk-wait" role="status" aria-live="polite">
      <p class="verdict wait">Tap the card on the desk reader now</p>
      <p><span class="countdown" aria-hidden="true">${left}</span> <span class="muted">${left === 1 ? 'second' : 'seconds'} left</span>
        <span class="visually-hidden">${left > 0 && left % 10 === 0 ? `${left} seconds left` : ''}</span></p>
      <div class="actions"><button type="button" class="button secondary" onClick=${onStop}>Stop waiting</button></div>
    </div>`;
  }
  if (link.state === 'tapped') {
    return html`<p class="verdict wait" role="status">Card read: asking central…</p>`;
  }
  const [kind, title] = LINK_ENDS[link.state] ?? ['bad', 'Not linked'];
  return html`<p class=${`verdict ${kind}`} role="status" tabindex="-1" id="link-result">${title}: ${link.message}</p>`;
}

function DeskChanges({ hasDeskReader }) {
  const [card, setCard] = useState('');
  const [pin, setPin] = useState({ pin: '', confirm: '' });
  const [errors, setErrors] = useState([]);
  const [link, setLink] = useState(null);
  const [answer, setAnswer] = useState(null);
  const [busy, setBusy] = useState(false);
  const [confirm, dialog] = useConfirm();

  const waiting = link !== null && (link.state === 'waiting' || link.state === 'tapped');
  useEffect(() => {
    if (!waiting) return undefined;
    const timer = setInterval(async () => {
      try {
        const next = await get(`/members/link-card/${link.id}`);
        setLink({ ...next, deadline: link.deadline });
        if (next.state !== 'waiting' && next.state !== 'tapped') queueMicrotask(() => document.getElementById('link-result')?.focus());
      } catch (e) {
        setLink({ ...link, state: 'refused', message: e.message });
      }
    }, 1000);
    return () => clearInterval(timer);
  }, [waiting, link?.id]);

  const failed = (e) => setErrors(e instanceof ApiError && e.errors.length > 0 ? e.errors : [e.message]);

  const startLink = async () => {
    setErrors([]);
    setAnswer(null);
    setBusy(true);
    try {
      const armed = await post('/members/link-card', { card });
      // The countdown runs on this browser's clock, from what the gateway said was left.
      setLink({ ...armed, deadline: Date.now() + armed.secondsLeft * 1000 });
    } catch (e) {
      setLink(null);
      if (e instanceof ApiError && e.errors.length > 0) failed(e);
      else setAnswer({ kind: 'bad', text: e.message });
    } finally {
      setBusy(false);
    }
  };

  const stopLink = async () => {
    try {
      setLink({ ...(await api('DELETE', `/members/link-card/${link.id}`)), deadline: link.deadline });
    } catch (e) {
      setAnswer({ kind: 'bad', text: e.message });
    }
  };

  const send = async (method, body) => {
    setErrors([]);
    setAnswer(null);
    setLink(null);
    setBusy(true);
    try {
      const done = await api(method, '/members/pin', body);
      setAnswer({ kind: 'ok', text: done.message });
    } catch (e) {
      if (e instanceof ApiError && e.errors.length > 0) failed(e);
      else setAnswer({ kind: 'bad', text: e.message });
    } finally {
      // The digits are not kept in the page either.
      setPin({ pin: '', confirm: '' });
      setBusy(false);
      queueMicrotask(() => document.getElementById('desk-answer')?.focus());
    }
  };

  const setPinSubmit = (event) => {
    event.preventDefault();
    if (pin.pin !== pin.confirm) {
      setErrors(['confirm: must be the same PIN as above']);
      return;
    }
    void send('POST', { card, pin: pin.pin, confirm: pin.confirm });
  };

  const removePin = async () => {
    const ok = await confirm({ title: 'Remove the PIN?', body: 'The member will open the door with the card alone where the rules allow it, or not at all where a PIN is required.', confirmLabel: 'Remove PIN', danger: true });
    if (ok) void send('DELETE', { card });
  };

  const list = fieldErrors(errors);
  const byPath = errorMap(list);
  const noCard = card.trim() === '';
  return html`<section class="card desk" aria-labelledby="desk-title">
    <h2 id="desk-title">At the desk</h2>
    <p class="muted">Link a member’s new card, or set the PIN they type here. The change goes to central, which owns the member list; every branch has it within a minute. Card numbers and PINs are not kept or logged here.</p>
    <${ErrorSummary} scope="desk" title="Nothing was sent" errors=${list} />
    <${Input} scope="desk" label="Member’s card number" path="card" errors=${byPath} value=${card} onValue=${setCard}
      hint="The number printed on the card they have now." autocomplete="off" autocapitalize="characters" spellcheck="false" />
    <div class="desk-parts">
      <div class="desk-part">
        <h3>Link a card</h3>
        ${hasDeskReader
          ? html`<p class="muted">Then hold the new card on the desk reader within 30 seconds.</p>
            <div class="actions"><button type="button" class="button primary" onClick=${startLink} disabled=${busy || waiting || noCard}>Link a card</button></div>
            ${link && html`<${LinkProgress} link=${link} onStop=${stopLink} />`}`
          : html`<p class="muted">This branch has no desk reader: a card reader with <code>role: desk</code> in the gateway’s hardware config.</p>`}
      </div>
      <form class="desk-part" onSubmit=${setPinSubmit} aria-labelledby="pin-title" novalidate>
        <h3 id="pin-title">Set or remove the PIN</h3>
        <p class="muted">4 to 8 digits, typed by the member, twice.</p>
        <div class="row">
          <${Input} scope="desk" label="PIN" type="password" inputmode="numeric" pattern="[0-9]*" maxlength="8" autocomplete="off" path="pin" errors=${byPath}
            value=${pin.pin} onValue=${(v) => setPin((p) => ({ ...p, pin: v }))} />
          <${Input} scope="desk" label="PIN again" type="password" inputmode="numeric" pattern="[0-9]*" maxlength="8" autocomplete="off" path="confirm" errors=${byPath}
            value=${pin.confirm} onValue=${(v) => setPin((p) => ({ ...p, confirm: v }))} />
        </div>
        <div class="actions">
          <button type="submit" class="button primary" disabled=${busy || noCard || pin.pin === ''}>Set PIN</button>
          <button type="button" class="button secondary" onClick=${removePin} disabled=${busy || noCard}>Remove PIN</button>
        </div>
      </form>
    </div>
    ${answer && html`<p class=${`verdict ${answer.kind}`} role="status" tabindex="-1" id="desk-answer">${answer.kind === 'ok' ? 'Done' : 'Not done'}: ${answer.text}</p>`}
    ${dialog}
  </section>`;
}

export function MembersPage({ status }) {
  const timezone = status?.branch.timezone ?? 'Europe/London';
  const [stats, setStats] = useState(null);
  const [card, setCard] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    get('/members').then(setStats, (e) => setError(e.message));
  }, []);

  const lookup = async (event, fromDesk = false) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = fromDesk ? await post('/members/lookup/desk') : await post('/members/lookup', { card });
      setResult(answer);
      queueMicrotask(() => document.getElementById('lookup-result')?.focus());
    } catch (e) {
      setResult(null);
      setError(e instanceof ApiError && e.errors.length > 0 ? e.errors.map((l) => l.replace(/^card: /, '')).join('; ') : e.message);
    } finally {
      setCard('');
      setBusy(false);
    }
  };

  return html`<div class="stack">
    <section class="card" aria-labelledby="list-title">
      <h2 id="list-title">Member list on this gateway</h2>
      ${stats === null ? html`<p class="muted">Loading…</p>` : html`<div class="stat-row">
        <div class="stat"><span class="stat-value">${number(stats.count)}</span><span class="stat-label">members</span></div>
        <div class="stat"><span class="stat-value">${stats.version ?? '–'}</span><span class="stat-label">list version</span></div>
        <div class="stat"><span class="stat-value">${stats.updatedAt ? ago(stats.updatedAt, status ? new Date(status.state.at) : undefined) : 'never'}</span>
          <span class="stat-label">last update${stats.updatedAt ? html` (${dateTime(stats.updatedAt, timezone)})` : ''}${stats.source ? `, from ${stats.source}` : ''}</span></div>
      </div>`}
    </section>
    <form class="card" onSubmit=${lookup} aria-labelledby="lookup-form-title">
      <h2 id="lookup-form-title">Check a card</h2>
      <p class="muted">Type the number printed on the card (or its UID). The gateway checks it and does not keep it; the log records only the card’s pseudonym and who looked.</p>
      <div class=${`field${error ? ' invalid' : ''}`}>
        <label for="card">Card number</label>
        <input id="card" name="card" value=${card} onInput=${(e) => setCard(e.currentTarget.value)} autocomplete="off" autocapitalize="characters" spellcheck="false" required
          aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? 'card-error' : undefined} />
        ${error && html`<p class="field-error" id="card-error" role="alert">${error}</p>`}
      </div>
      <div class="actions"><button class="button primary" type="submit" disabled=${busy || card.trim() === ''}>Check</button>
        ${(stats?.deskReaders ?? []).length > 0 && html`<button class="button secondary" type="button" disabled=${busy} onClick=${(e) => lookup(e, true)}>Check the card tapped at the desk</button>`}</div>
    </form>
    ${result && html`<${Result} result=${result} />`}
    <${DeskChanges} hasDeskReader=${(stats?.deskReaders ?? []).length > 0} />
  </div>`;
}
