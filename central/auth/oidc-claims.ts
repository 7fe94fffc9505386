// Who someone is at central, from what the OpenID provider says about them: the username from one claim, the role
// from another against the configured lists (the highest that matches wins). The provider vouches for the claims;
// central alone decides what they are worth.
import { ROLES, type Role } from './identity.js';
import type { OidcConfig } from './oidc-config.js';

export type Claims = Record<string, unknown>;

export type UsernameResult = { ok: true; username: string } | { ok: false; error: string };

/** Printable, no spaces at either end, no control characters: it is shown in headers, audit rows and logs. */
const USERNAME = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,254}[^\s\p{Cc}])?$/u;

export function usernameFrom(claims: Claims, config: Pick<OidcConfig, 'usernameClaim'>): UsernameResult {
  const value = claims[config.usernameClaim];
  if (value === undefined || value === null) return { ok: false, error: `the provider sent no "${config.usernameClaim}" claim (the name central gives a person)` };
  if (typeof value !== 'string' || !USERNAME.test(value)) {
    return { ok: false, error: `the provider's "${config.usernameClaim}" claim is not a usable name (1 to 256 printable characters)` };
  }
  return { ok: true, username: value };
}

/**
 * An address the provider itself says it has not verified is anyone's to type: it names nobody and grants nothing
 * (Google sends `email_verified`; Entra ID does not, and its `email` should not be used for this at all).
 */
export function unverifiedEmail(claims: Claims, config: Pick<OidcConfig, 'usernameClaim' | 'roleClaim'>): string | null {
  const usesEmail = config.usernameClaim === 'email' || config.roleClaim === 'email';
  if (!usesEmail || (claims.email_verified !== false && claims.email_verified !== 'false')) return null;
  return 'the provider says this email address is not verified';
}

/** The claim's values: a string, or the strings of a list (Entra ID's `groups`, Keycloak's `roles`). */
export function claimValues(claims: Claims, claim: string): string[] {
  const value = claims[claim];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** The highest role whose list names one of the claim's values; null when none does. */
export function roleFrom(claims: Claims, config: Pick<OidcConfig, 'roleClaim' | 'roles'>): Role | null {
  const values = new Set(claimValues(claims, config.roleClaim));
  for (const role of [...ROLES].reverse()) {
    if (config.roles[role].some((v) => values.has(v))) return role;
  }
  return null;
}

/** Whether the claims lack what central needs, so that the userinfo endpoint should be asked. */
export function needsUserinfo(claims: Claims, config: Pick<OidcConfig, 'usernameClaim' | 'roleClaim'>): boolean {
  return claims[config.usernameClaim] === undefined || claims[config.roleClaim] === undefined;
}
