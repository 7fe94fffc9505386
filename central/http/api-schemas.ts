// The HTTP API's own messages (the MQTT ones live in policies/contract).
import { z } from 'zod';
import { COMMAND_NAMES, COMMANDS_FOR_A_DOOR, DoorIdSchema, NameSchema, ReceivedEventSchema, ReceivedStateSchema, SiteIdSchema } from '../../policies/contract/index.js';
import { SEVERITY_ORDER, STATE_NAME_LISTS } from './summary.js';

const localDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date YYYY-MM-DD' });
const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with Z or an offset' });

export const SiteParamsSchema = z.strictObject({ site: SiteIdSchema });

export const SiteSummarySchema = z.object({
  id: z.string(),
  /** The name central's config gives the branch (`sites.<id>.name`), null when it gives none. */
  name: z.string().nullable(),
  /** The region central's config places it in (`sites.<id>.region` or `regions`), `Other` when none. */
  region: z.string(),
  /** The worst severity among its active alarms (an alarm central does not know: `warning`), null without alarms. */
  severity: z.enum(SEVERITY_ORDER).nullable(),
  online: z.boolean(),
  since: z.string().nullable(),
  lastSeen: z.string().nullable(),
  policyVersion: z.int().nullable(),
  /** As the gateway sent it, read by central's version of the contract: a name it does not know is kept. */
  state: ReceivedStateSchema.nullable(),
  /** The contract version the branch's gateway speaks (`1.0` when its state has no `v`); null before any state. */
  contract: z.string().nullable(),
  /** Names in the state this central does not know (a newer gateway's), by list: shown as unknown on the tile. */
  unknown: z.partialRecord(z.enum(STATE_NAME_LISTS), z.array(z.string())),
});

export const SitesSchema = z.object({ sites: z.array(SiteSummarySchema) });

export const EventsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  before: instant.optional(),
  /** Any event type, also one this central does not know (a newer gateway's). */
  type: NameSchema.optional(),
});

export const EventsSchema = z.object({ events: z.array(z.object({ event: ReceivedEventSchema, receivedAt: z.string() })) });

export const OccupancyQuerySchema = z.strictObject({
  from: instant.optional(),
  to: instant.optional(),
});

export const OccupancySchema = z.object({
  from: z.string(),
  to: z.string(),
  samples: z.array(z.object({ at: z.string(), inside: z.int(), capacity: z.int().nullable() })),
});

export const FiguresQuerySchema = z
  .strictObject({
    from: localDate.optional(),
    to: localDate.optional(),
    site: SiteIdSchema.optional(),
    /** Only the branches central's config places in this region (`Other`: those it places nowhere). */
    region: z.string().trim().min(1).max(100).optional(),
    by: z.enum(['day', 'hour']).default('day'),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .check((ctx) => {
    const { from, to } = ctx.value;
    if (from !== undefined && to !== undefined && to < from) {
      ctx.issues.push({ code: 'custom', path: ['to'], message: 'must not be before from', input: to });
    }
  });

export const VisitsSchema = z.object({
  from: z.string(),
  to: z.string(),
  timezone: z.string(),
  rows: z.array(
    z.object({
      site: z.string(),
      period: z.string(),
      staffed: z.int(),
      openAccess: z.int(),
      booking: z.int(),
      other: z.int(),
      total: z.int(),
      /** Door openings nobody could count (no counter or beams while the door was held free, a staff unlock, a forced door): not visits. */
      uncountedOpenings: z.int(),
    }),
  ),
});

export const TailgatesSchema = z.object({
  from: z.string(),
  to: z.string(),
  timezone: z.string(),
  rows: z.array(z.object({ site: z.string(), period: z.string(), tailgates: z.int(), extraPeople: z.int() })),
});

export const GrantsSchema = z.object({
  from: z.string(),
  to: z.string(),
  rows: z.array(z.object({ site: z.string(), kind: z.string(), ageBand: z.string(), count: z.int() })),
});

export const ReportQuerySchema = z.strictObject({
  /** A calendar month in the reporting time zone; default: this month by central's clock. */
  month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, { error: 'must be YYYY-MM' }).optional(),
  /** One branch; left out: the whole estate. */
  site: SiteIdSchema.optional(),
  format: z.enum(['json', 'csv']).default('json'),
});

const reportTotals = { staffed: z.int(), openAccess: z.int(), booking: z.int(), other: z.int(), total: z.int(), tailgates: z.int(), extraPeople: z.int(), uncountedOpenings: z.int() };

export const MonthlyReportSchema = z.object({
  month: z.string(),
  site: z.string().nullable(),
  timezone: z.string(),
  generatedAt: z.string(),
  days: z.array(z.object({ date: z.string(), ...reportTotals })),
  bySite: z.array(z.object({ site: z.string(), ...reportTotals })),
  totals: z.object(reportTotals),
  refusals: z.array(z.object({ reason: z.string(), count: z.int() })),
  grantsByKind: z.array(z.object({ kind: z.string(), count: z.int() })),
  grantsByAgeBand: z.array(z.object({ ageBand: z.string(), count: z.int() })),
});

export const RefusalsSchema = z.object({
  from: z.string(),
  to: z.string(),
  rows: z.array(z.object({ site: z.string(), reason: z.string(), count: z.int() })),
});

/**
 * The commands an operator sends by hand. `help-acknowledged` is not one: it goes to the branch when someone
 * acknowledges the help-call incident (central/alerts/help-relay.ts), with that person's name.
 */
export const OPERATOR_COMMANDS = COMMAND_NAMES.filter((name) => name !== 'help-acknowledged');

export const CommandRequestSchema = z
  .strictObject({
    /** Who asks is the signed-in identity (or the API token), never a field here: an `actor` is an unknown key. */
    command: z.enum(OPERATOR_COMMANDS, { error: `must be one of ${OPERATOR_COMMANDS.join(', ')} (a help call is answered by acknowledging its incident)` }),
    text: z.string().min(1).max(280).optional(),
    /** `unlock` and `lock` at a branch with several doors: which one (absent: the main door). The branch refuses a door it does not have. */
    door: DoorIdSchema.optional(),
  })
  .check((ctx) => {
    if (ctx.value.command === 'announce' && ctx.value.text === undefined) {
      ctx.issues.push({ code: 'custom', path: ['text'], message: 'required with announce', input: undefined });
    } else if (ctx.value.command !== 'announce' && ctx.value.text !== undefined) {
      ctx.issues.push({ code: 'custom', path: ['text'], message: 'only allowed with announce', input: ctx.value.text });
    }
    const { door, command } = ctx.value;
    if (door !== undefined && !(COMMANDS_FOR_A_DOOR as readonly string[]).includes(command)) {
      ctx.issues.push({ code: 'custom', path: ['door'], message: `only allowed with ${COMMANDS_FOR_A_DOOR.join(' and ')}`, input: door });
    }
  });

export const CommandResponseSchema = z.object({ id: z.string(), ok: z.boolean(), error: z.string().optional() });

export const PolicyResponseSchema = z.object({ version: z.int(), doc: z.unknown(), seenAt: z.string() });
export const PublishedSchema = z.object({ published: z.literal(true), site: z.string(), version: z.int() });

export const StatsSchema = z.object({
  mqttConnected: z.boolean(),
  events: z.int(),
  ingest: z.object({
    received: z.int(),
    stored: z.int(),
    duplicates: z.int(),
    late: z.int(),
    rejected: z.int(),
    ignored: z.int(),
    lastRejections: z.array(z.object({ at: z.string(), topic: z.string(), errors: z.array(z.string()) })),
  }),
});
