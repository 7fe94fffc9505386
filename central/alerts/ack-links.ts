// One-time acknowledgement links: following one acknowledges the incident as its recipient (`contact:<name>`). A link
// is issued when a message is sent (the outbox calls `attach`), so the token exists only in that message: the
// database keeps its SHA-256, and a stolen database acknowledges nothing. Each link works once and expires.
//
// Following the link (GET) must only show the incident and a button: mail scanners open links on their own, and
// that must not acknowledge anything. The button (POST) calls `acknowledge`.
import { createHash, randomBytes } from 'node:crypto';
import type { AlertsStore, LinkRow } from './alerts-store.js';
import type { Incident, Incidents } from './incidents.js';
import type { AckLinkIssuer, NotificationRequest } from './types.js';

export const DEFAULT_ACK_LINK_TTL_MS = 24 * 3_600_000;

const TOKEN_BYTES = 32;
/** base64url of 32 bytes, without padding. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type LinkRefusal = 'malformed' | 'unknown' | 'expired' | 'used' | 'already-acknowledged' | 'cleared' | 'invalid';

export type LinkOutcome =
  | { ok: true; incident: Incident; contact: string; expiresAt: string }
  /** `incident` is there whenever the link named one, so the page can still show it (it stays open on the dashboard). */
  | { ok: false; reason: LinkRefusal; error: string; incident?: Incident };

function hashOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface AckLinkOptions {
  /** The link is this followed by the token, e.g. `https://central.example.org/ack/`. */
  linkPrefix: string | (() => string);
  /** How long a link works (default 24 h). */
  ttlMs?: number;
}

export class AckLinks implements AckLinkIssuer {
  private readonly ttlMs: number;

  constructor(
    private readonly store: AlertsStore,
    private readonly incidents: Incidents,
    private readonly options: AckLinkOptions,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_ACK_LINK_TTL_MS;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 60_000) throw new RangeError('ack link ttlMs must be a whole number of at least 60000 (one minute)');
  }

  /** A new link for `contact` on this incident. The token is returned once and never stored. */
  async issue(incidentId: number, contact: string, at: Date): Promise<{ url: string; token: string; expiresAt: string }> {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const expires = at.getTime() + this.ttlMs;
    await this.store.insertLink(hashOf(token), incidentId, contact, at.getTime(), expires);
    // A function when the address is known only once central listens (port 0).
    const prefix = typeof this.options.linkPrefix === 'function' ? this.options.linkPrefix() : this.options.linkPrefix;
    return { url: `${prefix}${token}`, token, expiresAt: iso(expires) };
  }

  async attach(request: NotificationRequest, at: Date): Promise<NotificationRequest> {
    // A webhook reaches a team or an alarm centre, not one person: an acknowledgement there is made on the dashboard.
    if (request.recipient.channel === 'webhook') return request;
    return { ...request, ackUrl: (await this.issue(request.incidentId, request.recipient.name, at)).url };
  }

  /** What the link is for, without using it (for the page behind the link). */
  async inspect(token: string, at: Date): Promise<LinkOutcome> {
    const found = await this.find(token, at);
    if (!found.ok) return found.outcome;
    const { row, incident } = found;
    return this.standing(incident) ?? { ok: true, incident, contact: row.contact, expiresAt: iso(row.expires_ms) };
  }

  /** Acknowledges as `contact:<name>` and uses the link up; refused, naming why, otherwise (the link then stays as it was). */
  async acknowledge(token: string, body: { note?: string | undefined }, at: Date): Promise<LinkOutcome> {
    const found = await this.find(token, at);
    if (!found.ok) return found.outcome;
    const { row, incident } = found;
    const standing = this.standing(incident);
    if (standing) return standing;
    // The link is used in the store's transaction that acknowledges, so that of two clicks (two instances) one wins.
    const done = await this.incidents.act(row.incident_id, { actor: `contact:${row.contact}`, note: body.note }, at, 'acknowledged', (a) =>
      this.store.acknowledgeByLink(hashOf(token), a),
    );
    if (done.ok) return { ok: true, incident: done.incident, contact: row.contact, expiresAt: iso(row.expires_ms) };
    if (done.code === 'used') {
      // Another click, on this instance or another, used it meanwhile: told as that, from what is stored now.
      const again = await this.find(token, at);
      return again.ok ? (this.standing(again.incident) ?? { ok: false, reason: 'used', error: 'this link was already used; each link works once', incident }) : again.outcome;
    }
    const reason = done.code === 'not-found' ? 'unknown' : done.code;
    return { ok: false, reason, error: 'error' in done ? done.error : 'refused', incident };
  }

  /** Forgets links expired before `before`. */
  prune(before: Date): Promise<number> {
    return this.store.pruneLinks(before.getTime());
  }

  private async find(token: string, at: Date): Promise<{ ok: true; row: LinkRow; incident: Incident } | { ok: false; outcome: LinkOutcome }> {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
      return { ok: false, outcome: { ok: false, reason: 'malformed', error: 'this is not an acknowledgement link: the address may have been cut short when it was copied' } };
    }
    const row = await this.store.link(hashOf(token));
    const incident = row ? await this.incidents.get(row.incident_id) : null;
    if (!row || !incident) {
      return { ok: false, outcome: { ok: false, reason: 'unknown', error: 'this acknowledgement link is not known here (mistyped, or removed after it expired)' } };
    }
    const { history: _h, notifications: _n, ...summary } = incident;
    if (row.used_ms !== null) {
      return {
        ok: false,
        outcome: { ok: false, reason: 'used', error: `this link was already used, at ${iso(row.used_ms)}; each link works once`, incident: summary },
      };
    }
    if (at.getTime() >= row.expires_ms) {
      return {
        ok: false,
        outcome: {
          ok: false,
          reason: 'expired',
          error: `this link expired at ${iso(row.expires_ms)}; incident ${incident.id} is still ${incident.status} on the dashboard, where it can be acknowledged`,
          incident: summary,
        },
      };
    }
    return { ok: true, row, incident: summary };
  }

  /** A refusal when the incident no longer waits for anyone (acknowledged by another, or cleared). */
  private standing(incident: Incident): LinkOutcome | null {
    if (incident.cleared) {
      return { ok: false, reason: 'cleared', error: `incident ${incident.id} was already cleared at ${incident.cleared.at} by ${incident.cleared.by}`, incident };
    }
    if (incident.acknowledged) {
      return {
        ok: false,
        reason: 'already-acknowledged',
        error: `incident ${incident.id} was already acknowledged at ${incident.acknowledged.at} by ${incident.acknowledged.by}`,
        incident,
      };
    }
    return null;
  }
}
