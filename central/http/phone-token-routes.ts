// POST /api/phone-tokens: a library's app or website (an API token with the operator role) asks for a member's phone
// token, shows it as a QR code, and the member scans it at the door (docs/phone-credential.md). The card number goes
// in the body, never the URL, so no proxy or access log holds it; the audit names the member's pseudonym only.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { SiteIdSchema } from '../../policies/contract/index.js';
import { DEFAULT_PHONE_TOKEN_MINUTES, issuePhoneToken, MAX_PHONE_TOKEN_MINUTES } from '../../policies/phone-token.js';
import { identityOf } from '../auth/guard.js';
import { actorOf } from '../auth/identity.js';
import type { HttpDeps } from './server.js';
import { cardProblem, noMemberList } from './member-replies.js';
import { docs, ErrorSchema, zodValidate } from './zod-route.js';

export const PhoneTokenRequestSchema = z.strictObject({
  /** The card number as printed; hashed at once, never stored or logged. */
  cardNumber: z.string().min(1).max(64),
  /** The one branch the token opens; absent or null: any branch. */
  site: SiteIdSchema.nullable().optional(),
  minutes: z.int().min(1).max(MAX_PHONE_TOKEN_MINUTES).default(DEFAULT_PHONE_TOKEN_MINUTES),
});

export const PhoneTokenResponseSchema = z.object({
  /** The text to show as a QR code: `OAG1.` + payload + `.` + signature, at most 512 characters. */
  token: z.string(),
  expiresAt: z.string(),
  site: z.string().nullable(),
  /** Its id: each branch takes a token once. */
  jti: z.string(),
});

export function phoneTokenRoutes(deps: Pick<HttpDeps, 'members' | 'signingKey' | 'clock' | 'auth'>): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/phone-tokens',
      {
        schema: docs({
          summary: "A member's phone token (QR): signed by central, checked offline at the door, used once per branch, valid `minutes` (default 15, at most 1440)",
          tags: ['members'],
          body: PhoneTokenRequestSchema,
          response: { 200: PhoneTokenResponseSchema, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema },
        }),
        preValidation: zodValidate({ body: PhoneTokenRequestSchema }),
        config: { role: 'operator' },
      },
      async (request, reply) => {
        const { members, signingKey } = deps;
        if (!members || signingKey === undefined) return noMemberList(reply);
        const body = request.body as z.output<typeof PhoneTokenRequestSchema>;
        let card: Awaited<ReturnType<typeof members.phoneTokenCard>>;
        try {
          card = await members.phoneTokenCard(body.cardNumber);
        } catch (err) {
          const problem = cardProblem(reply, err);
          if (problem) return problem;
          throw err;
        }
        if (!card.listed) {
          return reply.code(409).send({ error: 'Conflict', message: "the member is not on the branches' list (registered for open access, or staff): a token would be refused at every door" });
        }
        const site = body.site ?? null;
        const { token, payload } = issuePhoneToken(signingKey.privateKey, { cardHash: card.cardHash, site, now: deps.clock.now(), minutes: body.minutes });
        const expiresAt = new Date(payload.exp * 1000).toISOString();
        await deps.auth.audit.record(actorOf(identityOf(request)), 'phone-token-issue', { site, detail: `member ${card.person}: token ${payload.jti}, ${body.minutes} min, until ${expiresAt}` });
        return { token, expiresAt, site, jti: payload.jti };
      },
    );
  };
}
