// The schedule: read the policy in force and where it came from, preview a draft as a two-week timetable, save a
// draft as a branch override. An override takes no version number of its own: it is recorded over the version in
// force (central's, or the policy file's) and central's next version supersedes it (gateway/core/policy-holder.ts).
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { MAX_POLICY_BYTES, parsePolicy, strictJsonBody } from '../../../policies/index.js';
import type { Policy } from '../../../policies/index.js';
import type { PolicyBase, PolicyStatus } from '../../core/policy-holder.js';
import type { ConsoleContext } from '../context.js';
import { MANAGER_ONLY } from '../context.js';
import { PolicyPreviewBodySchema, PolicySaveBodySchema } from '../schemas.js';
import { outputLabels } from '../output-labels.js';
import { compareTimetables, timetable } from '../timetable.js';
import { docs, ErrorSchema, zodValidate } from '../zod-route.js';

const PREVIEW_DAYS = 14;
/** A draft is a policy (at most MAX_POLICY_BYTES, as a file or from central) in a small envelope. */
const DRAFT_BODY_LIMIT = MAX_POLICY_BYTES + 1024;

type Draft = z.infer<typeof PolicySaveBodySchema>['policy'];

export function scheduleRoutes(ctx: ConsoleContext): FastifyPluginAsync {
  const inForce = (): { policy: Policy; source: string } => ({ policy: ctx.gateway.policies.current, source: ctx.gateway.policies.source });

  /** The draft as the policy it would be, or its problems with paths from the request body (`policy.schedule…`). */
  const candidate = (draft: Draft): { ok: true; policy: Policy } | { ok: false; errors: string[] } => {
    // Checked with the label it would carry (the version in force); the closed fallback's 0 is not a valid one.
    const parsed = parsePolicy({ ...draft, version: Math.max(1, inForce().policy.version) });
    if (!parsed.ok) return { ok: false, errors: parsed.errors.map((e) => `policy.${e}`) };
    if (parsed.policy.site !== ctx.gateway.state.site) {
      return { ok: false, errors: [`policy.site: must be this gateway's site "${ctx.gateway.state.site}"`] };
    }
    // The preview says so too, not only the save (the policy holder's own check).
    const unknown = ctx.gateway.policies.unknownNames(parsed.policy);
    if (unknown.length > 0) return { ok: false, errors: unknown.map((e) => `policy.${e}`) };
    return parsed;
  };

  /** What an override saved now would be made over: the base in force, never a number of the console's own. */
  const overBase = (): { over: PolicyBase } => {
    const { override, source, version } = ctx.gateway.policies.status;
    return { over: override?.over ?? { source: source === 'central' ? 'central' : 'file', version } };
  };

  return async (app) => {
    // fastify decodes a body leniently: a byte that is not UTF-8 would reach the policy's name or a label as U+FFFD.
    // These routes (a plugin of their own) decode strictly, then parse as fastify would.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: DRAFT_BODY_LIMIT }, strictJsonBody(DRAFT_BODY_LIMIT, parseJson));

    app.get(
      '/policy',
      {
        schema: docs({
          summary: 'The policy in force and where it came from: central (its version), the policy file, or a branch override (by whom, when, over which version)',
        }),
      },
      async () => {
        const { source, version, central, override, revision } = ctx.gateway.policies.status;
        return { version, source, central, override, revision, policy: ctx.gateway.policies.current };
      },
    );

    app.get('/policy/timetable', { schema: docs({ summary: 'The coming two weeks of the policy in force, day by day, with when each switched output is on' }) }, async () => {
      const { policy } = inForce();
      return { version: policy.version, days: timetable(policy, ctx.clock.now(), PREVIEW_DAYS, outputLabels(ctx.gateway.state)) };
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
        // The outputs by the names the branch's config gives them ("Public PCs"), as the state reports them.
        const labels = outputLabels(ctx.gateway.state);
        const days = compareTimetables(timetable(result.policy, now, PREVIEW_DAYS, labels), timetable(inForce().policy, now, PREVIEW_DAYS, labels));
        const { over } = overBase();
        return { over, days };
      },
    );

    app.put(
      '/policy',
      {
        schema: docs({
          summary: "Save a draft as a branch override (in force at once, reported to central, superseded by central's next version)",
          description: 'baseRevision is the revision the draft was made from (GET /policy); if the policy in force changed since (central sent a version, another override was saved), the answer is 409 and nothing changes.',
          body: PolicySaveBodySchema,
          response: { 400: ErrorSchema, 409: ErrorSchema },
        }),
        config: MANAGER_ONLY,
        bodyLimit: DRAFT_BODY_LIMIT,
        preValidation: zodValidate({ body: PolicySaveBodySchema }),
      },
      async (request, reply) => {
        const { baseRevision, policy: draft } = request.body as z.infer<typeof PolicySaveBodySchema>;
        const current = ctx.gateway.policies.status;
        if (baseRevision !== current.revision) {
          return reply.code(409).send({
            error: `the schedule changed while you edited it: ${describeInForce(current)} is now in force; reload it and make your change again`,
            version: current.version,
            source: current.source,
          });
        }
        const result = candidate(draft);
        if (!result.ok) return reply.code(400).send({ error: 'invalid request', errors: result.errors });
        const actor = ctx.identity(request).actor;
        const offered = ctx.gateway.overridePolicy(draft, actor);
        if (!offered.ok) return reply.code(400).send({ error: 'invalid request', errors: offered.errors.map((e) => `policy.${e}`) });
        ctx.audit('schedule-edit', actor);
        const { source, override } = ctx.gateway.policies.status;
        return { ok: true, version: offered.version, source, override };
      },
    );
  };
}

/** The policy in force in words, as the console's page says it. */
function describeInForce(status: Pick<PolicyStatus, 'source' | 'version' | 'override'>): string {
  const base = (over: PolicyBase): string => (over.source === 'central' ? `central version ${over.version}` : `the policy file (version ${over.version})`);
  if (status.override !== null) return `the branch override by ${status.override.by} at ${status.override.at}, over ${base(status.override.over)}`;
  return base({ source: status.source === 'central' ? 'central' : 'file', version: status.version });
}
