// Members on this gateway: the list's size, version and age; and the question staff get asked most, "why won't my
// card open the door?". The typed number is normalised and hashed with the gateway's own hasher at once; only the
// hash is used and only its pseudonym is shown or logged.
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { decide, localDateOf, meetsMinimumAge } from '../../../policies/index.js';
import type { DecisionContext } from '../../../policies/index.js';
import type { ConsoleContext } from '../context.js';
import { reasonText } from '../reasons.js';
import { deskRoutes, typedCardHash } from './desk.js';
import { LookupBodySchema } from '../schemas.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';

export function memberRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  return async (app) => {
    // Changes to one member at the desk (link a card, set a PIN): sent to central, which owns the list.
    await app.register(deskRoutes(ctx));

    app.get('/members', { schema: docs({ summary: 'The member list on this gateway: count, version, when it was applied, where from; the desk readers' }) }, async () => {
      const stats = ctx.store.members.stats();
      return { count: stats.count, version: stats.version, updatedAt: stats.updatedAt, source: stats.source, deskReaders: ctx.gateway.access.desk.readers };
    });

    app.post(
      '/members/lookup',
      {
        schema: docs({
          summary: "One card's entitlement and what the door would say to it now",
          description: "The number is hashed with the deployment key and forgotten; the answer and the log carry only this branch's pseudonym for it.",
          body: LookupBodySchema,
        }),
        preValidation: zodValidate({ body: LookupBodySchema }),
      },
      async (request, reply) => {
        const typed = typedCardHash(ctx, (request.body as z.infer<typeof LookupBodySchema>).card, reply);
        if (!typed.ok) return typed.reply;
        return lookup(typed.cardHash, ctx.identity(request).actor);
      },
    );

    app.post(
      '/members/lookup/desk',
      {
        schema: docs({
          summary: 'The card last tapped at the desk reader (within 30 s, with no card link waiting): as POST /members/lookup answers',
          description: 'Taken once: a second call finds nothing until the next tap. 404 when no card was tapped there.',
          response: { 404: ErrorSchema },
        }),
      },
      async (request, reply) => {
        const tapped = ctx.gateway.access.desk.takeLastTap();
        if (tapped === undefined) return reply.code(404).send({ error: 'no card was tapped at the desk reader in the last 30 seconds: tap it, then look again' });
        return lookup(tapped.cardHash, ctx.identity(request).actor);
      },
    );
  };

  /** One card's entitlement and what the door would say to it now, by its hash; audited as a lookup by `actor`. */
  function lookup(cardHash: Buffer, actor: string): Record<string, unknown> {
    const person = ctx.gateway.pseudonym(cardHash);
    ctx.audit(`member-lookup:${person}`, actor);

    const gateway = ctx.gateway;
    const policy = gateway.policies.current;
    const at = ctx.clock.now();
    const member = ctx.store.members.find(cardHash);
    const mode = gateway.mode;
    const context: DecisionContext = {
      at,
      occupancy: gateway.occupancy.inside,
      lockdown: mode === 'lockdown',
      emergency: mode === 'emergency',
      clockTrusted: gateway.state.clock.trusted,
    };
    const failures = member === undefined ? undefined : ctx.store.pins.get(cardHash);
    if (failures !== undefined) {
      context.pinFailures = failures.count;
      context.lastPinFailureAt = failures.lastAt;
    }
    const decision = decide(policy, member, context);
    const now = { allow: decision.allow, reason: decision.reason, reasonText: reasonText(decision.reason), mode: decision.mode };
    if (member === undefined) return { person, found: false, now };
    const today = localDateOf(policy, at);
    return {
      person,
      found: true,
      entitlement: {
        staff: member.staff,
        openAccess: member.openAccess,
        expires: member.expires,
        expired: member.expires !== null && member.expires < today,
        blocked: member.blocked && (member.blockedUntil === null || member.blockedUntil >= today),
        blockedUntil: member.blockedUntil,
        minimumAge: policy.rules.minimumAge,
        meetsMinimumAge: meetsMinimumAge(member, policy.rules.minimumAge, today),
        groups: member.groups,
        pinSet: member.pinHash !== null,
      },
      now,
    };
  }
}
