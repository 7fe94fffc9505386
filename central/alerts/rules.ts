// The alert rules: contacts, rotas, regions, how long a branch may be offline, and which incidents go to whom. One
// document, edited by administrators and validated whole; every error names its field
// (`rules[2].steps[1].afterMinutes: must be at least 1`). The first rule that matches an incident decides who is
// told, so an administrator reads one answer to "who hears about this?".
import { z } from 'zod';
import { ALARM_NAMES, SiteIdSchema } from '../../policies/contract/common.js';
import { validate, type Validation } from '../../policies/errors.js';
import { parseDocumentText } from '../../policies/schema.js';
import { isValidTimeZone, zone as zoneNamed, type Zone } from '../../policies/time.js';
import { CENTRAL_ALARM_NAMES } from './incident-names.js';
import { ContactNameSchema, onCallAt, RotaSchema, rotaContacts, type OnCall, type Rota } from './rota.js';
import { CHANNELS, type Channel, type Recipient } from './types.js';

/** Lowest first. `warning` is what an alarm this central does not know arrives as, when it came without one. */
export const ALERT_SEVERITIES = ['minor', 'warning', 'major', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/**
 * An unknown severity (from a newer gateway) ranks as `warning`: above `minor`, so a rule taking everything still
 * takes it, below `major`, so it does not page the people kept for the door and the fire.
 */
export function severityRank(severity: string): number {
  const i = (ALERT_SEVERITIES as readonly string[]).indexOf(severity);
  return i >= 0 ? i : ALERT_SEVERITIES.indexOf('warning');
}

/** The alarm names a rule may list: the gateways' and central's own. */
export const RULE_ALARM_NAMES: readonly string[] = [...ALARM_NAMES, ...CENTRAL_ALARM_NAMES];

/** The rules document's size limit, as text: the rules of a large estate fit with room to spare. */
export const MAX_RULES_BYTES = 256 * 1024;

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'must be lower case letters, digits and dashes (at most 63)' });

const ContactSchema = z
  .strictObject({
    name: ContactNameSchema,
    email: z.email({ error: 'must be an e-mail address' }).max(254).optional(),
    sms: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, { error: 'must be a phone number in international form: + and 7 to 15 digits, e.g. +447700900123' })
      .optional(),
    webhook: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).max(2000).optional(),
  })
  .check((ctx) => {
    const c = ctx.value;
    if (c.email === undefined && c.sms === undefined && c.webhook === undefined) {
      ctx.issues.push({ code: 'custom', path: [], message: 'needs at least one of email, sms, webhook', input: c });
    }
  });
export type Contact = z.output<typeof ContactSchema>;

const StepSchema = z
  .strictObject({
    /** Minutes without an acknowledgement after the step before (after the incident opened, for the first). */
    afterMinutes: z.int().min(0).max(7 * 1440),
    /** The person on call on this rota when the step is due. */
    onCall: slug.optional(),
    contacts: z.array(ContactNameSchema).min(1).max(20).optional(),
    /** Which of a contact's channels to use; all they have when left out. */
    via: z.array(z.enum(CHANNELS)).min(1).max(CHANNELS.length).optional(),
  })
  .check((ctx) => {
    if (ctx.value.onCall === undefined && ctx.value.contacts === undefined) {
      ctx.issues.push({ code: 'custom', path: [], message: 'needs onCall (a rota) or contacts (names), or both', input: ctx.value });
    }
  });
export type Step = z.output<typeof StepSchema>;

const AlarmPatternSchema = z
  .string()
  .regex(/^(\*|[a-z0-9][a-z0-9-]{0,62})$/, { error: 'must be an alarm name or *' })
  .refine((name) => name === '*' || RULE_ALARM_NAMES.includes(name), {
    // A misspelt alarm in a rule is a fire nobody is told about: refused, never kept as a name that might come one day.
    error: (issue) => `unknown alarm ${JSON.stringify(issue.input)}: use * or one of ${RULE_ALARM_NAMES.join(', ')}`,
  });

const RuleSchema = z
  .strictObject({
    id: slug,
    alarms: z.array(AlarmPatternSchema).min(1).max(100),
    /** Sites it applies to, with those of `regions`; with neither, every site (central's own incidents too). */
    sites: z.array(SiteIdSchema).min(1).max(5000).optional(),
    regions: z.array(slug).min(1).max(200).optional(),
    minSeverity: z.enum(ALERT_SEVERITIES).default('minor'),
    steps: z.array(StepSchema).min(1).max(10),
    /** While nobody acknowledges, everyone told so far is told again this often; never when left out. */
    repeatMinutes: z.int().min(1).max(1440).optional(),
  })
  .check((ctx) => {
    ctx.value.steps.forEach((step, i) => {
      if (i > 0 && step.afterMinutes < 1) {
        ctx.issues.push({
          code: 'custom',
          path: ['steps', i, 'afterMinutes'],
          message: 'must be at least 1 (a later step waits for an acknowledgement)',
          input: step.afterMinutes,
        });
      }
    });
  });
export type Rule = z.output<typeof RuleSchema>;

function limitedRecord<V extends z.ZodType>(value: V, max: number, what: string) {
  return z
    .record(slug, value)
    .refine((r) => Object.keys(r).length <= max, { error: `must have at most ${max} ${what}` })
    .default({});
}

export const AlertRulesSchema = z
  .strictObject({
    contacts: z.array(ContactSchema).max(500).default([]),
    rotas: limitedRecord(RotaSchema, 50, 'rotas'),
    /** A region is a named list of sites. */
    regions: limitedRecord(z.array(SiteIdSchema).min(1).max(5000), 200, 'regions'),
    /** A branch offline (its last will) for longer than this becomes an `offline` incident. */
    offline: z
      .strictObject({
        afterMinutes: z.int().min(1).max(1440).default(10),
        severity: z.enum(ALERT_SEVERITIES).default('major'),
      })
      .prefault({}),
    rules: z.array(RuleSchema).max(200).default([]),
  })
  .superRefine(checkReferences, { when: (payload) => payload.value !== null && typeof payload.value === 'object' });
export type AlertRulesDoc = z.output<typeof AlertRulesSchema>;
export type AlertRulesInput = z.input<typeof AlertRulesSchema>;

// ---- names that must refer to something ----------------------------------------------------------------------------
// Runs even when other parts of the document are wrong, so one save shows every problem: it reads the values
// defensively, as any of them may be malformed.

type Ctx = z.core.$RefinementCtx;

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const entries = (v: unknown): Array<[string, unknown]> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v) : []);
const field = (v: unknown, key: string): unknown => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function checkReferences(doc: unknown, ctx: Ctx): void {
  const issue = (path: PropertyKey[], message: string, input: unknown): void => {
    ctx.addIssue({ code: 'custom', path, message, input });
  };
  const contacts = new Map<string, Record<string, unknown>>();
  list(field(doc, 'contacts')).forEach((c, i) => {
    const name = str(field(c, 'name'));
    if (name === undefined) return;
    const first = [...contacts.keys()].indexOf(name);
    if (first >= 0) issue(['contacts', i, 'name'], `${JSON.stringify(name)} is already contacts[${first}]`, name);
    else contacts.set(name, c as Record<string, unknown>);
  });
  const contactRef = (path: PropertyKey[], name: unknown): void => {
    if (typeof name === 'string' && !contacts.has(name)) issue(path, `no contact named ${JSON.stringify(name)}`, name);
  };

  const rotas = new Map<string, unknown>(entries(field(doc, 'rotas')));
  for (const [rotaName, rota] of rotas) {
    list(field(rota, 'shifts')).forEach((s, i) => contactRef(['rotas', rotaName, 'shifts', i, 'contact'], field(s, 'contact')));
    contactRef(['rotas', rotaName, 'fallback'], field(rota, 'fallback'));
  }
  const regions = new Set(entries(field(doc, 'regions')).map(([name]) => name));
  const known = (names: Iterable<string>): string => [...names].join(', ') || 'none';

  const ruleIds = new Map<string, number>();
  list(field(doc, 'rules')).forEach((rule, r) => {
    const id = str(field(rule, 'id'));
    if (id !== undefined) {
      const first = ruleIds.get(id);
      if (first !== undefined) issue(['rules', r, 'id'], `${JSON.stringify(id)} is already rules[${first}]`, id);
      else ruleIds.set(id, r);
    }
    list(field(rule, 'regions')).forEach((name, i) => {
      if (typeof name === 'string' && !regions.has(name)) {
        issue(['rules', r, 'regions', i], `no region named ${JSON.stringify(name)} (regions: ${known(regions)})`, name);
      }
    });
    list(field(rule, 'steps')).forEach((step, s) => {
      const at = ['rules', r, 'steps', s];
      const people: string[] = [];
      const onCall = field(step, 'onCall');
      if (typeof onCall === 'string') {
        const rota = rotas.get(onCall);
        if (rota === undefined) issue([...at, 'onCall'], `no rota named ${JSON.stringify(onCall)} (rotas: ${known(rotas.keys())})`, onCall);
        else {
          const parsed = RotaSchema.safeParse(rota);
          if (parsed.success) people.push(...rotaContacts(parsed.data as Rota));
        }
      }
      list(field(step, 'contacts')).forEach((name, i) => {
        contactRef([...at, 'contacts', i], name);
        if (typeof name === 'string') people.push(name);
      });
      // A step that names a channel someone lacks would tell them nothing, and nobody would notice until the night.
      const via = list(field(step, 'via')).filter((c): c is Channel => (CHANNELS as readonly unknown[]).includes(c));
      if (via.length === 0) return;
      for (const name of new Set(people)) {
        const contact = contacts.get(name);
        if (contact && !via.some((ch) => typeof contact[ch] === 'string')) {
          const has = CHANNELS.filter((ch) => typeof contact[ch] === 'string');
          issue([...at, 'via'], `${name} has none of ${via.join(', ')} (has ${has.join(', ') || 'no channel'})`, via);
        }
      }
    });
  });
}

// ---- reading a document ------------------------------------------------------------------------------------------

/** Rules already parsed (a JSON body) → the document, or every problem with it. */
export function validateRules(input: unknown): Validation<AlertRulesDoc> {
  return validate(AlertRulesSchema, input);
}

/**
 * Rules as YAML or JSON text (bytes are decoded as strict UTF-8), at most MAX_RULES_BYTES; with the document as
 * written (`input`, before defaults), which is what a version keeps.
 */
export function parseRulesText(
  text: string | Uint8Array,
  filename = 'alert rules',
): { ok: true; value: AlertRulesDoc; input: unknown } | { ok: false; errors: string[] } {
  const doc = parseDocumentText(text, filename, { maxBytes: MAX_RULES_BYTES });
  if (!doc.ok) return doc;
  const checked = validateRules(doc.value);
  return checked.ok ? { ...checked, input: doc.value } : checked;
}

// ---- the rules in force --------------------------------------------------------------------------------------------

/** What a rule matches on. */
export interface IncidentFacts {
  site: string;
  alarm: string;
  severity: string;
}

/** A validated document, ready to answer: which rule, who is on call, whom a step tells. */
export class AlertRules {
  readonly zone: Zone;
  readonly offlineAfterMs: number;
  private readonly contacts: Map<string, Contact>;
  private readonly regionSites: Map<string, ReadonlySet<string>>;
  private readonly ruleSites: Array<ReadonlySet<string> | null>;

  constructor(
    readonly doc: AlertRulesDoc,
    /** The rules version these are (0: none saved yet). */
    readonly version: number,
    timezone: string,
  ) {
    if (!isValidTimeZone(timezone)) throw new RangeError(`unknown time zone: ${timezone}`);
    this.zone = zoneNamed(timezone);
    this.offlineAfterMs = doc.offline.afterMinutes * 60_000;
    this.contacts = new Map(doc.contacts.map((c) => [c.name, c]));
    this.regionSites = new Map(Object.entries(doc.regions).map(([name, sites]) => [name, new Set(sites)]));
    this.ruleSites = doc.rules.map((rule) => {
      if (rule.sites === undefined && rule.regions === undefined) return null;
      const sites = new Set(rule.sites ?? []);
      for (const region of rule.regions ?? []) for (const site of this.regionSites.get(region) ?? []) sites.add(site);
      return sites;
    });
  }

  /** The first rule that matches, or null: then nobody is told (the incident still shows on the dashboard). */
  match(incident: IncidentFacts): { rule: Rule; index: number } | null {
    for (const [index, rule] of this.doc.rules.entries()) {
      if (!rule.alarms.includes('*') && !rule.alarms.includes(incident.alarm)) continue;
      const sites = this.ruleSites[index];
      if (sites && !sites.has(incident.site)) continue;
      if (severityRank(incident.severity) < severityRank(rule.minSeverity)) continue;
      return { rule, index };
    }
    return null;
  }

  /** Who is on call on the named rota at `at` (central's time zone); null for no such rota or nobody. */
  onCall(rota: string, at: Date): OnCall | null {
    const r = this.doc.rotas[rota];
    return r === undefined ? null : onCallAt(r, this.zone, at);
  }

  contact(name: string): Contact | undefined {
    return this.contacts.get(name);
  }

  /** Everyone a step tells when it is due at `at`, each over each of their channels the step uses; on-call first. */
  recipients(step: Step, at: Date): Recipient[] {
    const names: string[] = [];
    if (step.onCall !== undefined) {
      const person = this.onCall(step.onCall, at);
      if (person) names.push(person.contact);
    }
    names.push(...(step.contacts ?? []));
    const out: Recipient[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const contact = this.contacts.get(name);
      if (!contact) continue;
      for (const channel of step.via ?? CHANNELS) {
        const address = contact[channel];
        if (address === undefined || seen.has(`${channel}:${address}`)) continue;
        seen.add(`${channel}:${address}`);
        out.push({ name, channel, address });
      }
    }
    return out;
  }
}

/** No rules saved yet: incidents are kept and shown, nobody is told. */
export function emptyRules(timezone: string): AlertRules {
  return new AlertRules(AlertRulesSchema.parse({}), 0, timezone);
}
