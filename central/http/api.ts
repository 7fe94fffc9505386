// The JSON API. Every route has a zod schema for what it takes; bad input is a 400 naming the field.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { DateTime } from 'luxon';
import type { z } from 'zod';
import { PolicyMessageSchema } from '../../policies/contract/index.js';
import type { ReceivedState } from '../../policies/contract/index.js';
import { MAX_POLICY_VERSION, unknownBookingDoors, unknownPolicyOutputs } from '../../policies/index.js';
import type { unknownPolicyNames } from '../../policies/index.js';
import { countFigures, dayRange, toCsv } from '../figures.js';
import type { Figures } from '../figures.js';
import { monthlyReport } from '../monthly-report.js';
import { NotConnectedError } from '../link.js';
import { MemberPatchResponseSchema, MemberPatchSchema, MemberPinSchema, MembersStatusSchema } from '../members/api-schemas.js';
import { HashingBusyError } from '../../kit/auth/hash-slots.js';
import type { CentralMembers } from '../members/service.js';
import {
  CommandRequestSchema,
  CommandResponseSchema,
  EventsQuerySchema,
  EventsSchema,
  FiguresQuerySchema,
  GrantsSchema,
  MonthlyReportSchema,
  OccupancyQuerySchema,
  OccupancySchema,
  PolicyResponseSchema,
  PublishedSchema,
  RefusalsSchema,
  ReportQuerySchema,
  SiteParamsSchema,
  SitesSchema,
  SiteSummarySchema,
  StatsSchema,
  TailgatesSchema,
  VisitsSchema,
} from './api-schemas.js';
import { identityOf } from '../auth/guard.js';
import { actorOf } from '../auth/identity.js';
import type { HttpDeps } from './server.js';
import { cardProblem, noMemberList } from './member-replies.js';
import { siteDirectory, siteSummary } from './summary.js';
import { docs, ErrorSchema, invalidRequest, zodValidate } from './zod-route.js';

type Params = z.infer<typeof SiteParamsSchema>;

export function apiRoutes(deps: HttpDeps): FastifyPluginAsync {
  const { store, link, ingest, clock, timezone, members, auth } = deps;
  /** Sites whose policy is being published now: central's next number is taken by one publish at a time. */
  const publishing = new Set<string>();
  const viewer = { role: 'viewer' } as const;
  const notFound = (reply: FastifyReply, site: string) =>
    reply.code(404).send({ error: 'Not Found', message: `no site "${site}" has reported to central` });
  /** A member changed through the API (PATCH /members, PUT /members/pin): audited as `what`, answered with the list's state. */
  const memberChange = async (reply: FastifyReply, actor: string, what: string, run: () => ReturnType<CentralMembers['change']>) => {
    try {
      const { version, current, person, listed } = await run();
      const outcome = version !== null ? `version ${version.version}` : listed ? 'no change' : "not on the branches' list";
      await auth.audit.record(actor, 'member-change', { detail: `member ${person}: ${what}; ${outcome}` });
      return { changed: version !== null, version: current.version, count: current.count, listed };
    } catch (err) {
      const problem = cardProblem(reply, err);
      if (problem) return problem;
      if (err instanceof HashingBusyError) return reply.code(503).header('retry-after', '1').send({ error: 'Service Unavailable', message: 'too many PINs being set at once; try again in a moment' });
      throw err;
    }
  };
  const brokerDown = (reply: FastifyReply) =>
    reply.code(503).send({ error: 'Service Unavailable', message: 'central is not connected to the MQTT broker' });

  return async (app) => {
    app.get('/stats', { schema: docs({ summary: 'Ingest counters, the MQTT link and the last refused messages', tags: ['service'], response: { 200: StatsSchema } }), config: viewer }, async () => ({
      mqttConnected: link.connected,
      events: await store.eventCount(),
      ingest: ingest.stats,
    }));

    app.get('/sites', { schema: docs({ summary: 'Every branch as its tile shows it', response: { 200: SitesSchema } }), config: viewer }, async () => ({
      sites: (await store.sites()).map((row) => siteSummary(row, deps.sites)),
    }));

    app.get(
      '/sites/:site',
      {
        schema: docs({ summary: 'One branch', params: SiteParamsSchema, response: { 200: SiteSummarySchema, 404: ErrorSchema } }),
        preValidation: zodValidate({ params: SiteParamsSchema }),
        config: viewer,
      },
      async (request, reply) => {
        const { site } = request.params as Params;
        const row = await store.site(site);
        return row ? siteSummary(row, deps.sites) : notFound(reply, site);
      },
    );

    app.get(
      '/sites/:site/events',
      {
        schema: docs({ summary: 'Recent events, newest first', params: SiteParamsSchema, query: EventsQuerySchema, response: { 200: EventsSchema, 400: ErrorSchema } }),
        preValidation: zodValidate({ params: SiteParamsSchema, query: EventsQuerySchema }),
        config: viewer,
      },
      async (request) => {
        const { site } = request.params as Params;
        const q = request.query as z.output<typeof EventsQuerySchema>;
        return { events: await store.recentEvents(site, { limit: q.limit, before: q.before ? new Date(q.before) : undefined, type: q.type }) };
      },
    );

    app.get(
      '/sites/:site/occupancy',
      {
        schema: docs({
          summary: 'Occupancy samples (a step series); default: today so far in the reporting time zone',
          params: SiteParamsSchema,
          query: OccupancyQuerySchema,
          response: { 200: OccupancySchema, 400: ErrorSchema },
        }),
        preValidation: zodValidate({ params: SiteParamsSchema, query: OccupancyQuerySchema }),
        config: viewer,
      },
      async (request, reply) => {
        const { site } = request.params as Params;
        const q = request.query as z.output<typeof OccupancyQuerySchema>;
        const now = clock.now();
        const from = q.from ? new Date(q.from) : DateTime.fromJSDate(now, { zone: timezone }).startOf('day').toJSDate();
        const to = q.to ? new Date(q.to) : now;
        if (to < from) return reply.code(400).send(invalidRequest(['query.to: must not be before from']));
        return { from: from.toISOString(), to: to.toISOString(), samples: await store.occupancy(site, from, to) };
      },
    );

    app.get(
      '/sites/:site/policy',
      {
        schema: docs({ summary: 'The policy central last published for this branch (its version in central’s sequence)', params: SiteParamsSchema, response: { 200: PolicyResponseSchema, 404: ErrorSchema } }),
        preValidation: zodValidate({ params: SiteParamsSchema }),
        config: viewer,
      },
      async (request, reply) => {
        const { site } = request.params as Params;
        return (await store.policy(site)) ?? reply.code(404).send({ error: 'Not Found', message: `no policy published for "${site}"` });
      },
    );

    app.put(
      '/sites/:site/policy',
      {
        schema: docs({
          summary: 'Publish a policy to a branch (validated, numbered by central, signed, retained). The branch applies it atomically or refuses it.',
          description:
            'Central numbers the version: leave `version` out and the next one in central’s sequence for the site is used; give it and it must be that next one (400 names it), so an edit made from an older version is refused rather than published over a newer one.',
          params: SiteParamsSchema,
          body: PolicyPublishBodySchema,
          response: { 202: PublishedSchema, 400: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema },
        }),
        preValidation: zodValidate({ params: SiteParamsSchema, body: PolicyPublishBodySchema }),
        config: { role: 'administrator' },
      },
      async (request, reply) => {
        const { site } = request.params as Params;
        // Published as sent (defaults are the branch's to fill): validated here so a typo never reaches a door.
        const body = request.body as z.output<typeof PolicyPublishBodySchema>;
        if (body.site !== site) {
          return reply.code(400).send(invalidRequest([`site: must be "${site}"`]));
        }
        const lacking = namesTheBranchLacks((await store.site(site))?.state ?? null, body);
        if (lacking.length > 0) return reply.code(400).send(invalidRequest(lacking));
        const next = await nextPolicyVersion(store, site);
        if (next > MAX_POLICY_VERSION) {
          return reply.code(400).send(invalidRequest([`version: central's sequence for "${site}" has reached ${MAX_POLICY_VERSION}, the highest a policy may have`]));
        }
        if (body.version !== undefined && body.version !== next) {
          const msg = `version: must be ${next}, the next in central's sequence for "${site}" (or leave it out and central numbers it)`;
          return reply.code(400).send(invalidRequest([msg]));
        }
        // Two publishes for one site at once would both take the same number.
        if (publishing.has(site)) {
          return reply.code(409).send({ error: 'Conflict', message: `a policy for "${site}" is being published; try again when it is done` });
        }
        const doc = { ...body, version: next };
        publishing.add(site);
        try {
          await link.publishPolicy(site, doc);
        } catch (err) {
          if (err instanceof NotConnectedError) return brokerDown(reply);
          throw err;
        } finally {
          publishing.delete(site);
        }
        await store.setPolicy(site, doc.version, doc, clock.now());
        const actor = actorOf(identityOf(request));
        await auth.audit.record(actor, 'policy-publish', { site, detail: `version ${doc.version}` });
        request.log.info({ site, version: doc.version, actor }, 'policy published');
        return reply.code(202).send({ published: true, site, version: doc.version });
      },
    );

    app.post(
      '/sites/:site/commands',
      {
        schema: docs({
          summary: 'Send a command and wait for the branch to answer (504 when it does not in time)',
          params: SiteParamsSchema,
          body: CommandRequestSchema,
          response: { 200: CommandResponseSchema, 400: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema, 504: ErrorSchema },
        }),
        preValidation: zodValidate({ params: SiteParamsSchema, body: CommandRequestSchema }),
        config: { role: 'operator' },
      },
      async (request, reply) => {
        const { site } = request.params as Params;
        const body = request.body as z.output<typeof CommandRequestSchema>;
        const row = await store.site(site);
        if (!row) return notFound(reply, site);
        // A branch before contract 1.8 takes no door and would unlock its main door: only a door it says it has goes.
        const doors = row.state?.doors?.map((d) => d.id) ?? ['main'];
        if (body.door !== undefined && !doors.includes(body.door)) {
          return reply.code(400).send(invalidRequest([`door: no door "${body.door}" at ${site} (doors: ${doors.join(', ')})`]));
        }
        // Who asks is who signed in (or the token), never a field of the body: the branch logs it as such.
        const actor = actorOf(identityOf(request));
        let outcome;
        try {
          outcome = await link.sendCommand(site, { ...body, actor });
        } catch (err) {
          if (err instanceof NotConnectedError) return brokerDown(reply);
          throw err;
        }
        const result = outcome.status === 'timeout' ? 'timeout' : outcome.reply.ok ? 'ok' : `refused: ${outcome.reply.error}`;
        await store.recordCommand({ id: outcome.id, site, command: body.command, actor, at: clock.now().toISOString(), result });
        const what = `${body.command}${body.door === undefined ? '' : ` ${body.door}`}${body.text === undefined ? '' : ` "${body.text}"`}`;
        await auth.audit.record(actor, 'command', { site, detail: `${what}: ${result}` });
        request.log.info({ site, command: body.command, actor, result }, 'command');
        if (outcome.status === 'timeout') {
          return reply.code(504).send({ error: 'Gateway Timeout', message: `${site} did not answer within the timeout` });
        }
        return outcome.reply.ok ? { id: outcome.id, ok: true } : { id: outcome.id, ok: false, error: outcome.reply.error };
      },
    );

    app.get(
      '/members',
      { schema: docs({ summary: 'The member list: current version, the last versions, and which branches are behind', tags: ['members'], response: { 200: MembersStatusSchema } }), config: viewer },
      async () => {
        if (!members) {
          return { enabled: false, keyId: null, current: null, deltasFrom: null, versions: [], behind: 0, sites: [], publisher: { requests: 0, chunksSent: 0, bytesSent: 0, refusals: 0, ignored: 0 } };
        }
        const sites = await members.sites(await store.sites());
        return {
          enabled: true,
          keyId: members.keyId,
          current: await members.store.current(),
          deltasFrom: await members.store.deltasFrom(),
          versions: await members.store.versions(20),
          behind: sites.filter((s) => s.status !== 'current').length,
          sites,
          publisher: members.publisher.stats,
        };
      },
    );

    app.patch(
      '/members',
      {
        schema: docs({
          summary: 'Change one member (block, unblock, expiry, open access, staff): a new version, announced at once; online branches apply it within seconds',
          tags: ['members'],
          body: MemberPatchSchema,
          response: { 200: MemberPatchResponseSchema, 400: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema },
        }),
        preValidation: zodValidate({ body: MemberPatchSchema }),
        config: { role: 'administrator' },
      },
      async (request, reply) => {
        if (!members) return noMemberList(reply);
        const { cardNumber, ...patch } = request.body as z.output<typeof MemberPatchSchema>;
        const actor = actorOf(identityOf(request));
        const changes = Object.entries(patch).map(([k, v]) => `${k}=${v === null ? 'none' : String(v)}`).join(', ');
        return memberChange(reply, actor, changes, () => members.change(cardNumber, patch, actor));
      },
    );

    app.put(
      '/members/pin',
      {
        schema: docs({
          summary:
            "Set (or with null remove) a member's open-access PIN, as the member typed it on the library's website or at a desk: hashed at once, distributed with the member's row; the card number stays in the body, out of URLs and logs",
          tags: ['members'],
          body: MemberPinSchema,
          response: { 200: MemberPatchResponseSchema, 400: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema },
        }),
        preValidation: zodValidate({ body: MemberPinSchema }),
        // A library's website calls it with an operator's API token: it sets a PIN, and changes nothing else.
        config: { role: 'operator' },
      },
      async (request, reply) => {
        if (!members) return noMemberList(reply);
        const { cardNumber, pin } = request.body as z.output<typeof MemberPinSchema>;
        const actor = actorOf(identityOf(request));
        return memberChange(reply, actor, `PIN ${pin === null ? 'removed' : 'set'}`, () => members.setPin(cardNumber, pin, actor));
      },
    );

    const figureRange = (q: z.output<typeof FiguresQuerySchema>) => {
      const today = DateTime.fromJSDate(clock.now(), { zone: timezone });
      const to = q.to ?? today.toISODate()!;
      const from = q.from ?? DateTime.fromISO(to, { zone: timezone }).minus({ days: 6 }).toISODate()!;
      return { from, to, range: dayRange(from, to, timezone) };
    };
    // A region's figures: the branches central's config places in it (`Other`: those it places nowhere).
    const { regionOf } = deps.sites ?? siteDirectory({ sites: {}, regions: {} });
    const figuresFor = async (q: z.output<typeof FiguresQuerySchema>) => {
      const { from, to, range } = figureRange(q);
      return { from, to, figures: await countFigures(store, range, { by: q.by, timezone, site: q.site, region: q.region === undefined ? undefined : { name: q.region, of: regionOf } }) };
    };
    const csv = <T extends object>(reply: FastifyReply, file: string, rows: readonly T[], columns: ReadonlyArray<keyof T & string>) =>
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${file}.csv"`)
        .send(toCsv(rows, columns));

    /** One route per figure: JSON, or `format=csv` for a download; by period (day or hour) where the figure has one. */
    const figureRoute = <R extends object>(
      name: string,
      route: { summary: string; response: z.ZodType; rows: (figures: Figures) => readonly R[]; columns: ReadonlyArray<keyof R & string>; byPeriod: boolean },
    ) =>
      app.get(
        `/figures/${name}`,
        {
          schema: docs({ summary: route.summary, tags: ['figures'], query: FiguresQuerySchema, response: { 200: route.response, 400: ErrorSchema } }),
          preValidation: zodValidate({ query: FiguresQuerySchema }),
          config: viewer,
        },
        async (request, reply) => {
          const q = request.query as z.output<typeof FiguresQuerySchema>;
          const { from, to, figures } = await figuresFor(q);
          const rows = route.rows(figures);
          if (q.format === 'csv') return csv(reply, `${name}-${route.byPeriod ? `${q.by}-` : ''}${from}-${to}`, rows, route.columns);
          return route.byPeriod ? { from, to, timezone, rows } : { from, to, rows };
        },
      );

    figureRoute('visits', {
      summary: 'Visits (entries) per branch per day or hour, split by staffed, open-access and group-booking time, beside the door openings nobody could count; format=csv for a download',
      response: VisitsSchema,
      rows: (figures) => figures.visits,
      columns: ['site', 'period', 'staffed', 'openAccess', 'booking', 'other', 'total', 'uncountedOpenings'],
      byPeriod: true,
    });
    figureRoute('refusals', {
      summary: 'Refused taps per branch by reason, the PIN prompt not counted; format=csv for a download',
      response: RefusalsSchema,
      rows: (figures) => figures.refusals,
      columns: ['site', 'reason', 'count'],
      byPeriod: false,
    });
    figureRoute('tailgates', {
      summary: 'Tailgates per branch per day or hour: door cycles with more people in than let in, and those extra people (already in the visits); format=csv',
      response: TailgatesSchema,
      rows: (figures) => figures.tailgates,
      columns: ['site', 'period', 'tailgates', 'extraPeople'],
      byPeriod: true,
    });
    figureRoute('grants', {
      summary: 'Granted taps at entry readers per branch by kind (grant reason) and age band, from the access events alone; format=csv',
      response: GrantsSchema,
      rows: (figures) => figures.grants,
      columns: ['site', 'kind', 'ageBand', 'count'],
      byPeriod: false,
    });

    app.get(
      '/figures/report',
      {
        schema: docs({
          summary: 'The monthly report of one branch or (no site) the estate: visits per day and mode, tailgates, refusals, grants by kind and age band; format=csv for the days',
          tags: ['figures'],
          query: ReportQuerySchema,
          response: { 200: MonthlyReportSchema, 400: ErrorSchema },
        }),
        preValidation: zodValidate({ query: ReportQuerySchema }),
        config: viewer,
      },
      async (request, reply) => {
        const q = request.query as z.output<typeof ReportQuerySchema>;
        const now = clock.now();
        const month = q.month ?? DateTime.fromJSDate(now, { zone: timezone }).toFormat('yyyy-MM');
        const report = await monthlyReport(store, { month, site: q.site, timezone, now });
        if (q.format === 'csv') {
          const columns = ['date', 'staffed', 'openAccess', 'booking', 'other', 'total', 'tailgates', 'extraPeople', 'uncountedOpenings'] as const;
          return csv(reply, `report-${q.site ?? 'estate'}-${month}`, report.days, columns);
        }
        return report;
      },
    );
  };
}

/** A policy as an administrator sends it: central gives the version when it is left out. */
const PolicyPublishBodySchema = PolicyMessageSchema.partial({ version: true });

/**
 * The next number in central's sequence for a site: one more than central's last published version, or than the
 * central version the branch reports in force if that is higher (a central restored from an older backup must not
 * number below what the branch holds, or the branch would refuse every version as older). The broker's retained
 * copy plays no part: whoever can publish there could otherwise push the sequence to its end.
 */
async function nextPolicyVersion(store: HttpDeps['store'], site: string): Promise<number> {
  const published = (await store.policy(site))?.version ?? 0;
  const reported = (await store.site(site))?.state?.policy;
  // An override reports the version it was made over, which is central's (or the file's: a harmless skip).
  const held = reported !== undefined && (reported.source === 'central' || reported.source === 'console') ? reported.version : 0;
  return Math.max(published, held) + 1;
}

/**
 * What the policy names that the branch's last state says it lacks: a booking's door (a branch of 1.8 or later lists
 * its doors, or has only `main`) or a switched output (1.9 lists them, or has none). The branch would refuse such a
 * policy (`policy-refused`); said here, the one publishing learns it at once. A branch not heard from yet, or too old
 * to say, decides for itself.
 */
function namesTheBranchLacks(state: ReceivedState | null, policy: Parameters<typeof unknownPolicyNames>[0]): string[] {
  if (state === null) return [];
  const doors = state.v >= 8 ? (state.doors?.map((d) => d.id) ?? ['main']) : undefined;
  const outputs = state.v >= 9 ? (state.outputs?.map((o) => o.id) ?? []) : undefined;
  return [...(doors === undefined ? [] : unknownBookingDoors(policy, doors)), ...(outputs === undefined ? [] : unknownPolicyOutputs(policy, outputs))];
}

