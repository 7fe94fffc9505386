// A change staff make at the desk (link a card, set or remove a PIN), sent to central and answered by it
// (policies/contract/member-desk.ts, docs/members.md "At the desk"). The branch changes nothing itself: central
// owns the list, and the change arrives with its next version. Only hashes go out. A reply counts only when
// central signed it (verify.ts): an unsigned or forged one is logged and ignored, as a forged chunk is.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  MAX_PAYLOAD_BYTES,
  MemberDeskChangeSchema,
  ReceivedMemberDeskReplySchema,
  encodeMessage,
  parseSignedMessage,
  type MemberDeskChange,
} from '../../policies/contract/index.js';
import { systemClock, type Clock, type Timer } from '../core/clock.js';
import type { DeskChangeAnswer, DeskChangeRequest, DeskChanges } from '../core/desk-reader.js';
import type { RefusalLog } from './refusal-log.js';
import type { CentralPublicKey } from './verify.js';

/**
 * How long staff wait for central's answer. Central refuses a change older than MEMBER_CHANGE_MAX_AGE_MS (60 s),
 * so one not answered now is made within the minute or never.
 */
export const DESK_REPLY_TIMEOUT_MS = 15_000;

/** Publishes on the change topic, resolving once the broker has it (QoS 1). */
export type DeskPublish = (payload: Buffer) => Promise<void>;

export interface MemberDeskDeps {
  /** The site's change-reply topic: what central signs its replies for. */
  replyTopic: string;
  centralKeys: readonly CentralPublicKey[];
  /** The branch's deployment key id (policies/cards.ts deploymentKeyId): central refuses hashes it could not match. */
  keyId: string;
  clock: { now(): Date };
  logger: Logger;
  refusals: RefusalLog;
  timeoutMs?: number | undefined;
  /** The wait for a reply is on the network's time, the real one, even under the demo's faster clock (tests: a TestClock). */
  timers?: Pick<Clock, 'setTimeout' | 'clearTimeout'> | undefined;
}

interface Waiting {
  resolve(answer: DeskChangeAnswer): void;
  timer: Timer;
}

export class MemberDeskLink implements DeskChanges {
  private publish: DeskPublish | null = null;
  private readonly waiting = new Map<string, Waiting>();
  private readonly timers: Pick<Clock, 'setTimeout' | 'clearTimeout'>;

  constructor(private readonly deps: MemberDeskDeps) {
    this.timers = deps.timers ?? systemClock;
  }

  /** The uplink connected (with a way to publish) or lost its connection. */
  link(publish: DeskPublish | null): void {
    this.publish = publish;
  }

  get connected(): boolean {
    return this.publish !== null;
  }

  /** Sends the change and waits for central's answer; offline at once when the link is down. Never throws. */
  async send(request: DeskChangeRequest): Promise<DeskChangeAnswer> {
    const publish = this.publish;
    if (publish === null) return { result: 'offline' };
    const id = randomUUID();
    const message: MemberDeskChange = {
      id,
      at: this.deps.clock.now().toISOString(),
      keyId: this.deps.keyId,
      actor: request.actor,
      member: request.member.toString('base64url'),
      change: changeOf(request.change),
    };
    const payload = encodeMessage(MemberDeskChangeSchema, message);
    const answer = new Promise<DeskChangeAnswer>((resolve) => {
      const timer = this.timers.setTimeout(() => {
        this.waiting.delete(id);
        resolve({ result: 'no-answer' });
      }, this.deps.timeoutMs ?? DESK_REPLY_TIMEOUT_MS);
      this.waiting.set(id, { resolve, timer });
    });
    const refused = (err: unknown): void => {
      // Not taken by the broker: nothing reached central.
      this.settle(id, { result: 'offline' });
      this.deps.logger.warn({ err: err instanceof Error ? err.message : String(err), kind: request.change.kind }, 'desk change not accepted by the broker');
    };
    // Not awaited: a QoS 1 change out when the connection drops is acknowledged only on the next connection (the
    // session is kept), so the broker's word may never come in time; the wait for central's answer bounds it.
    try {
      publish(payload).catch(refused);
    } catch (err) {
      refused(err);
    }
    return answer;
  }

  /** A message on the change-reply topic. */
  receive(payload: Buffer): void {
    const parsed = parseSignedMessage(ReceivedMemberDeskReplySchema, payload, { topic: this.deps.replyTopic, keys: this.deps.centralKeys }, { maxBytes: MAX_PAYLOAD_BYTES['members/change/reply'] });
    if (!parsed.ok) {
      this.deps.refusals.refused('desk change reply from central', parsed.errors.join('; '));
      return;
    }
    const reply = parsed.value;
    const answer: DeskChangeAnswer =
      reply.result === 'done' ? { result: 'done', message: reply.message, version: reply.version ?? null } : { result: 'refused', reason: reply.reason ?? 'refused', message: reply.message };
    if (!this.settle(reply.id, answer)) {
      // Central answered after staff were told it had not: the change stands (or not) all the same.
      this.deps.logger.info({ id: reply.id, result: reply.result, reason: reply.reason }, 'desk change answered after the wait ended');
    }
  }

  /** The uplink stops: whatever is waiting was sent, and may still be made. */
  stop(): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, { result: 'no-answer' });
    this.publish = null;
  }

  private settle(id: string, answer: DeskChangeAnswer): boolean {
    const waiting = this.waiting.get(id);
    if (waiting === undefined) return false;
    this.waiting.delete(id);
    this.timers.clearTimeout(waiting.timer);
    waiting.resolve(answer);
    return true;
  }
}

function changeOf(change: DeskChangeRequest['change']): MemberDeskChange['change'] {
  switch (change.kind) {
    case 'link-card':
      return { kind: 'link-card', card: change.card.toString('base64url') };
    case 'set-pin':
      return { kind: 'set-pin', pinHash: change.pinHash };
    case 'remove-pin':
      return { kind: 'remove-pin' };
  }
}
