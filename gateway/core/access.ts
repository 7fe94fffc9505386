// The hot path: tap → normalise → keyed hash → member lookup → decide → relay → event row.
// Everything here is synchronous; nothing waits on the network (architecture: "the hot path").
import type { CardTap } from '../../firmware-bridge/types.js';
import { compilePolicy, decide, isAdultGrant } from '../../policies/index.js';
import { ageBand } from '../../policies/age-band.js';
import { PIN_PATTERN } from '../../policies/pin.js';
import type { BranchMode, Decision, DecisionContext, Member, Policy } from '../../policies/index.js';
import type { Alarms } from './alarms.js';
import type { AccessOutcome, EventBus } from './bus.js';
import { CardIdError, normaliseCardId } from './cards.js';
import type { Clock } from './clock.js';
import { AdultGrants } from './accompanied.js';
import { DeskReader } from './desk-reader.js';
import type { Doors } from './doors.js';
import type { EventLog } from './event-log.js';
import type { Feedback } from './feedback.js';
import type { LmsBlocks } from './lms-blocks.js';
import { PinLockouts, PinVerifier } from './pin-checks.js';
import { isPhoneTokenText } from '../../policies/phone-token.js';
import type { PhoneTokens } from './phone-tokens.js';
import type { OnlineCheck } from '../sip2/online-check.js';
import type { Store } from '../store/index.js';
import type { StorageFaults } from './storage-faults.js';
import type { UnknownCardLimit } from './unknown-card-limit.js';

/**
 * What follows a decision on a card the list knows: the SIP2 second opinion (gateway/sip2/second-opinion.ts), set
 * by the sip2 extension while it runs. Called after the relay has moved; it only queues, and never throws.
 * `cardNumber` is for the library system's query only.
 */
export interface ListedCardFollowUp {
  afterDecision(cardNumber: string, cardHash: Buffer, listed: Member, decision: Decision, lmsBlocked: boolean): void;
}

export type BaseContext = Omit<DecisionContext, 'pin' | 'pinOk' | 'pinFailures' | 'lastPinFailureAt' | 'door'>;

export interface AccessOptions {
  store: Store;
  hashCard: (normalisedId: string) => Buffer;
  /** This branch's pseudonym for a card (site-pseudonym.ts). */
  pseudonym: (cardHash: Buffer) => string;
  policy: () => Policy;
  context: () => BaseContext;
  mode: () => BranchMode;
  /** The branch's doors: a grant opens the door of the reader tapped, an exit reader releases its own. */
  doors: Doors;
  feedback: Feedback;
  events: EventLog;
  bus: EventBus;
  clock: Clock;
  repeatWindowMs: number;
  pinTimeoutMs: number;
  hasKeypad: boolean;
  /** Store failures on the hot path: reported, and the tap decided on what could be read. */
  faults: StorageFaults;
  /** Bursts of unknown cards at a reader, and how often the library system is asked about one. */
  unknownCards: UnknownCardLimit;
  /** Blocks the library system told of after a grant, before the member list did: honoured at the next tap. */
  lmsBlocks: LmsBlocks;
  /** Phone tokens (QR) typed by a 2D scanner: checked offline, then decided like the card they name. */
  phoneTokens?: PhoneTokens | undefined;
  /** For the `pin-lockout` alarm (pin-checks.ts). */
  alarms: Pick<Alarms, 'has' | 'repeat' | 'clear'>;
  /** The readers with `role: desk`: a tap there links a card at the console, never opens a door. */
  deskReaders?: readonly string[] | undefined;
}

/** The member list could not be read: not the same as a card it does not hold. */
const LIST_UNREADABLE = Symbol('list unreadable');

interface PendingPin {
  cardHash: Buffer;
  member: Member;
  person: string;
  role: CardTap['role'];
  /** The reader the card was tapped at: only the keypad beside it answers; its door's adult grants (accompanied minors). */
  readerId: string;
  expiresAt: number;
  /** The card number, only while the library system checks PINs (rules.pinSource sip2): it is what SIP2 asks about. */
  cardNumber?: string | undefined;
}

/** The library system's check of a typed PIN (SIP2 patron password: gateway/sip2/client.ts). */
export interface PatronPasswordCheck {
  checkPatronPassword(cardNumber: string, password: string): Promise<boolean | 'unavailable'>;
}

export const PIN_CHECK_UNAVAILABLE_ALARM = 'pin-check-unavailable';

export class AccessControl {
  /** Last tap time per card (by hash), to fold a card held or re-tapped into one tap. */
  private readonly recentTaps = new Map<string, number>();
  /** Per reader, the last tap there that asked for a PIN: a PIN typed at one door never answers a tap at another. */
  private readonly pendingPins = new Map<string, PendingPin>();
  /** SIP2 online check for cards the member list does not know: set by the sip2 extension while it runs. */
  private online: OnlineCheck | undefined;
  private followUp: ListedCardFollowUp | undefined;
  private passwordCheck: PatronPasswordCheck | undefined;
  /** For rule accompaniedMinors: the last adult let in at each entry reader. */
  private readonly adultGrants = new AdultGrants();
  private readonly pinVerifier = new PinVerifier();
  /** PINs being checked on the thread pool, for pinChecksDone. */
  private readonly pinChecks = new Set<Promise<unknown>>();
  readonly pinLockouts: PinLockouts;
  /** The desk readers: their taps are captured for the console, never decided. */
  readonly desk: DeskReader;

  constructor(private readonly options: AccessOptions) {
    this.pinLockouts = new PinLockouts({ alarms: options.alarms, clock: options.clock });
    this.desk = new DeskReader(options.deskReaders ?? [], options.clock);
  }

  setOnlineCheck(online: OnlineCheck | undefined): void {
    this.online = online;
  }

  setListedCardFollowUp(followUp: ListedCardFollowUp | undefined): void {
    this.followUp = followUp;
  }

  /** Set by the sip2 extension while it runs; without it a policy with pinSource sip2 finds the check unavailable. */
  setPatronPasswordCheck(check: PatronPasswordCheck | undefined): void {
    this.passwordCheck = check;
  }

  handleTap(tap: CardTap): AccessOutcome | undefined {
    const { options } = this;
    if (this.desk.isDesk(tap.readerId)) return this.handleDeskTap(tap);
    if (isPhoneTokenText(tap.uid)) return this.handlePhoneToken(tap);
    const cardId = this.readCardId(tap);
    if (cardId === undefined) return undefined;
    const cardHash = options.hashCard(cardId);
    const nowMs = options.clock.now().getTime();
    if (this.isRepeat(cardHash, tap.readerId, nowMs)) return undefined;

    if (tap.role === 'exit') return this.handleExitTap(tap, cardHash);

    // A list that cannot be read is a list that knows nobody: the card is refused as unknown (staffed hours keep
    // the door free, and exits never need the list), and the fault is the storage alarm.
    const listed = options.faults.guard<Member | null | typeof LIST_UNREADABLE>('looking up a card', () => options.store.members.find(cardHash) ?? null, LIST_UNREADABLE);
    if (listed !== null && listed !== LIST_UNREADABLE) return this.decideListed(tap, cardId, cardHash, listed);
    const online = this.online;
    // Only a card the list does not know goes to the LMS; known cards never leave the synchronous path.
    const remembered = online?.cached(cardHash);
    if (remembered) return this.decideTap(tap, cardHash, remembered);
    // An unreadable list makes every card unknown: that is the storage alarm, not someone trying cards.
    if (listed === null && options.unknownCards.unknownCard(tap.readerId)) return this.decideTap(tap, cardHash, undefined, true);
    if (online !== undefined && remembered === undefined && options.unknownCards.mayLookUp()) {
      // Decided when the LMS answers (or as unknown-card at its deadline); other taps go on meanwhile.
      online.whenChecked(cardId, cardHash, (found) => this.decideTap(tap, cardHash, found));
      return undefined;
    }
    return this.decideTap(tap, cardHash, undefined);
  }

  /** A tap at the desk reader: hashed and handed to the desk (a link staff armed, or the lookup); no door, no event. */
  private handleDeskTap(tap: CardTap): undefined {
    // A phone token names no card to link.
    if (isPhoneTokenText(tap.uid)) return undefined;
    const cardId = this.readCardId(tap);
    if (cardId !== undefined) this.desk.tapped(tap.readerId, this.options.hashCard(cardId));
    return undefined;
  }

  /** The tap's card number, or undefined when it cannot be read: a read error, not a refusal, recorded as such. */
  private readCardId(tap: CardTap): string | undefined {
    try {
      return normaliseCardId(tap.uid);
    } catch (error) {
      // The message never contains the card data.
      this.options.events.record('reader', { reader: tap.role, readerId: tap.readerId, error: error instanceof CardIdError ? error.message : 'unreadable card' });
      return undefined;
    }
  }

  /**
   * A phone token: refused with its reason when it is not central's, expired, for another branch or used here
   * already; otherwise the card hash it names is decided as a tap of that card (no SIP2: there is no card number).
   */
  private handlePhoneToken(tap: CardTap): AccessOutcome | undefined {
    const { options } = this;
    const checked = options.phoneTokens?.check(tap.uid) ?? { ok: false as const, reason: 'bad-token' as const, detail: 'phone tokens are not checked here' };
    if (!checked.ok) {
      // Nothing of the token is logged: only why it was refused.
      options.feedback.refused();
      const decision: Decision = { allow: false, reason: checked.reason, mode: options.mode() };
      const door = options.doors.forReader(tap.readerId);
      options.events.record('access', { decision: 'refused', reason: checked.reason, mode: decision.mode, reader: tap.role, person: null, ...door.at }, { reason: checked.reason });
      const outcome: AccessOutcome = { decision, role: tap.role, door: door.id, person: null, seenAt: tap.seenAt, decidedAt: process.hrtime.bigint(), relayAt: null };
      options.bus.emit('access', outcome);
      return outcome;
    }
    const { cardHash, payload } = checked;
    if (this.isRepeat(cardHash, tap.readerId, options.clock.now().getTime())) return undefined;
    if (tap.role === 'exit') return this.handleExitTap(tap, cardHash);
    const listed = options.faults.guard<Member | null>('looking up a phone token', () => options.store.members.find(cardHash) ?? null, null);
    const outcome = listed === null ? this.decideTap(tap, cardHash, undefined) : this.decideListed(tap, undefined, cardHash, listed);
    if (outcome.decision.allow || outcome.decision.reason === 'pin-required') options.phoneTokens?.markUsed(payload);
    return outcome;
  }

  /**
   * A card the list knows, with any block the library system has told of since; then the follow-up, if any (only
   * with a card number: a phone token has none for the library system to be asked about).
   */
  private decideListed(tap: CardTap, cardId: string | undefined, cardHash: Buffer, listed: Member): AccessOutcome {
    const lmsBlocked = this.options.lmsBlocks.blocks(cardHash, listed);
    const outcome = this.decideTap(tap, cardHash, lmsBlocked ? { ...listed, blocked: true, blockedUntil: null } : listed);
    if (cardId !== undefined) this.followUp?.afterDecision(cardId, cardHash, listed, outcome.decision, lmsBlocked);
    return outcome;
  }

  /** `inBurst`: the card is one of a burst of unknown cards at its reader, and is refused as such. */
  private decideTap(tap: CardTap, cardHash: Buffer, member: Member | undefined, inBurst = false): AccessOutcome {
    const { options } = this;
    const policy = options.policy();
    const context = this.contextAt(tap.readerId);
    if (member !== undefined && policy.rules.pin !== 'never') this.addPinFailures(context, cardHash);
    let decision = decide(policy, member, context);
    // Emergency and lockdown keep their own reason: they say more about the door than the burst does.
    if (inBurst && !decision.allow && decision.reason === 'unknown-card') decision = { ...decision, reason: 'unknown-card-burst' };
    return this.act(decision, tap, cardHash, member, process.hrtime.bigint());
  }

  /**
   * A PIN typed on the keypad, answering the last tap that asked for one. Decided at once when no check is needed
   * (nothing asked, the prompt timed out, a locked card); otherwise scrypt runs on the thread pool and the PIN is
   * decided when it answers, the door's loop deciding other taps meanwhile. The promise is for tests and the bench.
   */
  handlePin(digits: string, readerId: string): Promise<AccessOutcome | undefined> {
    const pending = this.pendingPins.get(readerId);
    this.pendingPins.delete(readerId);
    const { options } = this;
    if (pending === undefined || options.clock.now().getTime() > pending.expiresAt) {
      options.feedback.refused();
      return Promise.resolve(undefined);
    }
    const check = this.answerPin(pending, digits);
    this.pinChecks.add(check);
    void check.finally(() => this.pinChecks.delete(check)).catch(() => undefined);
    return check;
  }

  /** Resolves once every PIN typed so far is decided (tests and the bench: the keypad's event has no promise). */
  async pinChecksDone(): Promise<void> {
    while (this.pinChecks.size > 0) await Promise.allSettled([...this.pinChecks]);
  }

  private async answerPin(pending: PendingPin, digits: string): Promise<AccessOutcome | undefined> {
    // Decided first as if the PIN were wrong: anything but pin-wrong (a locked card, no PIN set, no PIN typed, a
    // lockdown) is the answer without hashing; only a PIN that could open the door is worth a scrypt.
    const early = this.decidePin(pending, digits, false);
    const fromLms = this.options.policy().rules.pinSource === 'sip2';
    if (early.decision.allow || early.decision.reason !== 'pin-wrong' || (!fromLms && (!PIN_PATTERN.test(digits) || pending.member.pinHash === null))) {
      return this.actOnPin(early, pending);
    }
    const pinHash = pending.member.pinHash;
    const verdict = fromLms || pinHash === null ? await this.askLms(pending, digits) : await this.pinVerifier.verify(pinHash, digits);
    if (verdict === 'unavailable') return this.actOnPin(this.lmsUnavailable(pending, digits), pending);
    if (verdict === 'busy') {
      // Not checked, so not counted as wrong: the member is asked to tap again.
      this.options.feedback.refused();
      return undefined;
    }
    // Decided again with the branch as it is now: a fire alarm or a lockdown may have come during the check.
    return this.actOnPin(this.decidePin(pending, digits, verdict), pending);
  }

  /** The PIN as the library system judges it; never stored, never logged (the SIP2 client logs no field values). */
  private async askLms(pending: PendingPin, digits: string): Promise<boolean | 'unavailable'> {
    const check = this.passwordCheck;
    if (check === undefined || pending.cardNumber === undefined) return 'unavailable';
    const verdict = await check.checkPatronPassword(pending.cardNumber, digits);
    if (verdict !== 'unavailable') this.options.alarms.clear(PIN_CHECK_UNAVAILABLE_ALARM, 'the library system checks PINs again');
    return verdict;
  }

  /**
   * The library system could not judge the PIN: rules.pinOffline says. `card-only` lets the card in on the rules
   * alone, each such entry raising (or repeating) the alarm; `refuse` (the default) refuses a card the rules would
   * let in as pin-check-unavailable, without counting a wrong PIN.
   */
  private lmsUnavailable(pending: PendingPin, digits: string): { decision: Decision; at: Date } {
    const onCard = this.decidePin(pending, digits, true);
    if (!onCard.decision.allow) return onCard;
    if (this.options.policy().rules.pinOffline === 'card-only') {
      this.options.alarms.repeat(PIN_CHECK_UNAVAILABLE_ALARM, `the library system could not check a PIN: card ${pending.person} let in on the card alone`);
      return onCard;
    }
    return { decision: { allow: false, reason: 'pin-check-unavailable', mode: onCard.decision.mode }, at: onCard.at };
  }

  private decidePin(pending: PendingPin, digits: string, pinOk: boolean): { decision: Decision; at: Date } {
    const context: DecisionContext = { ...this.contextAt(pending.readerId), pin: digits, pinOk };
    this.addPinFailures(context, pending.cardHash);
    return { decision: decide(this.options.policy(), pending.member, context), at: context.at };
  }

  /** The branch now, at the door of this reader, with the time since an adult was let in there (accompaniedMinors). */
  private contextAt(readerId: string): DecisionContext {
    const context: DecisionContext = { ...this.options.context(), door: this.options.doors.forReader(readerId).id };
    context.adultGrantedMsAgo = this.adultGrants.sinceAdult(readerId, context.at.getTime());
    return context;
  }

  private actOnPin({ decision, at }: { decision: Decision; at: Date }, pending: PendingPin): AccessOutcome {
    const { options } = this;
    const tap: CardTap = { uid: '', readerId: pending.readerId, role: pending.role, seenAt: process.hrtime.bigint() };
    if (!decision.allow && decision.reason === 'pin-wrong') {
      options.faults.guard('counting a wrong PIN', () => options.store.pins.recordFailure(pending.cardHash, at), undefined);
      // A retry time on a wrong PIN means this one locked the card (decide.ts checkPin).
      if (decision.retryAfter !== undefined) this.pinLockouts.lockedOut(pending.person, tap.readerId, decision.retryAfter);
    }
    if (decision.allow) options.faults.guard('resetting the wrong-PIN count', () => options.store.pins.reset(pending.cardHash), undefined);
    return this.act(decision, tap, pending.cardHash, pending.member, process.hrtime.bigint(), pending.person);
  }

  /** `person`: the card's pseudonym, when the tap that asked for a PIN has it already. */
  private act(decision: Decision, tap: CardTap, cardHash: Buffer, member: Member | undefined, decidedAt: bigint, person = this.options.pseudonym(cardHash)): AccessOutcome {
    const { options } = this;
    // The reader's door, found once: it takes the grant, and names itself on the event and the outcome.
    const door = options.doors.forReader(tap.readerId);
    let relayAt: bigint | null = null;
    if (decision.allow) {
      relayAt = door.grant(decision.reason);
      options.feedback.granted();
      const now = options.clock.now();
      if (isAdultGrant(options.policy(), member, decision, now)) this.adultGrants.adultGranted(tap.readerId, now.getTime());
    } else if (decision.reason === 'pin-required' && options.hasKeypad && member !== undefined) {
      this.pendingPins.set(tap.readerId, {
        cardHash,
        member,
        person,
        role: tap.role,
        readerId: tap.readerId,
        expiresAt: options.clock.now().getTime() + options.pinTimeoutMs,
        cardNumber: options.policy().rules.pinSource === 'sip2' ? cardNumberOf(tap.uid) : undefined,
      });
      options.feedback.promptPin(options.pinTimeoutMs);
    } else {
      options.feedback.refused();
    }
    options.events.record(
      'access',
      { decision: decision.allow ? 'granted' : 'refused', reason: decision.reason, mode: decision.mode, reader: tap.role, person, ...this.ageBandOf(member), ...door.at },
      { reason: decision.reason, cardHash },
    );
    const outcome: AccessOutcome = { decision, role: tap.role, door: door.id, person, seenAt: tap.seenAt, decidedAt, relayAt };
    options.bus.emit('access', outcome);
    return outcome;
  }

  /** The member's age band on the branch's local date, for the figures; nothing for a card the list does not know. */
  private ageBandOf(member: Member | undefined): { ageBand?: ReturnType<typeof ageBand> } {
    if (member === undefined) return {};
    const policy = compilePolicy(this.options.policy());
    return { ageBand: ageBand(member, policy.localDate(this.options.clock.now().getTime())) };
  }

  /** An exit reader: leaving is never refused; the tap releases the door like the exit button. */
  private handleExitTap(tap: CardTap, cardHash: Buffer): AccessOutcome {
    const { options } = this;
    const door = options.doors.forReader(tap.readerId);
    door.exitRequest();
    const relayAt = process.hrtime.bigint();
    const decision: Decision = { allow: true, reason: 'exit', mode: options.mode() };
    const person = options.pseudonym(cardHash);
    options.events.record('access', { decision: 'granted', reason: 'exit', mode: decision.mode, reader: 'exit', person, ...door.at }, { reason: 'exit', cardHash });
    const outcome: AccessOutcome = { decision, role: tap.role, door: door.id, person, seenAt: tap.seenAt, decidedAt: relayAt, relayAt };
    options.bus.emit('access', outcome);
    return outcome;
  }

  private addPinFailures(context: DecisionContext, cardHash: Buffer): void {
    const failures = this.options.faults.guard('reading the wrong-PIN count', () => this.options.store.pins.get(cardHash), undefined);
    if (failures === undefined) return;
    context.pinFailures = failures.count;
    context.lastPinFailureAt = failures.lastAt;
  }

  /**
   * The same card at the same reader again within the window: one tap read twice. At another reader it is a new tap
   * (refused at the main door, the member walks to the meeting room's reader).
   */
  private isRepeat(cardHash: Buffer, readerId: string, nowMs: number): boolean {
    const window = this.options.repeatWindowMs;
    if (window <= 0) return false;
    const key = `${readerId}\u0000${cardHash.toString('base64')}`;
    const last = this.recentTaps.get(key);
    this.recentTaps.set(key, nowMs);
    if (this.recentTaps.size > 256) this.prune(nowMs);
    return last !== undefined && nowMs - last < window;
  }

  private prune(nowMs: number): void {
    for (const [key, at] of this.recentTaps) {
      if (nowMs - at >= this.options.repeatWindowMs) this.recentTaps.delete(key);
    }
  }
}

/** The card number for the library system; undefined for what is not a card (a phone token: SIP2 cannot check it). */
function cardNumberOf(uid: string): string | undefined {
  try {
    return normaliseCardId(uid);
  } catch {
    return undefined;
  }
}
