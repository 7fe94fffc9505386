// Signing in at central from a test: an API token with a role (what scripts use), or an account with a password
// and the session cookie and CSRF token a browser would hold.
import type { FastifyInstance } from 'fastify';
import type { ScryptParams } from '../../kit/auth/passwords.js';
import type { Role } from '../../central/auth/identity.js';
import type { CentralAuth } from '../../central/auth/service.js';

/** The cheapest scrypt verifyPassword accepts: tests sign in many times. */
export const TEST_SCRYPT: ScryptParams = { ln: 10, r: 8, p: 1 };

let made = 0;

/** A fresh API token with `role`, as request headers. */
export async function tokenHeaders(auth: Pick<CentralAuth, 'tokens'>, role: Role = 'administrator', expiresDays = 30): Promise<Record<string, string>> {
  made += 1;
  const { token } = await auth.tokens.create({ name: `test-${role}-${made}`, role, expiresDays }, 'test');
  return { authorization: `Bearer ${token}` };
}

export interface SignedIn {
  /** `oag_central_session=…`, for a Cookie header. */
  cookie: string;
  csrfToken: string;
  /** Cookie and CSRF header: what the dashboard sends with a change. */
  headers: Record<string, string>;
}

/** Makes a local account (unless it exists) and signs it in through POST /api/auth/login. */
export async function signIn(app: FastifyInstance, auth: Pick<CentralAuth, 'accounts'>, username: string, role: Role = 'administrator', password = 'correct horse battery'): Promise<SignedIn> {
  if ((await auth.accounts.get(username)) === undefined) await auth.accounts.add(username, role, password);
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`sign-in as ${username}: ${res.statusCode} ${res.body}`);
  const set = res.cookies.find((c) => c.name.endsWith('oag_central_session'));
  if (set === undefined) throw new Error(`sign-in as ${username}: no session cookie`);
  const cookie = `${set.name}=${set.value}`;
  const csrfToken = (res.json() as { csrfToken: string }).csrfToken;
  return { cookie, csrfToken, headers: { cookie, 'x-csrf-token': csrfToken } };
}

const cached = new WeakMap<object, Map<Role, Promise<Record<string, string>>>>();

/** One token per central and role, made on first use: for tests that call a running central's API over fetch. */
export function centralHeaders(central: { auth: Pick<CentralAuth, 'tokens'> }, role: Role = 'administrator'): Promise<Record<string, string>> {
  let byRole = cached.get(central.auth);
  if (byRole === undefined) cached.set(central.auth, (byRole = new Map()));
  let headers = byRole.get(role);
  if (headers === undefined) byRole.set(role, (headers = tokenHeaders(central.auth, role, 365)));
  return headers;
}
