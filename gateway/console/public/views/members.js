/* global document, queueMicrotask */
// Members on this gateway, and "why won't my card work?": the typed number goes to the gateway once, is hashed
// there and forgotten; the field is cleared as soon as the answer comes.
import { html, useState, useEffect } from '../lib/html.js';
import { ApiError, get, post } from '../lib/api.js';
import { MODE_LABELS, ago, dateTime, number } from '../lib/format.js';

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

  const lookup = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await post('/members/lookup', { card });
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
      <div class="actions"><button class="button primary" type="submit" disabled=${busy || card.trim() === ''}>Check</button></div>
    </form>
    ${result && html`<${Result} result=${result} />`}
  </div>`;
}
