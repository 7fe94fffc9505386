// Single sign-on over OpenID Connect: the authorization code flow with PKCE (S256), state and nonce, through
// openid-client. `GET /auth/oidc/start` sends the browser to the provider; `GET /auth/oidc/callback` takes it back,
// checks everything the provider answered (the ID token's signature, issuer, audience, nonce and times), maps its
// claims to a username and a role, and only then hands over to the session (StartSession). Whatever fails is a page
// that names what is wrong, a log line with the reason, and no session.
//
// The provider is found (discovery) at the first sign-in, not at start: central starts and runs while the provider
// is down, and a failed discovery is tried again on the next sign-in.
import fastifyCookie from '@fastify/cookie';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { validate } from '../../policies/errors.js';
import { readTextFile } from '../../kit/read-bounded.js';
import type { StartSession } from './identity.js';
import { needsUserinfo, roleFrom, unverifiedEmail, usernameFrom, type Claims } from './oidc-claims.js';
import type { OidcConfig } from './oidc-config.js';
import { sendContinue, sendRefusal } from './oidc-page.js';
import { PENDING_TTL_MS, PendingSignIns } from './oidc-pending.js';

export const OIDC_START_PATH = '/auth/oidc/start';
export const OIDC_CALLBACK_PATH = '/auth/oidc/callback';
/** Binds a pending sign-in to the browser that started it; sent back only to /auth/oidc/. */
export const OIDC_BROWSER_COOKIE = 'oag_oidc_browser';

const MAX_SECRET_BYTES = 4096;
/** openid-client counts in seconds: how long discovery, the token and userinfo requests may take. */
const PROVIDER_TIMEOUT_S = 10;

export interface OidcDeps {
  config: OidcConfig;
  startSession: StartSession;
  logger: Logger;
  clock: { now(): Date };
  /** The client secret from elsewhere (an environment variable read by the composition root); else the config's. */
  clientSecret?: string;
  /** Central's sign-in page, linked from every refusal. */
  loginPath?: string;
}

/** Reads the client secret once, at start: a secret that cannot be read stops central with the reason. */
export function oidcClientSecret(config: OidcConfig, given?: string): string {
  if (given !== undefined && given !== '') return given;
  if (config.clientSecret !== undefined) return config.clientSecret;
  const file = config.clientSecretFile!;
  const read = readTextFile(file, { what: `oidc.clientSecretFile (${file})`, maxBytes: MAX_SECRET_BYTES });
  if (!read.ok) throw new Error(read.error);
  const secret = read.text.trim();
  if (secret === '') throw new Error(`oidc.clientSecretFile (${file}): is empty`);
  return secret;
}

/** `next` as given, if it is a path on central (one leading slash, nothing a browser would read as another host). */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || next.length > 2048) return '/';
  if (!/^\/(?![/\\])[A-Za-z0-9\-._~!$&()*+,;=:@%/?#]*$/.test(next)) return '/';
  return next;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Discovery at first use, kept once it worked, tried again after it failed. */
class ProviderLink {
  private configuration: Promise<client.Configuration> | null = null;

  constructor(
    private readonly config: OidcConfig,
    private readonly secret: string,
  ) {}

  get(): Promise<client.Configuration> {
    if (this.configuration === null) {
      const issuer = new URL(this.config.issuer);
      // Plain http is for a provider on this machine only (a test, a local Keycloak); the schema refuses others.
      const execute = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname) ? [client.allowInsecureRequests] : [];
      const found = client.discovery(issuer, this.config.clientId, undefined, client.ClientSecretBasic(this.secret), { timeout: PROVIDER_TIMEOUT_S, execute });
      this.configuration = found;
      found.catch(() => {
        if (this.configuration === found) this.configuration = null;
      });
    }
    return this.configuration;
  }
}

/** Why the provider could not be reached or used, in words for the page and the log. */
export function unavailableReason(error: unknown, issuer: string): string {
  const err = error as Error & { code?: string; cause?: unknown };
  if (err instanceof client.ClientError) {
    if (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && err.cause instanceof Response) return `${issuer} answered with HTTP ${err.cause.status}`;
    if (err.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') return `the discovery document at ${issuer} names another issuer`;
    if (err.code === 'OAUTH_RESPONSE_IS_NOT_JSON') return `${issuer} did not answer with JSON`;
    return `${issuer}: ${err.message}`;
  }
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `${issuer} did not answer within ${PROVIDER_TIMEOUT_S} s`;
  const code = (err?.cause as { code?: string } | undefined)?.code;
  if (err instanceof TypeError && code !== undefined) return `${issuer} cannot be reached (${code})`;
  return `${issuer} cannot be reached (${err?.message ?? String(error)})`;
}

function isNetworkFailure(error: unknown): boolean {
  const err = error as Error;
  return (err instanceof TypeError && err.message === 'fetch failed') || err?.name === 'TimeoutError' || err?.name === 'AbortError';
}

/** What was wrong with the provider's answer to the callback, for the page and the log. */
function refusedAnswer(error: unknown): string | null {
  if (error instanceof client.ResponseBodyError) {
    const description = error.error_description === undefined ? '' : ` (${error.error_description.slice(0, 200)})`;
    return `the provider refused the sign-in code: ${error.error}${description}`;
  }
  if (error instanceof client.AuthorizationResponseError) {
    return `the provider did not sign you in: ${error.error}`;
  }
  if (error instanceof client.ClientError) {
    const inner = error.cause as (Error & { cause?: { claim?: string } }) | undefined;
    const claim = inner?.cause?.claim;
    if (error.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED') {
      if (claim === 'aud' || claim === 'azp') return `the ID token was refused: it was issued for another client (${claim})`;
      if (claim === 'nonce') return 'the ID token was refused: its nonce is not the one this sign-in sent (nonce)';
      if (claim === 'iss') return 'the ID token was refused: it comes from another issuer (iss)';
      return `the ID token was refused: ${inner?.message ?? error.message}`;
    }
    if (error.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return `the ID token was refused: it has expired or is not valid yet (${claim ?? 'time'})`;
    return `the provider's answer was refused: ${inner?.message ?? error.message}`;
  }
  return null;
}

const CallbackQuery = z.looseObject({
  state: z.string().min(1).max(1024).optional(),
  code: z.string().min(1).max(4096).optional(),
  error: z.string().min(1).max(256).optional(),
  error_description: z.string().max(1024).optional(),
});

export function oidcRoutes(deps: OidcDeps): FastifyPluginAsync {
  const { config, startSession, clock } = deps;
  const logger = deps.logger.child({ module: 'oidc' });
  const secret = oidcClientSecret(config, deps.clientSecret);
  const publicUrl = new URL(config.publicUrl);
  const redirectUri = new URL(OIDC_CALLBACK_PATH, publicUrl).href;
  const secureCookie = publicUrl.protocol === 'https:';
  const scopes = config.scopes.includes('openid') ? config.scopes : ['openid', ...config.scopes];
  const links = { loginPath: deps.loginPath ?? '/login' };
  const provider = new ProviderLink(config, secret);
  const pending = new PendingSignIns(clock);

  const refuse = async (request: FastifyRequest, reply: FastifyReply, status: number, reason: string): Promise<void> => {
    logger.warn({ reason, status, ip: request.ip }, 'single sign-on refused');
    await sendRefusal(reply, status, 'Single sign-on failed', `${reason}.`, links);
  };
  const unavailable = async (request: FastifyRequest, reply: FastifyReply, error: unknown): Promise<void> => {
    const reason = unavailableReason(error, config.issuer);
    logger.warn({ reason, ip: request.ip }, 'single sign-on unavailable');
    await sendRefusal(reply, 503, 'Single sign-on is unavailable', `Single sign-on is unavailable: ${reason}; sign in with a local account.`, links);
  };

  return async (app) => {
    if (!app.hasReplyDecorator('setCookie')) await app.register(fastifyCookie);

    app.get(OIDC_START_PATH, { schema: { hide: true } }, async (request, reply) => {
      const next = safeNext((request.query as Record<string, unknown> | undefined)?.next);
      let configuration: client.Configuration;
      try {
        configuration = await provider.get();
      } catch (error) {
        return unavailable(request, reply, error);
      }
      const given = request.cookies[OIDC_BROWSER_COOKIE];
      // One value per browser, kept while it is valid, so that two tabs signing in at once both succeed.
      const browserKey = PendingSignIns.isBrowserKey(given) ? given : PendingSignIns.newBrowserKey();
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      pending.add(state, browserKey, { codeVerifier, nonce, next });
      const url = client.buildAuthorizationUrl(configuration, {
        redirect_uri: redirectUri,
        scope: scopes.join(' '),
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      reply.setCookie(OIDC_BROWSER_COOKIE, browserKey, {
        path: '/auth/oidc/',
        httpOnly: true,
        // Lax, not Strict: the callback is a top-level navigation from the provider's site.
        sameSite: 'lax',
        secure: secureCookie,
        maxAge: PENDING_TTL_MS / 1000,
      });
      return reply.header('cache-control', 'no-store').redirect(url.href, 302);
    });

    app.get(OIDC_CALLBACK_PATH, { schema: { hide: true } }, async (request, reply) => {
      const query = validate(CallbackQuery, request.query ?? {});
      if (!query.ok) return refuse(request, reply, 400, `the answer from the provider is malformed: ${query.errors.join('; ')}`);
      const { state, error } = query.value;
      if (state === undefined) return refuse(request, reply, 400, 'the answer from the provider has no state; start again from the sign-in page');
      const taken = pending.take(state, request.cookies[OIDC_BROWSER_COOKIE]);
      if (!taken.ok) {
        const reason = {
          unknown: 'this sign-in is unknown to central: it was already used, or central restarted since it began; start again',
          'other-browser': 'this sign-in was started in another browser (or its cookie is gone); start again in this one',
          expired: `this sign-in took more than ${PENDING_TTL_MS / 60_000} minutes and has expired; start again`,
        }[taken.reason];
        return refuse(request, reply, 400, reason);
      }
      if (error !== undefined) {
        const description = query.value.error_description === undefined ? '' : ` (${query.value.error_description.slice(0, 200)})`;
        return refuse(request, reply, 401, `the provider did not sign you in: ${error}${description}`);
      }

      let claims: Claims;
      let configuration: client.Configuration;
      try {
        configuration = await provider.get();
        const currentUrl = new URL(redirectUri);
        currentUrl.search = new URL(request.url, publicUrl).search;
        const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
          pkceCodeVerifier: taken.pending.codeVerifier,
          expectedState: state,
          expectedNonce: taken.pending.nonce,
          idTokenExpected: true,
        });
        claims = { ...(tokens.claims() ?? {}) };
        if (needsUserinfo(claims, config) && configuration.serverMetadata().userinfo_endpoint !== undefined) {
          const userinfo = await client.fetchUserInfo(configuration, tokens.access_token, String(claims.sub));
          // The signed ID token wins where both say something.
          claims = { ...userinfo, ...claims };
        }
      } catch (err) {
        if (isNetworkFailure(err)) return unavailable(request, reply, err);
        const reason = refusedAnswer(err);
        if (reason !== null) return refuse(request, reply, 400, reason);
        logger.error({ reason: (err as Error)?.message }, 'single sign-on failed');
        return sendRefusal(reply, 502, 'Single sign-on failed', 'Single sign-on failed: the provider gave an answer central cannot use.', links);
      }

      const issuer = config.issuer;
      const unverified = unverifiedEmail(claims, config);
      if (unverified !== null) return refuse(request, reply, 403, `signed in at ${issuer}, but ${unverified}`);
      const name = usernameFrom(claims, config);
      if (!name.ok) return refuse(request, reply, 403, `signed in at ${issuer}, but ${name.error}`);
      const role = roleFrom(claims, config);
      if (role === null) {
        // StartSession audits sign-ins; this one never reaches it, so the log is its only record.
        logger.warn({ issuer, username: name.username, roleClaim: config.roleClaim, ip: request.ip }, 'single sign-on: no role at central');
        await sendRefusal(reply, 403, 'No role at central', `Signed in at ${issuer} as ${name.username}, but that account has no role at central.`, links);
        return;
      }
      try {
        await startSession(request, reply, { username: name.username, role, via: 'oidc' });
      } catch (err) {
        // The session side may refuse someone the provider vouched for (a name it cannot use, a local account of
        // that name): a 4xx that names why.
        const status = (err as { statusCode?: unknown }).statusCode;
        if (typeof status === 'number' && status >= 400 && status < 500) {
          return refuse(request, reply, status, `signed in at ${config.issuer} as ${name.username}, but ${(err as Error).message}`);
        }
        logger.error({ err, username: name.username }, 'single sign-on: the session could not be started');
        return sendRefusal(reply, 500, 'Single sign-on failed', 'Single sign-on failed: central could not start your session; try again.', links);
      }
      logger.info({ username: name.username, role }, 'single sign-on');
      return sendContinue(reply, name.username, taken.pending.next);
    });
  };
}
