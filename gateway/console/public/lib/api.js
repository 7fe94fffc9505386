/* global fetch, window, CustomEvent */
// The console's JSON API. Every change carries the session's CSRF token; a 401 anywhere but sign-in means the
// session has ended, and the app goes back to the sign-in page.
const BASE = '/api/console';
let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `request failed (${status})`);
    this.status = status;
    this.errors = Array.isArray(body?.errors) ? body.errors : [];
  }
}

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  let response;
  try {
    response = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, { error: 'the gateway did not answer: check the network and try again' });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401 && path !== '/login') window.dispatchEvent(new CustomEvent('oag:signed-out'));
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

/** `policy.schedule.weekly.mon[1].to: must be after from` → { path: 'schedule.weekly.mon[1].to', message }. */
export function fieldErrors(errors, prefix = '') {
  return errors.map((line) => {
    const at = line.indexOf(': ');
    const path = at < 0 ? '' : line.slice(0, at);
    return { path: path.startsWith(prefix) ? path.slice(prefix.length) : path, message: at < 0 ? line : line.slice(at + 2), line };
  });
}

export function fieldId(path) {
  return `f-${path.replace(/[^A-Za-z0-9]+/g, '-')}`;
}
