// Central's audit: who did what, to which branch, when. Written on sign-in (and failed sign-in), sign-out, every
// command, policy and member change, and every change to accounts and tokens. The actor is the signed-in identity
// (`user:alice`, `token:nightly-export`), never something a request said about itself. No secret ever goes in
// (passwords, tokens, card numbers): the callers write names and pseudonyms only.
import type { Logger } from 'pino';
import type { AuditFilter, AuditRow, AuthStore } from './auth-store-types.js';

export const AUDIT_ACTIONS = [
  'sign-in',
  'sign-in-failed',
  'sign-out',
  'command',
  'policy-publish',
  'member-change',
  'user-add',
  'user-role',
  'user-password-reset',
  'user-remove',
  'token-add',
  'token-revoke',
  'incident-acknowledge',
  'incident-resolve',
  'alert-rules-save',
  /** A phone token issued (docs/phone-credential.md): the member's pseudonym, never the token. */
  'phone-token-issue',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The detail is for reading, not for storage of anything a request sends: bounded, one line. */
const MAX_DETAIL = 500;

export class CentralAudit {
  constructor(
    private readonly store: AuthStore,
    private readonly clock: { now(): Date },
    private readonly logger?: Logger,
  ) {}

  /**
   * Settles once the row is written; a caller that must not go on without its row awaits it. A row that cannot be
   * written is logged here (actor and action, never the detail), so one a caller did not wait for is not lost unseen.
   */
  record(actor: string, action: AuditAction, options: { site?: string | null | undefined; detail?: string | undefined } = {}): Promise<void> {
    // eslint-disable-next-line no-control-regex
    const detail = (options.detail ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, MAX_DETAIL);
    const written = this.store.audit({ at: this.clock.now(), actor, action, site: options.site ?? null, detail });
    written.catch((err: unknown) => this.logger?.error({ err, actor, action }, 'audit: a row could not be written'));
    return written;
  }

  /** Newest first; `next` is the `before` of the page after this one (null on the last). */
  async query(filter: AuditFilter): Promise<{ rows: AuditRow[]; next: number | null }> {
    const rows = await this.store.auditRows({ ...filter, limit: filter.limit + 1 });
    const more = rows.length > filter.limit;
    const page = more ? rows.slice(0, filter.limit) : rows;
    return { rows: page, next: more ? page[page.length - 1]!.id : null };
  }

  purgeBefore(at: Date): Promise<void> {
    return this.store.purgeAuditBefore(at);
  }
}
