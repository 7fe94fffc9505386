// PINs typed at the keypad are verified with scrypt on libuv's thread pool (policies/pin.ts `verifyPinAsync`), so a
// tap at another reader is decided while a PIN is being checked. The checks share a few slots (kit HashSlots): a
// keypad hammered with guesses queues behind them instead of taking every thread the gateway's SQLite and file
// writes also run on; past the queue a PIN is not checked at all (and not counted as wrong).
//
// Wrong PINs: after `pinMaxAttempts` in a row a card is locked out (policies/decide.ts); that raises the
// `pin-lockout` alarm (EN 60839-11-1 asks for one) naming the card's pseudonym and the reader, and the alarm
// clears when no card's lockout stands any more.
import { HashSlots, HashingBusyError } from '../../kit/auth/hash-slots.js';
import { verifyPinAsync } from '../../policies/pin.js';
import type { Alarms } from './alarms.js';
import type { Clock, Timer } from './clock.js';
import type { AlarmName } from './model.js';

export const PIN_LOCKOUT_ALARM: AlarmName = 'pin-lockout';

/** Checks at once (each a thread-pool thread for a few ms) and waiting behind them, for the whole gateway. */
const PIN_SLOTS = { concurrent: 2, queued: 16 };

export class PinVerifier {
  private readonly slots = new HashSlots(PIN_SLOTS);

  /** True or false, or `busy` when every slot and the queue are taken (the PIN was not checked). */
  async verify(pinHash: string, pin: string): Promise<boolean | 'busy'> {
    try {
      return await this.slots.run(() => verifyPinAsync(pinHash, pin));
    } catch (error) {
      if (error instanceof HashingBusyError) return 'busy';
      throw error;
    }
  }
}

export class PinLockouts {
  /** Locked cards by pseudonym, each with the timer that ends its lockout. */
  private readonly locked = new Map<string, Timer>();

  constructor(private readonly deps: { alarms: Pick<Alarms, 'has' | 'repeat' | 'clear'>; clock: Clock }) {}

  /**
   * The alarm came back raised from before a restart, when the timers behind it were lost (the wrong-PIN counts are
   * in the store, so the lockouts themselves stand): it clears after one lockout period, as the last one would have.
   */
  resume(lockoutMs: number): void {
    if (!this.deps.alarms.has(PIN_LOCKOUT_ALARM) || this.locked.size > 0) return;
    this.locked.set('(before the restart)', this.deps.clock.setTimeout(() => this.ended('(before the restart)'), lockoutMs));
  }

  /** A card just locked out until `until`: the alarm (again, as history, if another card is locked already). */
  lockedOut(person: string, reader: string, until: Date): void {
    const { alarms, clock } = this.deps;
    clock.clearTimeout(this.locked.get(person));
    const ms = Math.max(0, until.getTime() - clock.now().getTime());
    this.locked.set(
      person,
      clock.setTimeout(() => this.ended(person), ms),
    );
    alarms.repeat(PIN_LOCKOUT_ALARM, `card ${person} locked out at reader ${reader} after wrong PINs, until ${until.toISOString()}`);
  }

  private ended(person: string): void {
    this.locked.delete(person);
    if (this.locked.size === 0) this.deps.alarms.clear(PIN_LOCKOUT_ALARM, 'no card is locked out any more');
  }
}
