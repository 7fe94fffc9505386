// The page behind the one-time link in an alarm e-mail or SMS (central/alerts/ack-links.ts). Public by name: the
// token in the path is the credential, personal to one contact, one use, expiring. GET only shows the incident and
// a button (mail scanners open links by themselves); the button's POST acknowledges as `contact:<name>`. Plain HTML
// with central's stylesheet and no script, so the strict content security policy holds; the link never reaches a
// log or the audit.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { DateTime } from 'luxon';
import type { CentralAlerts } from '../alerts/central-alerts.js';
import type { LinkOutcome } from '../alerts/ack-links.js';
import { CENTRAL_SITE } from '../alerts/incident-names.js';
import { IncidentNoteSchema, MAX_NOTE_CHARS, type Incident } from '../alerts/incidents.js';
import type { CentralAudit } from '../auth/audit.js';
import { escapeHtml, sendPlainPage } from './plain-page.js';
import { validate } from '../../policies/errors.js';

/** The form is one short note: a larger body is refused before it is read. */
const MAX_FORM_BYTES = 8 * 1024;

const TITLES: Record<string, string> = {
  malformed: 'This is not an acknowledgement link',
  unknown: 'This link is not known',
  expired: 'This link has expired',
  used: 'This link has already been used',
  'already-acknowledged': 'Already acknowledged',
  cleared: 'This incident is over',
  invalid: 'The note cannot be taken',
};
const STATUS: Record<string, number> = { malformed: 404, unknown: 404, expired: 410, used: 410, 'already-acknowledged': 409, cleared: 409, invalid: 400 };

export function ackRoutes(deps: { alerts: CentralAlerts; audit: CentralAudit; clock: { now(): Date }; timezone: string }): FastifyPluginAsync {
  const links = deps.alerts.alerts.links;
  const when = (iso: string): string => DateTime.fromISO(iso, { zone: deps.timezone }).toFormat('ccc d LLL yyyy, HH:mm');
  const describe = (i: Incident): string => {
    const where = i.site === CENTRAL_SITE ? 'central' : `branch ${i.site}`;
    const ack = i.acknowledged ? `<p>Acknowledged by ${escapeHtml(i.acknowledged.by)} at ${escapeHtml(when(i.acknowledged.at))}.</p>` : '';
    return `      <dl class="incident-facts">
        <dt>Alarm</dt><dd id="ack-alarm" class="sev-${escapeHtml(i.severity)}">${escapeHtml(i.alarm)} (${escapeHtml(i.severity)})</dd>
        <dt>Where</dt><dd>${escapeHtml(where)}</dd>
        <dt>Raised</dt><dd>${escapeHtml(when(i.raisedAt))}</dd>
        <dt>State</dt><dd id="ack-state">${escapeHtml(i.status)}</dd>${i.detail ? `\n        <dt>Detail</dt><dd>${escapeHtml(i.detail)}</dd>` : ''}
      </dl>
${ack}`;
  };
  const send = (reply: FastifyReply, status: number, title: string, body: string): FastifyReply =>
    sendPlainPage(reply, status, title, body);
  const refusal = (reply: FastifyReply, outcome: Extract<LinkOutcome, { ok: false }>): FastifyReply => {
    const still = outcome.incident && outcome.incident.status !== 'cleared' ? '\n      <p>The incident stays open on central’s dashboard.</p>' : '';
    return send(
      reply,
      STATUS[outcome.reason] ?? 400,
      TITLES[outcome.reason] ?? 'This link cannot be used',
      `      <p class="result err" role="alert" id="ack-refusal" data-reason="${escapeHtml(outcome.reason)}">${escapeHtml(outcome.error)}</p>
${outcome.incident ? describe(outcome.incident) : ''}${still}`,
    );
  };

  return async (app) => {
    // The button's form; only on these routes.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.get('/ack/:token', { schema: { hide: true } }, async (request, reply) => {
      const { token } = request.params as { token: string };
      const outcome = await links.inspect(token, deps.clock.now());
      if (!outcome.ok) return refusal(reply, outcome);
      return send(
        reply,
        200,
        'Acknowledge this alarm',
        `${describe(outcome.incident)}      <p>You are acknowledging as <strong>${escapeHtml(outcome.contact)}</strong>: the next contact is then not called. This link works once, until ${escapeHtml(when(outcome.expiresAt))}.</p>
      <form method="post" class="stack" id="ack-form">
        <label>Note (optional)<textarea name="note" maxlength="${MAX_NOTE_CHARS}" rows="3" placeholder="On my way, there in 20 minutes"></textarea></label>
        <p><button type="submit" id="ack-button">Acknowledge</button></p>
      </form>`,
      );
    });

    app.post('/ack/:token', { schema: { hide: true } }, async (request, reply) => {
      const { token } = request.params as { token: string };
      const raw = (request.body ?? {}) as Record<string, unknown>;
      const note = typeof raw.note === 'string' && raw.note.trim() !== '' ? raw.note : undefined;
      const checked = validate(IncidentNoteSchema, note === undefined ? {} : { note });
      if (!checked.ok) return refusal(reply, { ok: false, reason: 'invalid', error: checked.errors.join('; ') });
      const outcome = await links.acknowledge(token, { note: checked.value.note }, deps.clock.now());
      if (!outcome.ok) return refusal(reply, outcome);
      const i = outcome.incident;
      await deps.audit.record(`contact:${outcome.contact}`.slice(0, 64), 'incident-acknowledge', {
        site: i.site === CENTRAL_SITE ? null : i.site,
        detail: `incident ${i.id} (${i.alarm}) from the e-mailed link${checked.value.note === undefined ? '' : `: ${checked.value.note}`}`,
      });
      return send(reply, 200, 'Acknowledged — thank you', `      <p class="result ok" role="status" id="ack-done">Acknowledged as ${escapeHtml(outcome.contact)}. Nobody else will be called about it.</p>
${describe(i)}`);
    });
  };
}
