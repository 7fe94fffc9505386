// Single sign-on over OpenID Connect (Microsoft Entra ID, Google Workspace, Keycloak...): the `oidc:` section of
// central's config. Who gets which role is decided here, from a claim of the ID token (a group, say), never by
// the provider alone: someone the provider knows but this list does not gets no role and no session.
import { z } from 'zod';
import { ROLES } from './identity.js';

const claimValues = z.array(z.string().min(1).max(256)).max(200).default([]);

export const OidcConfigSchema = z.strictObject({
  /** The provider's issuer URL; its discovery document is at `{issuer}/.well-known/openid-configuration`. */
  issuer: z.url({ protocol: /^https?$/ }).refine((u) => u.startsWith('https:') || /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(u), {
    error: 'must be https (plain http only for a provider on this machine: localhost, 127.0.0.1, [::1])',
  }),
  clientId: z.string().min(1).max(256),
  /** The client secret, or a file holding it (read bounded, at start). */
  clientSecret: z.string().min(1).max(1024).optional(),
  clientSecretFile: z.string().min(1).optional(),
  /** Central's public address as the provider redirects back to it: `https://central.example.org`. */
  publicUrl: z.url({ protocol: /^https?$/ }),
  /** What the sign-in button says. */
  label: z.string().min(1).max(64).default('Sign in with single sign-on'),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).max(20).default(['openid', 'profile', 'email']),
  /** The claim that names a person (the central username): `preferred_username`, `email`, `upn`... */
  usernameClaim: z.string().min(1).max(64).default('preferred_username'),
  /** The claim whose values (a string or a list) decide the role: `groups`, `roles`... */
  roleClaim: z.string().min(1).max(64).default('groups'),
  /** Claim values that give each role; the highest that matches wins. */
  roles: z.strictObject(Object.fromEntries(ROLES.map((r) => [r, claimValues])) as Record<(typeof ROLES)[number], typeof claimValues>).prefault({}),
}).refine((c) => c.clientSecret !== undefined || c.clientSecretFile !== undefined, {
  error: 'clientSecret or clientSecretFile is required',
  path: ['clientSecret'],
});

export type OidcConfig = z.output<typeof OidcConfigSchema>;
