// The schedule: read the policy in force and where it came from, preview a draft as a two-week timetable, save a
// draft as the next version. Saving goes through gateway.offerPolicy like a policy from central, so the same rule
// decides (valid, this site, newer) and the uplink reports it.
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { MAX_POLICY_BYTES, parsePolicy, strictJsonBody } from '../../../policies/index.js';
import type { Policy } from '../../../policies/index.js';
import type { ConsoleContext } from '../context.js';
import { MANAGER_ONLY } from '../context.js';
import { PolicyPreviewBodySchema, PolicySaveBodySchema } from '../schemas.js';
import { compareTimetables, timetable } from '../timetable.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';

const PREVIEW_DAYS = 14;
/** A draft is a policy (at most MAX_POLICY_BYTES, as a file or from central) in a small envelope. */
const DRAFT_BODY_LIMIT = MAX_POLICY_BYTES + 1024;

type Draft = z.infer<typeof PolicySaveBodySchema>['policy'];

export function scheduleRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  const inForce = (): { policy: Policy; source: string } => ({ policy: ctx.gateway.policies.current, source: ctx.gateway.policies.source });

  /** The draft as the next version, or its problems with paths from the request body (`policy.schedule…`). */
  const candidate = (draft: Draft): { ok: true; policy: Policy } | { ok: false; errors: string[] } => {
    const version = inForce().policy.version + 1;
    const parsed = parsePolicy({ ...draft, version });
    if (!parsed.ok) return { ok: false, errors: parsed.errors.map((e) => `policy.${e}`) };
    if (parsed.policy.site !== ctx.gateway.state.site) {
      return { ok: false, errors: [`policy.site: must be this gateway's site "${ctx.gateway.state.site}"`] };
    }
    return parsed;
  };

  return async (app) => {
    // fastify decodes a body leniently: a byte that is not UTF-8 would reach the policy's name or a label as U+FFFD.
    // These routes (a plugin of their own) decode strictly, then parse as fastify would.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: DRAFT_BODY_LIMIT }, strictJsonBody(DRAFT_BODY_LIMIT, parseJson));

    app.get('/policy', { schema: docs({ summary: 'The policy in force, its version and where it came from (file, console or central)' }) }, async () => {
      const { policy, source } = inForce();
      return { version: policy.version, source, nextVersion: policy.version + 1, policy };
    });

    app.get('/policy/timetable', { schema: docs({ summary: 'The coming two weeks of the policy in force, day by day' }) }, async () => {
      const { policy } = inForce();
      return { version: policy.version, days: timetable(policy, ctx.clock.now(), PREVIEW_DAYS) };
    });

    app.post(
      '/policy/preview',
      {
        schema: docs({ summary: 'Check a draft and show its coming two weeks (changes nothing)', body: PolicyPreviewBodySchema, response: { 400: ErrorSchema } }),
        config: MANAGER_ONLY,
        bodyLimit: DRAFT_BODY_LIMIT,
        preValidation: zodValidate({ body: PolicyPreviewBodySchema }),
      },
      async (request, reply) => {
        const { policy: draft } = request.body as z.infer<typeof PolicyPreviewBodySchema>;
        const result = candidate(draft);
        if (!result.ok) return reply.code(400).send({ error: 'invalid request', errors: result.errors });
        const now = ctx.clock.now();
        const days = compareTimetables(timetable(result.policy, now, PREVIEW_DAYS), timetable(inForce().policy, now, PREVIEW_DAYS));
        return { version: result.policy.version, baseVersion: inForce().policy.version, days };
      },
    );

    app.put(
      '/policy',
      {
        schema: docs({
          summary: 'Save a draft as the next policy version (in force at once; reported to central)',
          description: 'baseVersion is the version the draft was made from; if another version came in since (from central, say), the answer is 409 and nothing changes.',
          body: PolicySaveBodySchema,
          response: { 400: ErrorSchema, 409: ErrorSchema },
        }),
        config: MANAGER_ONLY,
        bodyLimit: DRAFT_BODY_LIMIT,
        preValidation: zodValidate({ body: PolicySaveBodySchema }),
      },
      async (request, reply) => {
        const { baseVersion, policy: draft } = request.body as z.infer<typeof PolicySaveBodySchema>;
        const current = inForce();
        if (baseVersion !== current.policy.version) {
          return reply.code(409).send({
            error: `the schedule changed while you edited it: version ${current.policy.version} from ${current.source} is now in force; reload it and make your change again`,
            version: current.policy.version,
            source: current.source,
          });
        }
        const result = candidate(draft);
        if (!result.ok) return reply.code(400).send({ error: 'invalid request', errors: result.errors });
        const actor = ctx.identity(request).actor;
        const offered = ctx.gateway.offerPolicy(result.policy, 'console');
        if (!offered.ok) return reply.code(400).send({ error: 'invalid request', errors: offered.errors.map((e) => `policy.${e}`) });
        ctx.audit('schedule-edit', actor);
        return { ok: true, version: offered.version, source: ctx.gateway.policies.source };
      },
    );
  };
}
