// A real OpenID provider (oidc-provider, koa inside) on loopback for central's single sign-on tests: one confidential
// client, PKCE required, its built-in login and consent forms (devInteractions: any password is taken, the login
// names the account), and four people: alice in `library-admins` and `library-staff`, bob in `library-staff`,
// carol in no group central knows, and mallory, who gives alice's email address without having verified it.
// `misbehave` makes it sign ID tokens that a careful client must refuse (issued for another client, a wrong nonce):
// the token is still genuinely signed by the provider, so only central's checks stand in the way.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Provider, { type Account } from 'oidc-provider';
import { freePort } from './free-port.js';

export interface TestAccount {
  name: string;
  preferred_username: string;
  email: string;
  email_verified: boolean;
  groups: string[];
}

export const ACCOUNTS: Record<string, TestAccount> = {
  alice: { name: 'Alice Archer', preferred_username: 'alice', email: 'alice@library.example', email_verified: true, groups: ['library-staff', 'library-admins'] },
  bob: { name: 'Bob Binder', preferred_username: 'bob', email: 'bob@library.example', email_verified: true, groups: ['library-staff'] },
  carol: { name: 'Carol Cole', preferred_username: 'carol', email: 'carol@library.example', email_verified: true, groups: ['reading-group'] },
  /** Claims alice's address without having proved it. */
  mallory: { name: 'Mallory', preferred_username: 'mallory', email: 'alice@library.example', email_verified: false, groups: [] },
};

export interface Misbehaviour {
  /** Sign the ID token for this client id instead of the one that asked. */
  audience?: string;
  /** Put this nonce in the ID token instead of the one the sign-in sent. */
  nonce?: string;
}

export interface TestOidcProvider {
  /** `http://localhost:PORT`: a different site from central's `127.0.0.1`, as a real provider would be. */
  issuer: string;
  port: number;
  clientId: string;
  clientSecret: string;
  /** Set fields to make the next ID tokens wrong; reset to `{}` after. */
  misbehave: Misbehaviour;
  /** Every request the provider answered: `GET /.well-known/openid-configuration`, `POST /token`... */
  requests: string[];
  close(): Promise<void>;
}

export interface OidcProviderOptions {
  redirectUris: string[];
  /** A fixed port (to bring a provider back where central expects it); a free one otherwise. */
  port?: number;
  /** `localhost` (default) or `127.0.0.1`. */
  host?: string;
  /** The client's secret; a random one otherwise. */
  clientSecret?: string;
  /** False: the ID token carries only `sub` and the rest comes from the userinfo endpoint, as some providers do. */
  claimsInIdToken?: boolean;
}

export async function startOidcProvider(options: OidcProviderOptions): Promise<TestOidcProvider> {
  const port = options.port ?? (await freePort());
  const issuer = `http://${options.host ?? 'localhost'}:${port}`;
  const clientId = 'oag-central';
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...signingKey, kid: 'test-signing-key', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    ttl: { AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: true } },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'], groups: ['groups'] },
    conformIdTokenClaims: options.claimsInIdToken === false,
    async findAccount(_ctx: unknown, sub: string): Promise<Account | undefined> {
      const account = ACCOUNTS[sub];
      if (account === undefined) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...account }) };
    },
  });
  // The ID token is changed after the provider has decided it and before it signs it: a forged token a real
  // provider signed, which only the relying party's own checks can catch.
  let misbehave: Misbehaviour = {};
  const idToken = provider.IdToken.prototype;
  const issue = idToken.issue;
  idToken.issue = async function (this: typeof idToken, opts?: { use?: string }) {
    if (opts?.use !== 'idtoken') return issue.call(this, opts);
    if (misbehave.nonce !== undefined) this.set('nonce', misbehave.nonce);
    if (misbehave.audience === undefined) return issue.call(this, opts);
    const real = this.client;
    this.client = Object.create(real, { clientId: { value: misbehave.audience } }) as typeof real;
    try {
      return await issue.call(this, opts);
    } finally {
      this.client = real;
    }
  };
  // The provider's own error pages would otherwise print to the test's output.
  provider.on('server_error', () => undefined);

  const requests: string[] = [];
  const handle = provider.callback();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]}`);
    handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  return {
    issuer,
    port,
    clientId,
    clientSecret,
    get misbehave() {
      return misbehave;
    },
    set misbehave(value: Misbehaviour) {
      misbehave = value;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A cookie jar per origin and a `fetch` that never follows redirects: each step of a sign-in is looked at. */
export class HandBrowser {
  private readonly jars = new Map<string, Map<string, string>>();

  async get(url: string): Promise<Response> {
    return this.request(url, { method: 'GET' });
  }

  async post(url: string, form: Record<string, string>): Promise<Response> {
    return this.request(url, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(origin)?.get(name);
  }

  setCookie(origin: string, name: string, value: string): void {
    this.jar(origin).set(name, value);
  }

  private jar(origin: string): Map<string, string> {
    let jar = this.jars.get(origin);
    if (jar === undefined) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  private async request(url: string, init: { method: string; body?: URLSearchParams; headers?: Record<string, string> }): Promise<Response> {
    const { origin } = new URL(url);
    const jar = this.jar(origin);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, ...(cookie === '' ? {} : { cookie }) } });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  }
}

/** Where a redirect goes, absolute. */
export function locationOf(response: Response, base: string): string {
  const location = response.headers.get('location');
  if (location === null) throw new Error(`expected a redirect from ${base}, got ${response.status}`);
  return new URL(location, base).href;
}

/**
 * Goes through the provider's forms from its authorization URL, as a person would: the login form (as `login`),
 * then the consent form; or the login form's Cancel link. Returns the URL the provider sends the browser back to
 * (central's callback).
 */
export async function signInAtProvider(browser: HandBrowser, authorizationUrl: string, login: string | { cancel: true }): Promise<string> {
  let url = authorizationUrl;
  for (let step = 0; step < 12; step++) {
    const response = await browser.get(url);
    if (response.status >= 300 && response.status < 400) {
      const next = locationOf(response, url);
      if (!next.startsWith(new URL(authorizationUrl).origin)) return next;
      url = next;
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`the provider answered ${response.status} at ${url}: ${html.slice(0, 300)}`);
    if (typeof login !== 'string') {
      const cancel = /<a href="([^"]+)">\[ Cancel \]<\/a>/.exec(html)?.[1];
      if (cancel === undefined) throw new Error(`no Cancel link on the provider's page at ${url}`);
      url = new URL(unescapeHtml(cancel), url).href;
      continue;
    }
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
    if (action === undefined || prompt === undefined) throw new Error(`no form on the provider's page at ${url}`);
    const form: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'any password' } : { prompt };
    const submitted = await browser.post(new URL(unescapeHtml(action), url).href, form);
    url = locationOf(submitted, url);
  }
  throw new Error('the provider kept asking: no redirect back to central after 12 steps');
}

function unescapeHtml(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&#x2F;/gi, '/').replace(/&#47;/g, '/');
}
