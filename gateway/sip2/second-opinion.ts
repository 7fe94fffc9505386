// The SIP2 second opinion (policy rule `sip2SecondOpinion`): after the door has let in a member the list knows, ask
// the library system about that card in the background. The list is as old as its last version; a block made in
// the library system today is not in it. When the library system says blocked, the card is blocked here until the
// list catches up (gateway/core/lms-blocks.ts), refused from the next tap, and the `lms-block-not-in-list` alarm
// names the card's pseudonym. "No such patron" is only told (the same alarm), never a block: a wrong institution id
// or mapping answers every card so, and must not lock a branch's members out in hours when nobody is there to see. The tap it follows has already been decided and the
// relay moved: a slow or absent library system changes nothing for it.
//
// Bounded: one question at a time on the link the online check uses, a token bucket, a queue with a cap, and each
// card asked about at most once in `askAgainMinutes`. The card number is held only while its question waits; what
// is logged or kept is the card hash and its pseudonym.
import { TokenBucket } from '../../kit/token-bucket.js';
import type { Decision, Member } from '../../policies/types.js';
import type { ListedCardFollowUp } from '../core/access.js';
import type { Alarms } from '../core/alarms.js';
import type { Clock } from '../core/clock.js';
import { LMS_BLOCK_ALARM } from '../core/lms-blocks.js';
import type { LmsBlocks } from '../core/lms-blocks.js';
import type { LookupResult, Sip2Logger } from './client.js';
import type { Sip2Config } from './config.js';
import type { PatronLookup } from './online-check.js';

/**
 * Decisions worth a second opinion: the member got in (or will, with a PIN). Not staff: staff cards are often not
 * patrons of the library system, and staff are who answers the alarms.
 */
const FOLLOWED_UP = new Set<Decision['reason']>(['member', 'booking', 'pin-required']);
/** Cards remembered as recently asked about, at most; the oldest are forgotten first. */
const MAX_REMEMBERED = 10_000;

export interface SecondOpinionOptions {
  lookup: Pick<PatronLookup, 'lookupPatron'>;
  blocks: Pick<LmsBlocks, 'add' | 'lift' | 'has'>;
  alarms: Pick<Alarms, 'repeat'>;
  /** The policy's rule, read at each decision: a new policy turns it on or off at once. */
  enabled: () => boolean;
  clock: Pick<Clock, 'now'>;
  logger: Sip2Logger;
  pseudonym: (cardHash: Buffer) => string;
  config: Sip2Config['secondOpinion'];
  /** How the queue is run after the tap's own turn (setImmediate in the service). */
  defer?: (run: () => void) => void;
}

interface Job {
  cardNumber: string;
  cardHash: Buffer;
  /** The list's row at the tap: the block is made against it. */
  listed: Member;
}

type Verdict = 'blocked' | 'not-found' | 'clear';

export class SecondOpinion implements ListedCardFollowUp {
  private readonly askedAt = new Map<string, number>();
  private readonly queue: Job[] = [];
  private readonly bucket: TokenBucket;
  private running = false;
  private stopped = false;
  private skipped = 0;

  constructor(private readonly options: SecondOpinionOptions) {
    this.bucket = new TokenBucket({ perMinute: options.config.perMinute, burst: options.config.burst }, () => options.clock.now().getTime());
  }

  afterDecision(cardNumber: string, cardHash: Buffer, listed: Member, decision: Decision, lmsBlocked: boolean): void {
    try {
      // A card refused for a block of ours is asked about again too: the library system may have lifted it.
      if (this.stopped || !(lmsBlocked || FOLLOWED_UP.has(decision.reason)) || !this.options.enabled()) return;
      this.enqueue({ cardNumber, cardHash, listed });
    } catch (error) {
      // Called from the door's turn: whatever goes wrong here stays here.
      this.options.logger.warn({ err: { message: (error as Error).message } }, 'SIP2 second opinion: a grant could not be followed up');
    }
  }

  /** Stops at once: nothing queued is asked about, and the card numbers waiting are let go. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private enqueue(job: Job): void {
    const now = this.options.clock.now().getTime();
    const key = job.cardHash.toString('base64');
    const last = this.askedAt.get(key);
    if (last !== undefined && now - last < this.options.config.askAgainMinutes * 60_000) return;
    if (this.queue.length >= this.options.config.queue || !this.bucket.take()) {
      if (this.skipped++ === 0) this.options.logger.warn({ sip2: { secondOpinion: 'busy' } }, 'SIP2 second opinion: too many grants to follow up; the list decides for the rest');
      return;
    }
    if (this.skipped > 0) {
      this.options.logger.info({ sip2: { secondOpinion: 'resumed', skipped: this.skipped } }, `SIP2 second opinion: following grants up again (${this.skipped} not followed up)`);
      this.skipped = 0;
    }
    this.askedAt.delete(key);
    this.askedAt.set(key, now);
    if (this.askedAt.size > MAX_REMEMBERED) this.askedAt.delete(this.askedAt.keys().next().value!);
    this.queue.push(job);
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.running) return;
    this.running = true;
    (this.options.defer ?? setImmediate)(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      for (let job = this.queue.shift(); job !== undefined && !this.stopped; job = this.queue.shift()) {
        const result = await this.options.lookup.lookupPatron(job.cardNumber).catch((): LookupResult => 'unavailable');
        if (!this.stopped) this.judge(job.cardHash, job.listed, result);
      }
    } catch (error) {
      this.options.logger.warn({ err: { message: (error as Error).message } }, 'SIP2 second opinion: an answer could not be acted on');
    } finally {
      this.running = false;
      if (this.queue.length > 0 && !this.stopped) this.scheduleDrain();
    }
  }

  private judge(cardHash: Buffer, listed: Member, result: LookupResult): void {
    const { blocks, logger } = this.options;
    const person = this.options.pseudonym(cardHash);
    if (result === 'unavailable') {
      // The link's own trouble is the client's log and the sip2-failed alarm; the list decides, as without SIP2.
      logger.debug({ person, sip2: { secondOpinion: 'unavailable' } }, 'SIP2 second opinion: no answer; the list decides');
      return;
    }
    const verdict: Verdict = result === undefined ? 'not-found' : result.blocked ? 'blocked' : 'clear';
    if (verdict === 'clear') {
      if (blocks.lift(cardHash)) logger.info({ person, sip2: { secondOpinion: 'lifted' } }, 'SIP2 second opinion: the library system no longer blocks the card; block lifted');
      return;
    }
    if (verdict === 'not-found') {
      logger.warn({ person, sip2: { secondOpinion: verdict } }, 'SIP2 second opinion: the library system does not know a card the list lets in; not blocked');
      this.options.alarms.repeat(LMS_BLOCK_ALARM, `${person}: the library system does not know the card, the member list lets it in; not blocked (check the card or the SIP2 mapping)`);
      return;
    }
    if (blocks.has(cardHash)) return;
    const until = new Date(this.options.clock.now().getTime() + this.options.config.blockHours * 3_600_000);
    blocks.add(cardHash, listed, until);
    logger.warn({ person, sip2: { secondOpinion: verdict } }, 'SIP2 second opinion: the library system blocks the patron; refused from the next tap');
    this.options.alarms.repeat(
      LMS_BLOCK_ALARM,
      `${person}: the library system blocks the patron, the member list lets the card in; refused from the next tap until a member list changes it or ${until.toISOString()}`,
    );
  }
}
