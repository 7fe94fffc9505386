// Central's side of a change staff make at a branch's desk (policies/contract/member-desk.ts, docs/members.md "At the
// desk"): link the card a member tapped at the desk reader, set or remove their PIN. The rules are here; the change
// itself is the member service's (service.ts), so a desk change and an API change are one body. Every change gets
// one signed answer on the site's reply topic, and the same answer again when its id comes again (QoS 1 resends).
import type { Logger } from 'pino';
import {
  MEMBER_CHANGE_MAX_AGE_MS,
  MemberDeskReplySchema,
  topics,
  type MemberDeskReply,
  type ReceivedMemberDeskChangeSchema,
} from '../../policies/contract/index.js';
import type { z } from 'zod';
import type { AuditAction } from '../auth/audit.js';
import { isUsablePinHash } from '../../policies/pin.js';
import { signedPayload, type CentralSigningKey } from '../signing-key.js';
import type { MemberDeskConfig } from './config.js';
import { OtherKeyError } from './member-store.js';
import type { MembersLink } from './publisher.js';
import { UnknownCardError, type CentralMembers } from './service.js';

export type ReceivedMemberDeskChange = z.output<typeof ReceivedMemberDeskChangeSchema>;

/** What ingest hands on from `members/change`: a change, or one that did not parse but had a readable id. */
export type DeskChangeArrival = { change: ReceivedMemberDeskChange } | { id: string; errors: string[] };

type Refusal = NonNullable<MemberDeskReply['reason']>;

/** Answers are kept this long, and at most this many, so a resend is answered again rather than applied twice. */
export const DESK_ANSWERS_KEPT = { ms: 86_400_000, count: 10_000 };

const MAX_MESSAGE = 500;

export interface MemberDeskChangesDeps {
  /** Null when central distributes no member list (no deployment key): every change is refused `unavailable`. */
  members: CentralMembers | null;
  config: MemberDeskConfig;
  prefix: string;
  link: MembersLink;
  signingKey: CentralSigningKey;
  /** Central's audit (central/auth/audit.ts); absent in tests of the rules alone. */
  audit?: { record(actor: string, action: AuditAction, options: { site?: string | null; detail?: string }): void } | undefined;
  clock: { now(): Date };
  logger: Logger;
}

export class MemberDeskChanges {
  private readonly log: Logger;
  /** Answers being worked out: a resend that arrives meanwhile waits for the same one. */
  private readonly pending = new Map<string, Promise<MemberDeskReply>>();

  constructor(private readonly deps: MemberDeskChangesDeps) {
    this.log = deps.logger.child({ module: 'members-desk' });
  }

  /** A change from `site` (ingest has checked the topic and parsed it). Never throws: a failure is logged. */
  async handle(site: string, arrival: DeskChangeArrival): Promise<void> {
    try {
      if ('errors' in arrival) {
        await this.send(site, refused(arrival.id, 'bad-request', arrival.errors.join('; ')));
        return;
      }
      const key = `${site}/${arrival.change.id}`;
      let answer = this.pending.get(key);
      if (answer === undefined) {
        answer = this.answer(site, arrival.change).finally(() => this.pending.delete(key));
        this.pending.set(key, answer);
      }
      await this.send(site, await answer);
    } catch (err) {
      this.log.error({ site, err: (err as Error).message }, 'desk change not answered');
    }
  }

  private async answer(site: string, change: ReceivedMemberDeskChange): Promise<MemberDeskReply> {
    if (this.deps.members === null) {
      // Answered, so the branch's staff read why at once rather than wait for an answer that never comes.
      return refused(change.id, 'unavailable', 'central distributes no member list (it has no deployment key): nothing changed');
    }
    const { store } = this.deps.members;
    const kept = await store.deskAnswer(site, change.id);
    if (kept !== undefined) {
      this.log.debug({ site, id: change.id }, 'desk change seen before: answered again');
      return MemberDeskReplySchema.parse(JSON.parse(kept));
    }
    const reply = await this.decide(site, change).catch((err: unknown) => {
      // The store failed (its transaction rolled back): the branch is told, in the contract's words, rather than left
      // waiting for an answer that never comes.
      this.log.error({ site, id: change.id, err: (err as Error).message }, 'desk change not applied');
      return refused(change.id, 'unavailable', "central's member store failed: nothing changed; make it again");
    });
    // `unavailable` may pass (the list arrives, the store recovers): the same change resent is tried again.
    if (reply.reason !== 'unavailable') await store.recordDeskAnswer(site, change.id, this.deps.clock.now(), JSON.stringify(reply), DESK_ANSWERS_KEPT);
    if (reply.result === 'refused') this.log.info({ site, actor: change.actor, kind: change.change.kind, reason: reply.reason }, 'desk change refused');
    return reply;
  }

  private async decide(site: string, change: ReceivedMemberDeskChange): Promise<MemberDeskReply> {
    const { config, clock } = this.deps;
    const members = this.deps.members!;
    const { id } = change;
    if (config.sites !== 'all' && !config.sites.includes(site)) {
      return refused(id, 'not-allowed', "central does not take desk changes from this branch (members.desk.sites in central's config)");
    }
    if (Math.abs(clock.now().getTime() - Date.parse(change.at)) > MEMBER_CHANGE_MAX_AGE_MS) {
      return refused(id, 'stale', `the change reached central more than ${MEMBER_CHANGE_MAX_AGE_MS / 1000} s after it was made (or the branch's clock is off): nothing changed; make it again`);
    }
    if (change.keyId !== members.keyId) {
      return refused(id, 'key-mismatch', `the branch's deployment key (id ${change.keyId}) is not central's (id ${members.keyId}): nothing changed`);
    }
    const current = await members.store.current();
    if (current === null || current.keyId !== members.keyId) return refused(id, 'unavailable', 'central has no member list yet: nothing changed');
    const actor = `${site}/${change.actor}`;
    const tapped = Buffer.from(change.member, 'base64url');
    try {
      if (change.change.kind === 'link-card') {
        const linked = await members.linkDeskCard(tapped, Buffer.from(change.change.card, 'base64url'), site, actor);
        if (!('person' in linked)) {
          return linked.outcome === 'unknown-member'
            ? refused(id, 'unknown-member', 'central knows no member with that card')
            : refused(id, 'card-taken', 'that card already opens doors as another member: it was not linked');
        }
        if (linked.outcome === 'already') return done(id, 'that card is already this member’s: nothing changed', null);
        const version = linked.version?.version ?? null;
        this.audit(site, actor, linked.person, 'card linked at the desk', version);
        return done(id, linked.listed ? `it opens doors as the member from list version ${version}` : 'it opens doors once the member is registered for open access', version);
      }
      const pinHash = change.change.kind === 'set-pin' ? change.change.pinHash : null;
      // The contract checks the hash's shape; the doors also refuse a cost past theirs or a short key, and a member
      // whose list entry held such a hash would have a PIN no door takes.
      if (pinHash !== null && !isUsablePinHash(pinHash)) return refused(id, 'bad-request', 'the PIN hash is not one the doors can check (policies/pin.ts): nothing changed');
      const what = pinHash === null ? 'PIN removed' : 'PIN set';
      const changed = await members.changeCard(tapped, { pinHash }, actor, `desk:${actor}`);
      const version = changed.version?.version ?? null;
      this.audit(site, actor, changed.person, `${what} at the desk`, version);
      return done(id, version === null ? `${what}: nothing else changed` : `${what}: it holds from list version ${version}`, version);
    } catch (err) {
      if (err instanceof UnknownCardError) return refused(id, 'unknown-member', 'central knows no member with that card');
      if (err instanceof OtherKeyError) return refused(id, 'unavailable', err.message);
      throw err;
    }
  }

  private audit(site: string, actor: string, person: string, what: string, version: number | null): void {
    // The member's pseudonym at central only: never a card hash, never the PIN's.
    this.deps.audit?.record(actor, 'member-change', { site, detail: `member ${person}: ${what}; ${version === null ? 'no change' : `version ${version}`}` });
  }

  private async send(site: string, reply: MemberDeskReply): Promise<void> {
    const topic = topics(this.deps.prefix, site).membersChangeReply;
    await this.deps.link.publish(topic, signedPayload(this.deps.signingKey, topic, MemberDeskReplySchema.parse(reply)), { retain: false });
  }
}

function refused(id: string, reason: Refusal, message: string): MemberDeskReply {
  return { id, result: 'refused', reason, message: message.slice(0, MAX_MESSAGE) };
}

function done(id: string, message: string, version: number | null): MemberDeskReply {
  return { id, result: 'done', message, version };
}
