// One-time acknowledgement links: following one acknowledges the incident as its recipient (`contact:<name>`). A link
// is issued when a message is sent (the outbox calls `attach`), so the token exists only in that message: the
// database keeps its SHA-256, and a stolen database acknowledges nothing. Each link works once and expires.
//
// Following the link (GET) must only show the incident and a button: mail scanners open links on their own, and
// that must not acknowledge anything. The button (POST) calls `acknowledge`.
import { createHash, randomBytes } from 'node:crypto';
import type { Database as Db, Statement } from 'better-sqlite3';
import type { Incident, Incidents } from './incidents.js';
import type { AckLinkIssuer, NotificationRequest } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_ack_links (
  -- SHA-256 of the token; the token itself is only in the message sent
  token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
  incident_id INTEGER NOT NULL,
  contact TEXT NOT NULL,
  issued_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  used_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_ack_links_by_incident ON alert_ack_links (incident_id);
`;

export const DEFAULT_ACK_LINK_TTL_MS = 24 * 3_600_000;

const TOKEN_BYTES = 32;
/** base64url of 32 bytes, without padding. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type LinkRefusal = 'malformed' | 'unknown' | 'expired' | 'used' | 'already-acknowledged' | 'cleared' | 'invalid';

export type LinkOutcome =
  | { ok: true; incident: Incident; contact: string; expiresAt: string }
  /** `incident` is there whenever the link named one, so the page can still show it (it stays open on the dashboard). */
  | { ok: false; reason: LinkRefusal; error: string; incident?: Incident };

interface LinkRow {
  incident_id: number;
  contact: string;
  issued_ms: number;
  expires_ms: number;
  used_ms: number | null;
}

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
  private readonly q: {
    insert: Statement<[Buffer, number, string, number, number]>;
    byHash: Statement<[Buffer], LinkRow>;
    use: Statement<[number, Buffer]>;
    prune: Statement<[number]>;
  };

  constructor(
    private readonly db: Db,
    private readonly incidents: Incidents,
    private readonly options: AckLinkOptions,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_ACK_LINK_TTL_MS;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 60_000) throw new RangeError('ack link ttlMs must be a whole number of at least 60000 (one minute)');
    db.exec(SCHEMA);
    this.q = {
      insert: db.prepare('INSERT INTO alert_ack_links (token_hash, incident_id, contact, issued_ms, expires_ms) VALUES (?, ?, ?, ?, ?)'),
      byHash: db.prepare('SELECT incident_id, contact, issued_ms, expires_ms, used_ms FROM alert_ack_links WHERE token_hash = ?'),
      use: db.prepare('UPDATE alert_ack_links SET used_ms = ? WHERE token_hash = ? AND used_ms IS NULL'),
      prune: db.prepare('DELETE FROM alert_ack_links WHERE expires_ms < ?'),
    };
  }

  /** A new link for `contact` on this incident. The token is returned once and never stored. */
  issue(incidentId: number, contact: string, at: Date): { url: string; token: string; expiresAt: string } {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const expires = at.getTime() + this.ttlMs;
    this.q.insert.run(hashOf(token), incidentId, contact, at.getTime(), expires);
    // A function when the address is known only once central listens (port 0).
    const prefix = typeof this.options.linkPrefix === 'function' ? this.options.linkPrefix() : this.options.linkPrefix;
    return { url: `${prefix}${token}`, token, expiresAt: iso(expires) };
  }

  attach(request: NotificationRequest, at: Date): NotificationRequest {
    // A webhook reaches a team or an alarm centre, not one person: an acknowledgement there is made on the dashboard.
    if (request.recipient.channel === 'webhook') return request;
    return { ...request, ackUrl: this.issue(request.incidentId, request.recipient.name, at).url };
  }

  /** What the link is for, without using it (for the page behind the link). */
  inspect(token: string, at: Date): LinkOutcome {
    const found = this.find(token, at);
    if (!found.ok) return found.outcome;
    const { row, incident } = found;
    return this.standing(incident) ?? { ok: true, incident, contact: row.contact, expiresAt: iso(row.expires_ms) };
  }

  /** Acknowledges as `contact:<name>` and uses the link up; refused, naming why, otherwise (the link then stays as it was). */
  acknowledge(token: string, body: { note?: string | undefined }, at: Date): LinkOutcome {
    return this.db.transaction((): LinkOutcome => {
      const found = this.find(token, at);
      if (!found.ok) return found.outcome;
      const { row, incident } = found;
      const standing = this.standing(incident);
      if (standing) return standing;
      const done = this.incidents.acknowledge(row.incident_id, { actor: `contact:${row.contact}`, note: body.note }, at);
      if (!done.ok) {
        const reason = done.code === 'not-found' ? 'unknown' : done.code;
        return { ok: false, reason, error: done.error, incident };
      }
      this.q.use.run(at.getTime(), hashOf(token));
      return { ok: true, incident: done.incident, contact: row.contact, expiresAt: iso(row.expires_ms) };
    })();
  }

  /** Forgets links expired before `before`. */
  prune(before: Date): number {
    return this.q.prune.run(before.getTime()).changes;
  }

  private find(token: string, at: Date): { ok: true; row: LinkRow; incident: Incident } | { ok: false; outcome: LinkOutcome } {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
      return { ok: false, outcome: { ok: false, reason: 'malformed', error: 'this is not an acknowledgement link: the address may have been cut short when it was copied' } };
    }
    const row = this.q.byHash.get(hashOf(token));
    const incident = row ? this.incidents.get(row.incident_id) : null;
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
