// Accounts: everyone can change their own password; managers add accounts, change roles, set passwords and
// remove accounts. The gateway keeps at least one manager.
import { html, useState, useEffect, useRef } from '../lib/html.js';
import { ApiError, del, fieldErrors, get, patch, post } from '../lib/api.js';
import { ErrorSummary, Input, Select, errorMap, notify, useConfirm } from '../lib/ui.js';
import { ago } from '../lib/format.js';

const ROLES = [
  ['staff', 'Staff: run the building, read the log'],
  ['manager', 'Manager: also schedules and accounts'],
];

function OwnPassword() {
  const [form, setForm] = useState({ current: '', password: '', again: '' });
  const [errors, setErrors] = useState([]);
  const set = (key) => (value) => setForm((f) => ({ ...f, [key]: value }));
  const submit = async (event) => {
    event.preventDefault();
    if (form.password !== form.again) {
      setErrors(['again: does not match the new password']);
      return;
    }
    try {
      await post('/password', { current: form.current, password: form.password });
      setErrors([]);
      setForm({ current: '', password: '', again: '' });
      notify('Password changed. Your other sessions have been signed out.');
    } catch (e) {
      setErrors(e instanceof ApiError && e.errors.length > 0 ? e.errors : [e.message]);
    }
  };
  const list = fieldErrors(errors);
  const byPath = errorMap(list);
  return html`<form class="card" onSubmit=${submit} aria-labelledby="own-title" novalidate>
    <h2 id="own-title">Your password</h2>
    <${ErrorSummary} scope="own" title="The password was not changed" errors=${list} />
    <div class="row">
      <${Input} scope="own" label="Current password" type="password" autocomplete="current-password" path="current" errors=${byPath} value=${form.current} onValue=${set('current')} />
      <${Input} scope="own" label="New password" type="password" autocomplete="new-password" path="password" errors=${byPath} value=${form.password} onValue=${set('password')} hint="At least 10 characters." />
      <${Input} scope="own" label="New password again" type="password" autocomplete="new-password" path="again" errors=${byPath} value=${form.again} onValue=${set('again')} />
    </div>
    <div class="actions"><button class="button primary" type="submit">Change password</button></div>
  </form>`;
}

function AddAccount({ onAdded }) {
  const [form, setForm] = useState({ username: '', role: 'staff', password: '' });
  const [errors, setErrors] = useState([]);
  const set = (key) => (value) => setForm((f) => ({ ...f, [key]: value }));
  const submit = async (event) => {
    event.preventDefault();
    try {
      const user = await post('/users', form);
      setErrors([]);
      setForm({ username: '', role: 'staff', password: '' });
      notify(`Account ${user.username} added. Give them the password in person; they can change it here.`);
      onAdded();
    } catch (e) {
      setErrors(e instanceof ApiError && e.errors.length > 0 ? e.errors : [e.message]);
    }
  };
  const list = fieldErrors(errors);
  const byPath = errorMap(list);
  return html`<form class="card" onSubmit=${submit} aria-labelledby="add-title" novalidate>
    <h2 id="add-title">Add an account</h2>
    <${ErrorSummary} scope="add" title="The account was not added" errors=${list} />
    <div class="row">
      <${Input} scope="add" label="Username" path="username" errors=${byPath} value=${form.username} onValue=${set('username')} autocomplete="off" autocapitalize="none" spellcheck="false" />
      <${Select} scope="add" label="Role" path="role" errors=${byPath} value=${form.role} options=${ROLES} onValue=${set('role')} />
      <${Input} scope="add" label="First password" type="password" autocomplete="new-password" path="password" errors=${byPath} value=${form.password} onValue=${set('password')} hint="At least 10 characters." />
    </div>
    <div class="actions"><button class="button primary" type="submit">Add account</button></div>
  </form>`;
}

/** A manager sets someone's password (they forgot it): a dialog with the new password, twice. */
function SetPasswordDialog({ user, onDone }) {
  const ref = useRef(null);
  const [form, setForm] = useState({ password: '', again: '' });
  const [errors, setErrors] = useState([]);
  useEffect(() => {
    const dialog = ref.current;
    dialog.showModal();
    return () => dialog.open && dialog.close();
  }, []);
  const set = (key) => (value) => setForm((f) => ({ ...f, [key]: value }));
  const submit = async (event) => {
    event.preventDefault();
    if (form.password !== form.again) {
      setErrors(['again: does not match the new password']);
      return;
    }
    try {
      await patch(`/users/${encodeURIComponent(user.username)}`, { password: form.password });
      notify(`New password set for ${user.username}; their sessions have ended.`);
      onDone();
    } catch (e) {
      setErrors(e instanceof ApiError && e.errors.length > 0 ? e.errors : [e.message]);
    }
  };
  const list = fieldErrors(errors);
  const byPath = errorMap(list);
  return html`<dialog ref=${ref} class="confirm" aria-labelledby="setpw-title" onCancel=${(event) => { event.preventDefault(); onDone(); }}>
    <form onSubmit=${submit} novalidate>
      <h2 id="setpw-title">New password for ${user.username}</h2>
      <p class="muted">They are signed out everywhere and sign in with this password. Tell them in person.</p>
      <${ErrorSummary} scope="setpw" title="The password was not set" errors=${list} />
      <${Input} scope="setpw" label="New password" type="password" autocomplete="new-password" path="password" errors=${byPath} value=${form.password} onValue=${set('password')} hint="At least 10 characters." />
      <${Input} scope="setpw" label="New password again" type="password" autocomplete="new-password" path="again" errors=${byPath} value=${form.again} onValue=${set('again')} />
      <div class="actions">
        <button type="button" class="button secondary" onClick=${onDone}>Cancel</button>
        <button type="submit" class="button primary">Set password</button>
      </div>
    </form>
  </dialog>`;
}

function Accounts({ session, now }) {
  const [users, setUsers] = useState(null);
  const [settingPassword, setSettingPassword] = useState(null);
  const [confirm, dialog] = useConfirm();
  const load = () => get('/users').then((r) => setUsers(r.users), (e) => notify(e.message, 'error'));
  useEffect(() => {
    load();
  }, []);

  const changeRole = async (user, role) => {
    if (role === user.role) return;
    const ok = await confirm({ title: `Make ${user.username} ${role === 'manager' ? 'a manager' : 'staff'}?`, body: html`<p>${ROLES.find(([r]) => r === role)[1]}.</p>`, confirmLabel: 'Change role' });
    if (!ok) return load();
    try {
      await patch(`/users/${encodeURIComponent(user.username)}`, { role });
      notify(`${user.username} is now ${role === 'manager' ? 'a manager' : 'staff'}.`);
    } catch (e) {
      notify(e.message, 'error');
    }
    load();
  };
  const remove = async (user) => {
    const ok = await confirm({ title: `Remove ${user.username}?`, body: html`<p>They are signed out at once and can no longer sign in.</p>`, confirmLabel: 'Remove account', danger: true });
    if (!ok) return;
    try {
      await del(`/users/${encodeURIComponent(user.username)}`);
      notify(`Account ${user.username} removed.`);
    } catch (e) {
      notify(e.message, 'error');
    }
    load();
  };

  return html`<section class="card" aria-labelledby="accounts-title">
    <h2 id="accounts-title">Accounts</h2>
    ${users === null ? html`<p class="muted">Loading…</p>` : html`<div class="table-wrap"><table class="accounts">
      <caption class="visually-hidden">Console accounts</caption>
      <thead><tr><th scope="col">Username</th><th scope="col">Role</th><th scope="col">Last signed in</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${users.map((user) => html`<tr>
        <th scope="row">${user.username}${user.username === session.username ? html` <span class="muted">(you)</span>` : ''}</th>
        <td><label class="visually-hidden" for=${`role-${user.username}`}>Role of ${user.username}</label>
          <select id=${`role-${user.username}`} value=${user.role} onChange=${(e) => changeRole(user, e.currentTarget.value)}>
            ${ROLES.map(([r]) => html`<option value=${r} selected=${r === user.role}>${r === 'manager' ? 'Manager' : 'Staff'}</option>`)}
          </select></td>
        <td>${ago(user.lastLoginAt, now)}</td>
        <td><div class="row-actions">
          <button type="button" class="button small secondary" onClick=${() => setSettingPassword(user)}>New password<span class="visually-hidden"> for ${user.username}</span></button>
          <button type="button" class="button small secondary" onClick=${() => remove(user)}>Remove<span class="visually-hidden"> ${user.username}</span></button>
        </div></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${dialog}
    ${settingPassword && html`<${SetPasswordDialog} user=${settingPassword} onDone=${() => setSettingPassword(null)} />`}
  </section>`;
}

export function AccountsPage({ session, status }) {
  const now = status ? new Date(status.state.at) : undefined;
  const [version, setVersion] = useState(0);
  return html`<div class="stack">
    <${OwnPassword} />
    ${session.role === 'manager'
      ? html`<${Accounts} key=${version} session=${session} now=${now} /><${AddAccount} onAdded=${() => setVersion((v) => v + 1)} />`
      : html`<p class="muted">A manager adds accounts and changes roles.</p>`}
  </div>`;
}
