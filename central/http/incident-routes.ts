// Incidents and alert rules over the API (docs/alerts.md): the list and one incident for anyone signed in,
// acknowledging and resolving for operators (the actor is who signed in), the rules for operators to read and
// administrators to change. Every change is audited, and reaches open dashboards over /api/live.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { SiteIdSchema } from '../../policies/contract/index.js';
import type { CentralAlerts } from '../alerts/central-alerts.js';
import { CENTRAL_SITE } from '../alerts/incident-names.js';
import { IncidentNoteSchema, MAX_FIGURES_DAYS, type ChangeOutcome } from '../alerts/incidents.js';
import { MAX_RULES_BYTES } from '../alerts/rules.js';
import { identityOf } from '../auth/guard.js';
import { actorOf } from '../auth/identity.js';
import type { CentralAudit } from '../auth/audit.js';
import { dayRange, toCsv } from '../figures.js';
import { docs, ErrorSchema, invalidRequest, zodValidate } from './zod-route.js';

const PAGE = 50;
const localDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date YYYY-MM-DD' });
const siteOrCentral = z.union([z.literal(CENTRAL_SITE), SiteIdSchema], { error: `must be a site id or ${CENTRAL_SITE}` });

export const IncidentsQuerySchema = z.strictObject({
  state: z.enum(['open', 'all']).default('open'),
  site: siteOrCentral.optional(),
  alarm: z.string().min(1).max(64).optional(),
  /** The previous page's `next`. */
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(PAGE),
});
const IdParamsSchema = z.strictObject({ id: z.coerce.number().int().min(1, { error: 'must be an incident number' }) });
const VersionParamsSchema = z.strictObject({ version: z.coerce.number().int().min(1, { error: 'must be a version number' }) });

/** A rules save: the document as JSON (`doc`) or as the YAML/JSON text of the edit box (`text`). */
export const RulesSaveSchema = z
  .strictObject({
    text: z.string().max(MAX_RULES_BYTES, { error: `must be at most ${MAX_RULES_BYTES / 1024} KiB` }).optional(),
    doc: z.unknown().optional(),
    /** The version the editor started from: a save over someone else's newer one is refused (409). */
    basedOn: z.int().min(0).optional(),
  })
  .check((ctx) => {
    if ((ctx.value.text === undefined) === (ctx.value.doc === undefined)) {
      ctx.issues.push({ code: 'custom', path: ['text'], message: 'send either text (YAML or JSON) or doc (a JSON document)', input: ctx.value });
    }
  });

const IncidentFiguresQuerySchema = z
  .strictObject({ from: localDate.optional(), to: localDate.optional(), format: z.enum(['json', 'csv']).default('json') })
  .check((ctx) => {
    const { from, to } = ctx.value;
    if (from !== undefined && to !== undefined && to < from) ctx.issues.push({ code: 'custom', path: ['to'], message: 'must not be before from', input: to });
  });

const STATUS_OF: Record<string, number> = { invalid: 400, 'not-found': 404, unknown: 404, 'already-acknowledged': 409, cleared: 409, conflict: 409, expired: 410, used: 410 };
const ERROR_OF: Record<number, string> = { 400: 'invalid request', 404: 'Not Found', 409: 'Conflict', 410: 'Gone' };

function refused(reply: FastifyReply, outcome: Extract<ChangeOutcome, { ok: false }>): FastifyReply {
  const status = STATUS_OF[outcome.code] ?? 400;
  return reply.code(status).send({ error: ERROR_OF[status], message: outcome.error, code: outcome.code });
}

export function incidentRoutes(deps: { alerts: CentralAlerts; audit: CentralAudit; clock: { now(): Date }; timezone: string }): FastifyPluginAsync {
  const { alerts, audit, clock, timezone } = deps;
  const { incidents, rules } = alerts.alerts;
  const tags = ['incidents'];
  return async (app) => {
    app.get(
      '/incidents',
      {
        schema: docs({ summary: 'Incidents, newest first: open ones (acknowledged too) by default, state=all for every one; site, alarm; pages by before', tags, query: IncidentsQuerySchema, response: { 400: ErrorSchema } }),
        preValidation: zodValidate({ query: IncidentsQuerySchema }),
        config: { role: 'viewer' },
      },
      async (request) => {
        const q = request.query as z.output<typeof IncidentsQuerySchema>;
        const list = await incidents.list({ state: q.state, site: q.site, alarm: q.alarm, before: q.before, limit: q.limit + 1 });
        const page = list.slice(0, q.limit);
        return { incidents: page, next: list.length > q.limit ? page[page.length - 1]!.id : null };
      },
    );

    app.get(
      '/incidents/:id',
      {
        schema: docs({ summary: 'One incident: its history and every message about it (state, attempts, last error)', tags, params: IdParamsSchema, response: { 404: ErrorSchema } }),
        preValidation: zodValidate({ params: IdParamsSchema }),
        config: { role: 'viewer' },
      },
      async (request, reply) => {
        const { id } = request.params as z.output<typeof IdParamsSchema>;
        const incident = await incidents.get(id);
        if (incident === null) return reply.code(404).send({ error: 'Not Found', message: `no incident ${id}` });
        const messages = (await alerts.io.outbox.forIncident(String(id))).map((m) => ({
          id: m.id,
          step: m.step,
          repeat: m.repeat,
          recipient: m.recipientName,
          channel: m.channel,
          state: m.state,
          attempts: m.attempts,
          lastError: m.lastError,
          createdAt: m.createdAt,
          finishedAt: m.finishedAt,
        }));
        return { ...incident, messages };
      },
    );

    const change = (kind: 'acknowledge' | 'resolve') =>
      app.post(
        `/incidents/:id/${kind}`,
        {
          schema: docs({
            summary: kind === 'acknowledge' ? 'Acknowledge: you take it on, escalation stops (note optional, at most 500 characters)' : 'Resolve: close it by hand (the branch may not clear it; note optional)',
            tags,
            params: IdParamsSchema,
            body: IncidentNoteSchema,
            response: { 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
          }),
          preValidation: zodValidate({ params: IdParamsSchema, body: IncidentNoteSchema }),
          config: { role: 'operator' },
        },
        async (request, reply) => {
          const { id } = request.params as z.output<typeof IdParamsSchema>;
          const { note } = request.body as z.output<typeof IncidentNoteSchema>;
          const actor = actorOf(identityOf(request));
          const outcome = await incidents[kind](id, { actor, note }, clock.now());
          if (!outcome.ok) return refused(reply, outcome);
          const i = outcome.incident;
          await audit.record(actor, kind === 'acknowledge' ? 'incident-acknowledge' : 'incident-resolve', {
            site: i.site === CENTRAL_SITE ? null : i.site,
            detail: `incident ${i.id} (${i.alarm})${note === undefined || note === '' ? '' : `: ${note}`}`,
          });
          return i;
        },
      );
    change('acknowledge');
    change('resolve');

    app.get(
      '/alerts/status',
      { schema: docs({ summary: 'Is anybody being told: channels (failing or working, waiting messages), outbox counts, rules in force', tags }), config: { role: 'viewer' } },
      async () => alerts.status(),
    );

    app.get(
      '/alerts/rules',
      { schema: docs({ summary: 'The alert rules in force (contacts, rotas, rules) and the last versions', tags }), config: { role: 'operator' } },
      async () => {
        const current = await rules.refresh();
        const saved = current.version === 0 ? null : await rules.version(current.version);
        return { version: current.version, doc: saved?.doc ?? current.doc, versions: await rules.versions(50) };
      },
    );

    app.get(
      '/alerts/rules/versions/:version',
      {
        schema: docs({ summary: 'One saved version of the rules, as it was saved', tags, params: VersionParamsSchema, response: { 404: ErrorSchema } }),
        preValidation: zodValidate({ params: VersionParamsSchema }),
        config: { role: 'operator' },
      },
      async (request, reply) => {
        const { version } = request.params as z.output<typeof VersionParamsSchema>;
        return (await rules.version(version)) ?? reply.code(404).send({ error: 'Not Found', message: `no rules version ${version}` });
      },
    );

    app.put(
      '/alerts/rules',
      {
        schema: docs({
          summary: 'Save the alert rules: a new version when the whole document is valid; otherwise 400 naming every field, and nothing changes',
          tags,
          body: RulesSaveSchema,
          response: { 400: ErrorSchema, 409: ErrorSchema },
        }),
        preValidation: zodValidate({ body: RulesSaveSchema }),
        config: { role: 'administrator' },
      },
      async (request, reply) => {
        const body = request.body as z.output<typeof RulesSaveSchema>;
        const actor = actorOf(identityOf(request));
        const options = { actor, at: clock.now(), basedOn: body.basedOn };
        const outcome = body.text !== undefined ? await rules.saveText(body.text, options) : await rules.save(body.doc, options);
        if (!outcome.ok) {
          if (outcome.code === 'conflict') return reply.code(409).send({ error: 'Conflict', message: outcome.errors.join('; '), errors: outcome.errors, code: 'conflict' });
          return reply.code(400).send(invalidRequest(outcome.errors));
        }
        await audit.record(actor, 'alert-rules-save', { detail: `version ${outcome.version}` });
        return { version: outcome.version };
      },
    );

    app.get(
      '/figures/incidents',
      {
        schema: docs({
          summary: 'Incidents opened per day range: by alarm and branch, time to acknowledge (median, p95); format=csv for a download',
          tags: ['figures'],
          query: IncidentFiguresQuerySchema,
          response: { 400: ErrorSchema },
        }),
        preValidation: zodValidate({ query: IncidentFiguresQuerySchema }),
        config: { role: 'viewer' },
      },
      async (request, reply) => {
        const q = request.query as z.output<typeof IncidentFiguresQuerySchema>;
        const today = DateTime.fromJSDate(clock.now(), { zone: timezone });
        const to = q.to ?? today.toISODate()!;
        const from = q.from ?? DateTime.fromISO(to, { zone: timezone }).minus({ days: 29 }).toISODate()!;
        const range = dayRange(from, to, timezone);
        if (range.to.getTime() - range.from.getTime() > MAX_FIGURES_DAYS * 86_400_000 + 3_600_000) {
          return reply.code(400).send(invalidRequest([`query.from: the range must be at most ${MAX_FIGURES_DAYS} days`]));
        }
        const figures = await incidents.figures(range.from, range.to);
        if (q.format === 'csv') {
          const ack = figures.timeToAcknowledge;
          const rows = figures.bySiteAndAlarm.map((r) => ({ ...r, acknowledgedCount: '', medianAckSeconds: '', p95AckSeconds: '', unacknowledged: '' }));
          rows.push({ site: '(all)', alarm: '(all)', count: figures.total, acknowledgedCount: String(ack.count), medianAckSeconds: String(ack.medianSeconds ?? ''), p95AckSeconds: String(ack.p95Seconds ?? ''), unacknowledged: String(figures.unacknowledged) });
          return reply
            .header('content-type', 'text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="incidents-${from}-${to}.csv"`)
            .send(toCsv(rows, ['site', 'alarm', 'count', 'acknowledgedCount', 'medianAckSeconds', 'p95AckSeconds', 'unacknowledged']));
        }
        return { ...figures, from, to, timezone };
      },
    );
  };
}
