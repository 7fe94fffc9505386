// Who is asking, at central: a signed-in person (local account or single sign-on) or an API token. Every route but
// the few public ones needs one; the actor of every command, policy and member change is this identity, never a
// field of the request body.
import type { FastifyReply, FastifyRequest } from 'fastify';

/** In order: each role can do everything the ones before it can. */
export const ROLES = ['viewer', 'operator', 'administrator'] as const;
export type Role = (typeof ROLES)[number];

export function hasRole(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export interface Identity {
  kind: 'user' | 'token';
  /** The account's username, or the token's name. */
  name: string;
  role: Role;
  /** How this request proved it: a session from a password or single sign-on, or a bearer token. */
  via: 'password' | 'oidc' | 'token';
}

/** `user:alice`, `token:nightly-export`: what audit rows, logs and the branches' `staff` events show. */
export function actorOf(identity: Identity): string {
  return `${identity.kind}:${identity.name}`;
}

/**
 * Starts a session for someone central has verified (a password, or the OpenID provider's ID token): sets the
 * session cookie and records the sign-in in the audit. Local accounts and single sign-on both end here.
 */
export type StartSession = (
  request: FastifyRequest,
  reply: FastifyReply,
  who: { username: string; role: Role; via: 'password' | 'oidc' },
) => Promise<{ csrfToken: string }>;
