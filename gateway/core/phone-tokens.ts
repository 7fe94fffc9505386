// Phone tokens at the door (docs/phone-credential.md): central's signature, expiry, site and replay, checked offline
// with the keys the branch holds from install (mqtt.centralKeys). What the token names is then decided from the member
// list like a card (access.ts), so a member blocked in the list is refused with a valid token too.
import { checkPhoneToken, type PhoneTokenPayload } from '../../policies/phone-token.js';
import type { RefusalReason } from '../../policies/index.js';
import type { CentralPublicKey } from '../../policies/contract/signing.js';
import type { Clock } from './clock.js';

/** Tokens used and not yet expired, remembered at most: past it the oldest are forgotten (and could be used again). */
const MAX_REMEMBERED = 20_000;

export type TokenCheck = { ok: true; payload: PhoneTokenPayload; cardHash: Buffer } | { ok: false; reason: RefusalReason; detail: string };

export interface PhoneTokensOptions {
  /** Central's public keys; empty when the branch has none (no mqtt section): every token is refused. */
  keys: readonly CentralPublicKey[];
  site: string;
  clock: Pick<Clock, 'now'>;
  /** An untrusted clock cannot tell an expired token: every token is refused while it is so. */
  clockTrusted: () => boolean;
}

export class PhoneTokens {
  /** jti → its expiry (ms): a token used here is refused until it expires anyway. In memory: a restart forgets. */
  private readonly used = new Map<string, number>();

  constructor(private readonly options: PhoneTokensOptions) {}

  check(text: string): TokenCheck {
    const { options } = this;
    if (options.keys.length === 0) return { ok: false, reason: 'bad-token', detail: 'this branch holds no central key (mqtt.centralKeys)' };
    // A clock set back would take expired tokens; a token's expiry is all that bounds it besides the member list.
    if (!options.clockTrusted()) return { ok: false, reason: 'clock-untrusted', detail: 'the clock is not trusted: phone tokens are refused' };
    const now = options.clock.now();
    const checked = checkPhoneToken(text, { keys: options.keys, site: options.site, now });
    if (!checked.ok) return checked;
    const usedUntil = this.used.get(checked.payload.jti);
    if (usedUntil !== undefined && usedUntil > now.getTime()) return { ok: false, reason: 'token-replayed', detail: 'used at this branch before' };
    return checked;
  }

  /** The token let someone in (or asked for their PIN): refused from now on at this branch. */
  markUsed(payload: PhoneTokenPayload): void {
    const nowMs = this.options.clock.now().getTime();
    if (this.used.size >= MAX_REMEMBERED) this.forget(nowMs);
    this.used.set(payload.jti, payload.exp * 1000);
  }

  private forget(nowMs: number): void {
    for (const [jti, until] of this.used) if (until <= nowMs) this.used.delete(jti);
    // Still full of live tokens: the oldest used go first (a Map keeps insertion order).
    for (const jti of this.used.keys()) {
      if (this.used.size < MAX_REMEMBERED) break;
      this.used.delete(jti);
    }
  }
}
