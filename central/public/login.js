/* global document, window, URLSearchParams */
// Signing in: a local account's password, or single sign-on when central has it. Afterwards, back to the page that
// sent the browser here (only a path on central itself: never another site).
import { api } from './common.js';

/** A path on this site, or `/`: `//evil.example` and `https://…` are not paths. */
function safeNext(value) {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}

const next = safeNext(new URLSearchParams(window.location.search).get('next'));
const form = document.getElementById('login');
const error = document.getElementById('error');
const submit = document.getElementById('submit');

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.textContent = '';
  const username = document.getElementById('username').value.trim();
  const password = document.getElementById('password').value;
  if (!username || !password) {
    error.textContent = 'Enter your username and password.';
    return;
  }
  submit.disabled = true;
  try {
    const res = await api('/auth/login', { method: 'POST', body: JSON.stringify({ username, password }) });
    if (res.ok) {
      window.location.assign(next);
      return;
    }
    error.textContent = res.body?.message ?? `Central answered ${res.status}.`;
    document.getElementById('password').select();
  } catch (err) {
    error.textContent = `Central did not answer: ${err.message}`;
  } finally {
    submit.disabled = false;
  }
});

const options = await api('/auth/options').catch(() => null);
if (options?.body?.oidc) {
  const link = document.getElementById('sso-link');
  link.textContent = options.body.oidc.label;
  link.href = `${options.body.oidc.url}?next=${encodeURIComponent(next)}`;
  document.getElementById('sso').hidden = false;
}
document.getElementById('username').focus();
