// The messages of central's sign-in, accounts, API tokens and audit (HTTP bodies, queries and answers; the CLI
// checks what it is given with the same schemas).
import { z } from 'zod';
import { SiteIdSchema } from '../../policies/contract/index.js';
import { ROLES } from './identity.js';

/**
 * A central username: also what a single sign-on provider's claim becomes (an e-mail address fits). At most 58
 * characters, so that `user:{name}` fits the 64 the MQTT contract allows for an actor.
 */
export const UsernameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._@-]{1,57}$/, { error: 'must be 2 to 58 letters, digits, dots, dashes, underscores or @' });

export const RoleSchema = z.enum(ROLES);

export const NewPasswordSchema = z
  .string()
  .min(12, { error: 'must be at least 12 characters' })
  .max(200, { error: 'must be at most 200 characters' });

export const LoginBodySchema = z.strictObject({
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(200),
});

export const SessionSchema = z.object({
  username: z.string(),
  role: RoleSchema,
  via: z.enum(['password', 'oidc', 'token']),
  /** Absent for an API token, which needs none. */
  csrfToken: z.string().optional().describe('send back in the x-csrf-token header with every change'),
  expiresAt: z.string().optional(),
});

export const SignInOptionsSchema = z.object({
  /** The single sign-on button, when central has one. */
  oidc: z.object({ label: z.string(), url: z.string() }).nullable(),
});

export const UserSchema = z.object({
  username: z.string(),
  role: RoleSchema,
  source: z.enum(['local', 'oidc']),
  createdAt: z.string(),
  passwordChangedAt: z.string().nullable(),
  lastLoginAt: z.string().nullable(),
});

export const UsersSchema = z.object({ users: z.array(UserSchema) });

export const UserParamsSchema = z.strictObject({ username: UsernameSchema });

export const NewUserBodySchema = z.strictObject({
  username: UsernameSchema,
  role: RoleSchema,
  /** Left out: central makes one and answers it once. */
  password: NewPasswordSchema.optional(),
});

export const UserRoleBodySchema = z.strictObject({ role: RoleSchema });

export const PasswordResetBodySchema = z.strictObject({ password: NewPasswordSchema.optional() });

/** A password central made: shown in this answer and nowhere else. */
export const UserWithPasswordSchema = z.object({ user: UserSchema, password: z.string().optional() });

export const TokenNameSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/, { error: 'must be 1 to 48 letters, digits, dots, dashes or underscores' });

export const MAX_TOKEN_DAYS = 365;

export const NewTokenBodySchema = z.strictObject({
  name: TokenNameSchema,
  role: RoleSchema,
  /** Required: a token that never expires is forgotten on some server for ever. */
  expiresDays: z.int().min(1).max(MAX_TOKEN_DAYS, { error: `must be at most ${MAX_TOKEN_DAYS} (a year)` }),
});

export const TokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  status: z.enum(['active', 'expired', 'revoked']),
  createdAt: z.string(),
  createdBy: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});

export const TokensSchema = z.object({ tokens: z.array(TokenSchema) });

export const NewTokenSchema = z.object({
  token: z.string().describe('shown once: central keeps only its hash'),
  info: TokenSchema,
});

export const TokenParamsSchema = z.strictObject({ id: z.string().regex(/^[a-z0-9]{12}$/, { error: 'must be a token id (12 letters and digits)' }) });

const localDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date YYYY-MM-DD' });

export const AuditQuerySchema = z
  .strictObject({
    /** Local dates in central's reporting time zone, both included. */
    from: localDate.optional(),
    to: localDate.optional(),
    site: SiteIdSchema.optional(),
    /** As the rows show it: `user:alice`, `token:nightly-export`. */
    actor: z.string().min(1).max(80).optional(),
    /** The `next` of the page before. */
    before: z.coerce.number().int().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .check((ctx) => {
    const { from, to } = ctx.value;
    if (from !== undefined && to !== undefined && to < from) {
      ctx.issues.push({ code: 'custom', path: ['to'], message: 'must not be before from', input: to });
    }
  });

export const AuditSchema = z.object({
  rows: z.array(z.object({ id: z.int(), at: z.string(), actor: z.string(), action: z.string(), site: z.string().nullable(), detail: z.string() })),
  /** Pass as `before` for the next (older) page; null on the last one. */
  next: z.int().nullable(),
});
