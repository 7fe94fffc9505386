/* global document, window, location, EventSource */
// The staff console: sign in, then five pages (Now, Schedule, Log, Members, Accounts) chosen by the URL's hash.
// The branch's state arrives live over server-sent events and is shared by every page.
import { html, render, useState, useEffect } from './lib/html.js';
import { ApiError, get, post, setCsrfToken } from './lib/api.js';
import { Notices, notify } from './lib/ui.js';
import { MODE_LABELS } from './lib/format.js';
import { NowPage } from './views/now.js';
import { SchedulePage } from './views/schedule.js';
import { LogPage } from './views/log.js';
import { MembersPage } from './views/members.js';
import { AccountsPage } from './views/accounts.js';

const PAGES = [
  ['now', 'Now', NowPage],
  ['schedule', 'Schedule', SchedulePage],
  ['log', 'Log', LogPage],
  ['members', 'Members', MembersPage],
  ['accounts', 'Accounts', AccountsPage],
];

function currentPage() {
  const name = location.hash.replace(/^#\/?/, '');
  return PAGES.some(([id]) => id === name) ? name : 'now';
}

function SignIn({ onSignedIn }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'Sign in · Staff console';
  }, []);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await post('/login', { username, password });
      onSignedIn(session);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin" id="main">
    <form class="card signin-card" onSubmit=${submit} aria-labelledby="signin-title">
      <p class="brand"><img src="/console/icon.svg" alt="" width="40" height="40" /> Open Access</p>
      <h1 id="signin-title">Staff console</h1>
      <p class="muted">Sign in with your console account.</p>
      ${error && html`<p class="form-error" role="alert">${error}</p>`}
      <div class="field"><label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value=${username} onInput=${(e) => setUsername(e.currentTarget.value)} /></div>
      <div class="field"><label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} /></div>
      <button class="button primary wide" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}

/** The branch's status, live: `connected` says whether the stream is up. */
function useLiveStatus(onLog) {
  const [status, setStatus] = useState(null);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const source = new EventSource('/api/console/live');
    source.addEventListener('open', () => setConnected(true));
    source.addEventListener('status', (event) => setStatus(JSON.parse(event.data)));
    source.addEventListener('log', (event) => onLog(JSON.parse(event.data)));
    source.addEventListener('session-ended', () => window.dispatchEvent(new window.CustomEvent('oag:signed-out')));
    source.addEventListener('error', () => {
      setConnected(false);
      // A stream refused for good (the session ended): find out, which sends the page back to sign-in.
      if (source.readyState === EventSource.CLOSED) get('/session').catch(() => {});
    });
    return () => source.close();
  }, []);
  return [status, connected];
}

function Console({ session, onSignOut }) {
  const [page, setPage] = useState(currentPage());
  const [recent, setRecent] = useState([]);
  const [status, connected] = useLiveStatus((row) => setRecent((rows) => [row, ...rows.filter((r) => r.id !== row.id)].slice(0, 12)));
  useEffect(() => {
    const on = () => {
      setPage(currentPage());
      document.getElementById('main')?.focus();
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    get('/log?limit=12').then((r) => setRecent(r.events), () => {});
  }, []);
  const [, title, Page] = PAGES.find(([id]) => id === page);
  const branch = status?.branch.name ?? status?.branch.site ?? '';
  useEffect(() => {
    document.title = `${title} · ${branch || 'Staff console'}`;
  }, [title, branch]);
  const mode = status?.state.mode;

  const signOut = async () => {
    try {
      await post('/logout');
    } catch {
      // Signed out either way.
    }
    onSignOut();
  };

  return html`<div class="shell">
    <a class="skip" href="#main">Skip to the page</a>
    <header class="topbar">
      <div class="topbar-row">
        <p class="brand"><img src="/console/icon.svg" alt="" width="32" height="32" />
          <span><span class="branch-name">${branch || 'Branch'}</span><span class="product">Staff console</span></span></p>
        <div class="topbar-right">
          ${mode && html`<span class=${`mode-pill mode-${mode}`}>${MODE_LABELS[mode]}</span>`}
          <span class=${connected ? 'live on' : 'live off'} role="status">${connected ? 'Live' : 'Reconnecting…'}</span>
          <span class="who">${session.username} <span class="role">${session.role}</span></span>
          <button type="button" class="button secondary small" onClick=${signOut}>Sign out</button>
        </div>
      </div>
      <nav aria-label="Console pages"><ul class="tabs">
        ${PAGES.map(([id, label]) => html`<li><a href=${`#${id}`} aria-current=${id === page ? 'page' : undefined}>${label}</a></li>`)}
      </ul></nav>
    </header>
    <main id="main" tabindex="-1">
      <h1 class="visually-hidden">${title}</h1>
      <${Page} session=${session} status=${status} recent=${recent} />
    </main>
  </div>`;
}

function App() {
  const [session, setSession] = useState(undefined);
  useEffect(() => {
    get('/session').then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      () => setSession(null),
    );
    const signedOut = () => {
      setCsrfToken(null);
      setSession((s) => {
        if (s) notify('Your session has ended: sign in again.', 'warn');
        return null;
      });
    };
    window.addEventListener('oag:signed-out', signedOut);
    return () => window.removeEventListener('oag:signed-out', signedOut);
  }, []);
  if (session === undefined) return html`<main class="boot"><p>Loading the staff console…</p></main>`;
  const signedIn = (s) => {
    setCsrfToken(s.csrfToken);
    setSession(s);
  };
  const signedOut = () => {
    setCsrfToken(null);
    setSession(null);
  };
  return html`<${Notices} />${session === null ? html`<${SignIn} onSignedIn=${signedIn} />` : html`<${Console} session=${session} onSignOut=${signedOut} />`}`;
}

render(html`<${App} />`, document.getElementById('app'));
